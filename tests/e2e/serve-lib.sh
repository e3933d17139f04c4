# tests/e2e/serve-lib.sh: helpers for the registry tests (t3000-t3999), sourced after lib.sh.
# Servers start at the top level of a test file (not inside a test body, which is a subshell)
# so that test_at_end can stop them.

# serve_start ROOT LOG [lading serve options...]: starts `lading serve` with --addr
# 127.0.0.1:0, so that the kernel picks a port nothing else holds (a port that merely has no
# listener, as free_port finds, may still be bound by another process's client socket or
# TIME_WAIT entry, and then the server cannot bind it), and waits until it listens: the
# "serving on ... (port N)" line is printed once the socket listens. Sets REG (host:port) and
# PID. Fails, showing the end of LOG, when the server exits or is not listening within 20 s.
serve_start() {
  _root=$1 _log=$2; shift 2
  _from=$(( $(cat "$_log" 2>/dev/null | wc -l) + 1 ))
  "$LADING" serve --addr 127.0.0.1:0 --root "$_root" "$@" 2>>"$_log" &
  PID=$!
  for _ in $(seq 200); do
    _port=$(tail -n +$_from "$_log" | sed -n 's/^lading: serving on .* (port \([0-9]*\))$/\1/p' | head -1)
    [ -n "$_port" ] && { REG=127.0.0.1:$_port; return 0; }
    kill -0 $PID 2>/dev/null || break
    sleep 0.1
  done
  echo "lading serve did not start (root $_root):" >&2; tail -5 "$_log" >&2; return 1
}

# start_serve NAME [lading serve options...]: serve_start with root $TRASH/NAME at the top level
# of a test file; sets REG, SERVE_PID, SERVE_ROOT, SERVE_LOG.
start_serve() {
  _name=$1; shift
  SERVE_ROOT="$TRASH/$_name"
  SERVE_LOG="$TRASH/$_name.log"
  serve_start "$SERVE_ROOT" "$SERVE_LOG" "$@"
  _rc=$?
  SERVE_PID=$PID
  test_at_end "kill $SERVE_PID; wait $SERVE_PID"
  return $_rc
}

digest_of() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
size_of() { stat -c %s "$1"; }

# push_blob REPO FILE: monolithic upload (POST ?digest=), fails unless 201.
push_blob() {
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/octet-stream' \
    --data-binary @"$2" "http://$REG/v2/$1/blobs/uploads/?digest=$(digest_of "$2")")
  [ "$code" = 201 ] || { echo "push_blob $1 $2: HTTP $code" >&2; return 1; }
}

# oci_manifest CONFIG LAYER...: prints an OCI image manifest naming the files' digests.
oci_manifest() {
  _c=$1; shift
  _layers=""
  for _l in "$@"; do
    _layers="$_layers${_layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"$(digest_of "$_l")\",\"size\":$(size_of "$_l")}"
  done
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' \
    "$(digest_of "$_c")" "$(size_of "$_c")" "$_layers"
}

# put_manifest REPO REF FILE: PUT a manifest, prints the HTTP status.
put_manifest() {
  curl -s -o "$TRASH/.put.body" -D "$TRASH/.put.hdr" -w '%{http_code}' -X PUT \
    -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$3" \
    "http://$REG/v2/$1/manifests/$2"
}

# http METHOD PATH [curl args]: prints the status; body in ./body, headers in ./hdr.
http() {
  _m=$1 _p=$2; shift 2
  if [ "$_m" = HEAD ]; then
    curl -s -I -o /dev/null -D hdr -w '%{http_code}' "$@" "http://$REG$_p"; : >body
  else
    curl -s -o body -D hdr -w '%{http_code}' -X "$_m" "$@" "http://$REG$_p"
  fi
}
# header NAME: value of a response header from ./hdr (case-insensitive name).
header() { tr -d '\r' <hdr | sed -n "s/^$1: *//Ip" | head -1; }
# error_code: the first spec error code in ./body.
error_code() { jq -r '.errors[0].code' body; }

# A small OCI image in a layout, made by umoci from a tiny directory: mk_layout DIR TAG [files]
mk_layout() {
  _d=$1 _t=$2
  mkdir -p "$_d.src/etc"
  echo "lading test $_t $RANDOM" >"$_d.src/etc/marker"
  head -c 20000 /dev/urandom >"$_d.src/etc/noise"
  [ -d "$_d" ] || umoci init --layout "$_d" >/dev/null
  umoci new --image "$_d:$_t" >/dev/null &&
  umoci config --image "$_d:$_t" --architecture amd64 --os linux --config.cmd /bin/true >/dev/null &&
  umoci insert --image "$_d:$_t" "$_d.src" / >/dev/null
}
