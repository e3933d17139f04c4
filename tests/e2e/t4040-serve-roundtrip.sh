#!/bin/bash
# Round trips through `lading serve` (plain and HTTPS with a test CA): byte-identical digests,
# skopeo reading what we push there and we pulling what skopeo pushed, mounts, chunked uploads,
# tags; TLS with --cert-dir (CA files) and --tls-verify=false, refused without either.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/t4999-helpers/client-lib.sh"
require_cmd skopeo umoci jq openssl
P=$(free_port) TP=$(free_port)
R=127.0.0.1:$P T=127.0.0.1:$TP

start_serve() { # PORT ROOT [ARGS...]
  _port=$1 _root=$2; shift 2
  "$LADING" serve --addr 127.0.0.1:$_port --root "$_root" --access-log off "$@" >"$_root.log" 2>&1 &
  echo $! >"$TRASH/serve-$_port.pid"
}

test_expect_success 'setup: lading serve (http and https), an image' '
  start_serve $P "$TRASH/served" && wait_http http://$R/v2/ &&
  mkdir certs &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout certs/key.pem -out certs/ca.crt -days 2 \
    -subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null &&
  start_serve $TP "$TRASH/tls" --tls-cert certs/ca.crt --tls-key certs/key.pem &&
  wait_http https://$T/v2/ &&
  make_image img v1 3 128 &&
  want=$(skopeo inspect --raw oci:img:v1 | sha256sum | cut -d" " -f1) && echo sha256:$want >want
'

test_expect_success 'push to lading serve keeps the digest; skopeo reads it back' '
  lading copy --format json oci:img:v1 docker://$R/s/one:v1 >out &&
  jq -e ".blobs_copied == 4" out &&
  test "$(manifest_digest $R s/one v1)" = "$(cat want)" &&
  skopeo copy --src-tls-verify=false docker://$R/s/one:v1 oci:sk:v1 >/dev/null &&
  test "sha256:$(skopeo inspect --raw oci:sk:v1 | sha256sum | cut -d" " -f1)" = "$(cat want)"
'

test_expect_success 'what skopeo pushed to lading serve we pull byte-identical' '
  skopeo copy --dest-tls-verify=false oci:img:v1 docker://$R/s/sk:v1 >/dev/null &&
  lading pull --format json $R/s/sk:v1 >out && jq -e ".digest == \"$(cat want)\"" out &&
  lading copy -q docker://$R/s/sk:v1 oci:back:v1 &&
  jq -e ".manifests[0].digest == \"$(cat want)\"" back/index.json
'

test_expect_success 'mounts between repositories, chunked uploads, tags' '
  lading copy --format json docker://$R/s/one:v1 docker://$R/s/two:v1 >out &&
  jq -e ".blobs_mounted == 4 and .blobs_copied == 0" out &&
  lading push -q --chunk-size 64KiB $R/s/sk:v1 docker://$R/s/chunks:v1 &&
  test "$(manifest_digest $R s/chunks v1)" = "$(cat want)" &&
  lading copy -q docker://$R/s/one:v1 docker://$R/s/one:v2 &&
  lading tags --format json docker://$R/s/one | jq -e ".tags | sort == [\"v1\",\"v2\"]"
'

test_expect_success 'registry to registry: docker-registry -> lading serve -> oci: digests hold' '
  DP=$(free_port) && start_registry_at $DP "$TRASH/dreg" &&
  lading copy -q docker://$R/s/one:v1 docker://127.0.0.1:$DP/d/x:v1 &&
  lading copy -q docker://127.0.0.1:$DP/d/x:v1 docker://$R/s/back:v1 &&
  test "$(manifest_digest $R s/back v1)" = "$(cat want)"
'

test_expect_success 'TLS: unknown CA refused; --cert-dir and --tls-verify=false work' '
  test_must_fail lading copy -q --retry-times 0 oci:img:v1 docker://$T/t/x:v1 2>err &&
  grep -qi "certificate\|SSL" err &&
  lading copy -q --dest-cert-dir certs oci:img:v1 docker://$T/t/x:v1 &&
  lading copy -q --src-tls-verify=false docker://$T/t/x:v1 oci:tls:v1 &&
  jq -e ".manifests[0].digest == \"$(cat want)\"" tls/index.json &&
  lading tags --cert-dir certs docker://$T/t/x | grep -qx v1
'
test_done
