# Helpers for the registry client tests (t4000-t4999), sourced after lib.sh.
HELPERS="$TEST_DIR/t4999-helpers"

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

# start_registry_at PORT DIR [EXTRA_YAML]: docker-registry; REGISTRY_PID set.
start_registry_at() { start_docker_registry "$@"; }

# The digest of a manifest as a registry serves it (via skopeo).
skopeo_digest() { skopeo inspect --tls-verify=false --raw "$1" | sha256sum | sed 's/^/sha256:/; s/ .*//'; }

# start_fault_proxy PORT UPSTREAM_PORT LOG RULES...: PROXY_PID set.
start_fault_proxy() {
  _pp=$1
  python3 "$HELPERS/fault_proxy.py" "$@" >"$TRASH/proxy.$_pp.err" 2>&1 &
  PROXY_PID=$!
  test_at_end "kill $PROXY_PID"
  wait_http "http://127.0.0.1:$_pp/v2/"
}
