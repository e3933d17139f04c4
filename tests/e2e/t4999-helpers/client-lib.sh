# Helpers for the registry client tests (t4000-t4999), sourced after lib.sh.
HELPERS="$TEST_DIR/t4999-helpers"
# The system python: a pyenv shim first in PATH costs seconds per start under load.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# make_image LAYOUT TAG N KB [ARCH]: an OCI layout image (umoci) with N layers of KB KiB of
# random data each, under /dN (never "/" itself).
make_image() {
  _l=$1 _t=$2 _n=$3 _kb=$4 _arch=${5:-amd64}
  [ -f "$_l/index.json" ] || umoci init --layout "$_l" >/dev/null
  umoci new --image "$_l:$_t" >/dev/null
  _i=1
  while [ "$_i" -le "$_n" ]; do
    rm -rf "$TRASH/.mk" && mkdir -p "$TRASH/.mk"
    head -c $((_kb * 1024)) /dev/urandom >"$TRASH/.mk/data$_i"
    echo "$_t layer $_i" >"$TRASH/.mk/name"
    umoci insert --image "$_l:$_t" "$TRASH/.mk" "/d$_i" >/dev/null
    _i=$((_i + 1))
  done
  umoci config --image "$_l:$_t" --architecture "$_arch" --os linux --config.cmd /bin/true >/dev/null
  rm -rf "$TRASH/.mk"
}

# Servers started inside a test body (a subshell) cannot register test_at_end there: they
# write $TRASH/NAME.pid instead, and every such pid is stopped when the file ends.
test_at_end 'for _p in $(cat "$TRASH"/*.pid 2>/dev/null); do kill $_p 2>/dev/null; done'

# start_registry_at PORT DIR [EXTRA_YAML]: docker-registry; pid in $TRASH/registry-PORT.pid.
start_registry_at() {
  start_docker_registry "$@" || return 1
  echo "$REGISTRY_PID" >"$TRASH/registry-$1.pid"
}

# run_bg NAME CMD...: runs CMD in the background; its exit status lands in $TRASH/NAME.rc.
run_bg() {
  _n=$1; shift
  ( if "$@"; then echo 0; else echo $?; fi >"$TRASH/$_n.rc.tmp"; mv "$TRASH/$_n.rc.tmp" "$TRASH/$_n.rc" ) &
}
# wait_bg NAME [SECONDS]: waits (default 60 s) for run_bg NAME and prints its exit status.
wait_bg() {
  _i=0
  while ! test -f "$TRASH/$1.rc" && [ $_i -lt $(( ${2:-60} * 10 )) ]; do sleep 0.1; _i=$((_i + 1)); done
  cat "$TRASH/$1.rc"
}

# The digest of a manifest as a registry serves it (via skopeo).
skopeo_digest() { skopeo inspect --tls-verify=false --raw "$1" | sha256sum | sed 's/^/sha256:/; s/ .*//'; }
# The same with curl (cheaper): manifest_digest HOST:PORT REPO REF
manifest_digest() {
  curl -sf -H "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json" \
    "http://$1/v2/$2/manifests/$3" | sha256sum | sed 's/^/sha256:/; s/ .*//'
}

# start_fault_proxy PORT UPSTREAM_PORT LOG RULES...: PROXY_PID set.
start_fault_proxy() {
  _pp=$1
  "$PY" "$HELPERS/fault_proxy.py" "$@" >"$TRASH/proxy.$_pp.err" 2>&1 &
  PROXY_PID=$!
  echo $PROXY_PID >"$TRASH/proxy-$_pp.pid"
  wait_http "http://127.0.0.1:$_pp/v2/"
}
