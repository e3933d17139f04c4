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
One page per command in [docs/](docs/); the architecture in `../shared/DESIGN.md`, and where the
code departs from it in [docs/design-notes.md](docs/design-notes.md). Exit codes
everywhere: 0 ok, 1 failure, 2 usage, 3 a policy said no (CI gate, vulnerabilities over the
threshold, a missing signature, an unpinned reference).

## Layout of the source
`include/lading/` public headers, `lib/<area>/` the library (core, oci, store, layer, transport,
analyze, registry, scan, sign, policy, build, disk), `src/cmd_<name>.c` one file per command,
`tests/unit/` cmocka tests, `tests/e2e/` shell tests on `tests/e2e/lib.sh` against real peers,
`tests/fuzz/` libFuzzer targets, `bench/` comparisons with the peer tools.

## Benchmarks
Each script compares lading with a named peer in the same run (median of `RUNS`, default 3-5) and
prints `name: ours X, peer Y, ratio Z`: `bench/analyze.sh` (vs `igzip -dc`), `bench/registry.sh`
(vs docker-registry), `bench/copy.sh` (vs skopeo), `bench/scan.sh` (vs decompression),
`bench/build.sh` (vs buildah), `bench/df.sh`. They need root and build their data once under
`$LADING_TEST_CACHE`. Timings never decide a test.
TXT
} >README.md.new
mv README.md.new README.md
