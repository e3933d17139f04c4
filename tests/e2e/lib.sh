# tests/e2e/lib.sh: the small test library every end-to-end test sources (git's t/test-lib.sh
# in spirit). A test file is a shell script named tNNNN-what.sh:
#
#   . "$(dirname "$0")/lib.sh"
#   test_expect_success 'analyze reports dive efficiency' '
#       lading analyze --format json docker-archive:$FIXTURES/dive/test-docker-image.tar >out &&
#       jq -e ".efficiency == 0.9844212134184309" out
#   '
#   test_done
#
# Each test runs in its own subshell inside $TRASH (a fresh temp dir, removed at the end unless
# LADING_TEST_KEEP=1) with LADING_ROOT=$TRASH/store. Output: "ok N - title" / "not ok N - title"
# lines, then "# passed P failed F skipped S". The exit status is 1 if anything failed.
#
# Environment:
#   LADING        the binary under test (default: build/lading)
#   FIXTURES      tests/fixtures
#   LADING_TEST_CACHE  where slow-to-make test data (a debootstrap rootfs) is cached, outside
#                 the tree (default /var/tmp/lading-test-cache)
#   LADING_TEST_VERBOSE=1  show each test's output
set -u
TEST_NAME=$(basename "$0" .sh)
TEST_DIR=$(cd "$(dirname "$0")" && pwd)
SRC_ROOT=$(cd "$TEST_DIR/../.." && pwd)
: "${LADING:=$SRC_ROOT/build/lading}"
case "$LADING" in /*) ;; *) LADING="$SRC_ROOT/$LADING" ;; esac
export LADING
export FIXTURES="$SRC_ROOT/tests/fixtures"
export LADING_TEST_CACHE="${LADING_TEST_CACHE:-/var/tmp/lading-test-cache}"
TRASH=$(mktemp -d "${TMPDIR:-/tmp}/lading-$TEST_NAME.XXXXXX")
export LADING_ROOT="$TRASH/store"
export HOME="$TRASH/home"
mkdir -p "$HOME"
test_count=0 test_passed=0 test_failed=0 test_skipped=0

lading() { "$LADING" "$@"; }

# Registers a command to run when the test file ends (servers to stop), last registered first.
# Kept in a file, not a variable: test bodies run in subshells, and a server a body starts
# must still be stopped.
test_at_end() { printf '%s\n' "$1" >>"$TRASH/.at_end"; }

_run_cleanup() {
  [ -f "$TRASH/.at_end" ] && { eval "$(tac "$TRASH/.at_end")"; } >/dev/null 2>&1 || true
  if [ "${LADING_TEST_KEEP:-0}" = 1 ]; then echo "# kept $TRASH"; else rm -rf "$TRASH"; fi
}
trap _run_cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "# $*"; }

_run_test() {
  ( cd "$TRASH" && eval "$1" ) >"$TRASH/.out" 2>&1
}

test_expect_success() {
  test_count=$((test_count + 1))
  if [ -n "${_skip_reason:-}" ]; then
    echo "ok $test_count - $1 # SKIP $_skip_reason"; test_skipped=$((test_skipped + 1)); return 0
  fi
  if _run_test "$2"; then
    echo "ok $test_count - $1"; test_passed=$((test_passed + 1))
    [ "${LADING_TEST_VERBOSE:-0}" = 1 ] && sed 's/^/#   /' "$TRASH/.out"
  else
    echo "not ok $test_count - $1"; test_failed=$((test_failed + 1))
    tail -n 40 "$TRASH/.out" | sed 's/^/#   /'
  fi
  return 0
}

# The command must fail (exit != 0) — use in a test body: test_must_fail lading ...
test_must_fail() {
  "$@" && { echo "expected failure: $*" >&2; return 1; }
  return 0
}
# Runs a command and checks its exit code: expect_exit 3 lading analyze --ci ...
expect_exit() {
  want=$1; shift
  "$@"; got=$?
  [ "$got" = "$want" ] || { echo "expected exit $want, got $got: $*" >&2; return 1; }
}

# Skip the rest of this file's tests, saying why.
test_skip_rest() { _skip_reason="$1"; }
require_root() { [ "$(id -u)" = 0 ] || test_skip_rest "needs root"; }
require_cmd() {
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || { test_skip_rest "missing $c"; return; }; done
}

test_done() {
  echo "# $TEST_NAME: passed $test_passed failed $test_failed skipped $test_skipped"
  [ "$test_failed" = 0 ]
  exit $?
}

# A free TCP port on 127.0.0.1.
# (Pure bash: python3 may be a slow pyenv shim on developer machines.)
# A TCP port for a test server: below the kernel's ephemeral range (ip_local_port_range, 32768+
# by default), so no outgoing connection of a busy machine takes it before the server binds, and
# in no socket state at all in /proc/net/tcp{,6} (a listener, a client, TIME_WAIT).
_eph_lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "${_eph_lo:-0}" -gt 12000 ] 2>/dev/null || _eph_lo=32768
free_port() {
  while :; do
    _p=$(( 10000 + (RANDOM * 32768 + RANDOM) % (_eph_lo - 10000) ))
    cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '{print $2}' |
      grep -q "$(printf ':%04X$' "$_p")" && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$_p") 2>/dev/null || { echo "$_p"; return 0; }
  done
}

# Waits until a URL answers (any HTTP status), up to $2 seconds (default 20).
wait_http() {
  i=0; n=$(( ${2:-20} * 10 ))
  while [ $i -lt $n ]; do
    curl -ks -o /dev/null "$1" && return 0
    sleep 0.1; i=$((i + 1))
  done
  echo "timeout waiting for $1" >&2; return 1
}

# Starts Debian's reference registry (docker-registry) on 127.0.0.1:PORT with storage under
# DIR. Sets REGISTRY_PID. Extra YAML for the http/auth sections may be passed as $3.
start_docker_registry() {
  _port=$1 _dir=$2
  mkdir -p "$_dir/data"
  cat >"$_dir/config.yml" <<YML
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $_dir/data}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$_port
${3:-}
YML
  env -u AWS_CA_BUNDLE docker-registry serve "$_dir/config.yml" >"$_dir/log" 2>&1 &
  REGISTRY_PID=$!
  test_at_end "kill $REGISTRY_PID"
  wait_http "http://127.0.0.1:$_port/v2/"
}

# Makes (or reuses from $LADING_TEST_CACHE) an OCI layout holding a real Debian 12 image made by
# `debootstrap --variant=minbase bookworm` and umoci, tag "bookworm". Prints the layout path.
# Takes ~2 minutes the first time; safe to call from concurrent tests (flock).
debian_base_layout() {
  _cache="$LADING_TEST_CACHE/debian-bookworm"
  mkdir -p "$LADING_TEST_CACHE"
  (
    flock 9
    if [ ! -f "$_cache/layout/index.json" ]; then
      rm -rf "$_cache" && mkdir -p "$_cache"
      _mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
      [ -n "$_mirror" ] || _mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
      [ -n "$_mirror" ] || _mirror=http://deb.debian.org/debian
      debootstrap --variant=minbase bookworm "$_cache/rootfs" "$_mirror" >"$_cache/debootstrap.log" 2>&1 ||
        { echo "debootstrap failed, see $_cache/debootstrap.log" >&2; exit 1; }
      rm -rf "$_cache/rootfs/var/lib/apt/lists/"* "$_cache/rootfs/var/cache/apt/archives/"*.deb
      # GNU tar makes the layer (umoci 0.4.7's `insert` omits the final padding and
      # end-of-archive blocks); umoci adds it and writes the config.
      # member names without a "./" prefix, as image layers usually have them
      tar --numeric-owner --xattrs --sort=name -C "$_cache/rootfs" -cf "$_cache/rootfs.tar" \
        $(cd "$_cache/rootfs" && ls -A) &&
      umoci init --layout "$_cache/layout.tmp" &&
      umoci new --image "$_cache/layout.tmp:bookworm" &&
      umoci raw add-layer --image "$_cache/layout.tmp:bookworm" \
        --history.created_by "debootstrap --variant=minbase bookworm" "$_cache/rootfs.tar" &&
      umoci config --image "$_cache/layout.tmp:bookworm" --architecture amd64 --os linux \
        --config.cmd /bin/bash &&
      rm -f "$_cache/rootfs.tar" &&
      mv "$_cache/layout.tmp" "$_cache/layout" || exit 1
    fi
  ) 9>"$LADING_TEST_CACHE/.debian.lock" || return 1
  echo "$_cache/layout"
}
