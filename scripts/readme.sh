#!/bin/sh
# Rebuilds README.md: the fixed opening (the two commands, what lading is) followed by the tour,
# one section per area from docs/readme/<area>.md, in the order a new user meets them.
set -eu
cd "$(dirname "$0")/.."
{
  sed '/^## Tour$/q' README.md
  echo
  for area in foundation analyze serve client sign scan build disk; do
    f=docs/readme/$area.md
    [ -f "$f" ] || continue
    cat "$f"
    echo
  done
  cat <<'TXT'
## Documentation
One page per command in [docs/](docs/); the architecture in `../shared/DESIGN.md`. Exit codes
everywhere: 0 ok, 1 failure, 2 usage, 3 a policy said no (CI gate, vulnerabilities over the
threshold, a missing signature, an unpinned reference).

## Layout of the source
`include/lading/` public headers, `lib/<area>/` the library (core, oci, store, layer, transport,
analyze, registry, scan, sign, policy, build, disk), `src/cmd_<name>.c` one file per command,
`tests/unit/` cmocka tests, `tests/e2e/` shell tests on `tests/e2e/lib.sh` against real peers,
`tests/fuzz/` libFuzzer targets, `bench/` comparisons with the peer tools.
TXT
} >README.md.new
mv README.md.new README.md
