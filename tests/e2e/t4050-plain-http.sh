#!/bin/bash
# Plain HTTP only for a loopback registry or an explicit opt-in: a registry named by anything
# but a loopback literal (localhost, 127.0.0.0/8, ::1) is spoken to over HTTPS only, unless
# --tls-verify=false (or its --src-/--dest- form) says it is an insecure registry.
#
# The non-loopback names reach 127.0.0.1 without touching the system: "reg.localhost" (libcurl
# resolves every *.localhost name to loopback itself, RFC 6761, whatever /etc/hosts and DNS say;
# the policy still sees a name that is not a loopback literal), and the machine's own hostname
# when /etc/hosts maps it to 127.x (Debian: 127.0.1.1), else those tests say SKIP.
# first_bytes.py shows what a client sends first on each connection, without answering.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/t4999-helpers/client-lib.sh"
require_cmd docker-registry skopeo umoci jq openssl python3
P=$(free_port) SP=$(free_port) TP=$(free_port) IP=$(free_port)
N=reg.localhost:$P
export XDG_RUNTIME_DIR="$TRASH/run"

test_expect_success 'setup: a plain-HTTP registry, a first-bytes recorder, an image' '
  start_registry_at $P "$TRASH/reg" &&
  ("$PY" "$HELPERS/first_bytes.py" $SP "$TRASH/first.log" 2>"$TRASH/first.err" & echo $! >"$TRASH/first.pid") &&
  up=0 && for _ in $(seq 200); do
    (exec 3<>/dev/tcp/127.0.0.1/$SP) 2>/dev/null && { up=1; break; }; sleep 0.1
  done && test $up = 1 &&
  make_image img v1 2 32
'

test_expect_success 'a push to a plain-HTTP registry by a non-loopback name is refused (one line, exit 1)' '
  expect_exit 1 lading copy oci:img:v1 docker://$N/a/b:v1 2>err &&
  test "$(wc -l <err)" = 1 &&
  grep -q "^lading: .*registry $N: .*HTTPS only: plain HTTP is used for loopback registries or with --tls-verify=false" err &&
  ! test -e "$TRASH/reg/data/docker/registry/v2/repositories/a"
'

test_expect_success 'no plain-HTTP request is sent: the first bytes on the wire are a TLS handshake' '
  : >"$TRASH/first.log" &&
  expect_exit 1 lading tags docker://reg.localhost:$SP/x 2>err &&
  test "$(wc -l <err)" = 1 &&
  test -s "$TRASH/first.log" &&
  ! grep -v "^tls$" "$TRASH/first.log"
'

test_expect_success 'pull, inspect and tags are refused the same way' '
  expect_exit 1 lading pull $N/a/b:v1 2>err && grep -q "HTTPS only" err &&
  expect_exit 1 lading inspect docker://$N/a/b:v1 2>err && grep -q "HTTPS only" err &&
  expect_exit 1 lading tags docker://$N/a/b 2>err && grep -q "HTTPS only" err &&
  expect_exit 1 lading copy docker://$N/a/b:v1 oci:o:v1 2>err && grep -q "HTTPS only" err
'

test_expect_success 'the explicit opt-in works: --dest-tls-verify=false, --src-tls-verify=false, --tls-verify=false' '
  lading copy -q --dest-tls-verify=false oci:img:v1 docker://$N/a/b:v1 &&
  test "$(manifest_digest 127.0.0.1:$P a/b v1)" = "sha256:$(skopeo inspect --raw oci:img:v1 | sha256sum | cut -d" " -f1)" &&
  lading copy -q --src-tls-verify=false docker://$N/a/b:v1 oci:o:v1 &&
  lading tags --tls-verify=false docker://$N/a/b | grep -qx v1 &&
  lading pull -q --tls-verify=false $N/a/b:v1 &&
  lading copy -q --tls-verify=false docker://$N/a/b:v1 docker://$N/a/c:v1
'

test_expect_success 'with the opt-in, HTTPS is still tried first' '
  : >"$TRASH/first.log" &&
  test_must_fail lading tags --retry-times 0 --tls-verify=false docker://reg.localhost:$SP/x 2>err &&
  head -1 "$TRASH/first.log" | grep -qx tls && grep -q "^GET /v2/ " "$TRASH/first.log"
'

test_expect_success 'loopback literals need no opt-in' '
  lading tags docker://127.0.0.1:$P/a/b | grep -qx v1 &&
  lading tags docker://localhost:$P/a/b | grep -qx v1
'

HN=$(hostname)
case "$(getent hosts "$HN" 2>/dev/null | awk "{print \$1; exit}")" in
  127.*) ;;
  *) test_skip_rest "hostname $HN does not resolve to 127.x through /etc/hosts" ;;
esac
test_expect_success "the machine's hostname ($HN, mapped to loopback in /etc/hosts): refused, then opt-in" '
  expect_exit 1 lading tags docker://$HN:$P/a/b 2>err && grep -q "registry $HN:$P: .*HTTPS only" err &&
  lading tags --tls-verify=false docker://$HN:$P/a/b | grep -qx v1
'
_skip_reason=

test_expect_success 'setup: an HTTPS registry by name whose token realm is plain HTTP' '
  openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 \
    -subj /CN=reg.localhost -addext "subjectAltName=DNS:reg.localhost" 2>/dev/null &&
  mkdir certs && cp cert.pem certs/ca.crt &&
  ("$PY" "$HELPERS/token_issuer.py" $IP key.pem cert.pem test-issuer bob pw \
     "$TRASH/tokens.log" >"$TRASH/issuer.err" 2>&1 & echo $! >"$TRASH/token-issuer.pid") &&
  wait_http http://127.0.0.1:$IP/token &&
  start_registry_at $TP "$TRASH/tls" "  tls: {certificate: $TRASH/cert.pem, key: $TRASH/key.pem}
auth: {token: {realm: \"http://127.0.0.1:$IP/token\", service: test-registry, issuer: test-issuer, rootcertbundle: $TRASH/cert.pem}}" ||
  { cat "$TRASH/tls/log"; false; }
'

test_expect_success 'the plain-HTTP realm of an HTTPS-only registry is never contacted' '
  : >"$TRASH/tokens.log" &&
  expect_exit 1 lading copy --dest-cert-dir certs --dest-creds bob:pw oci:img:v1 docker://reg.localhost:$TP/a/b:v1 2>err &&
  test "$(wc -l <err)" = 1 && grep -q "refusing plain HTTP (http://127.0.0.1:$IP/token" err &&
  ! test -s "$TRASH/tokens.log" &&
  lading copy -q --dest-tls-verify=false --dest-creds bob:pw oci:img:v1 docker://reg.localhost:$TP/a/b:v1 &&
  test -s "$TRASH/tokens.log"
'

test_expect_success 'a redirect to plain HTTP from an HTTPS-only registry is not followed' '
  RP=$(free_port) &&
  skopeo inspect --raw oci:img:v1 >manifest.json &&
  ("$PY" "$HELPERS/redirector.py" $RP cert.pem key.pem manifest.json "http://127.0.0.1:$SP" \
     2>"$TRASH/redirector.err" & echo $! >"$TRASH/redirector.pid") &&
  wait_http https://127.0.0.1:$RP/v2/ &&
  : >"$TRASH/first.log" &&
  expect_exit 1 lading copy --retry-times 0 --src-cert-dir certs docker://reg.localhost:$RP/a/b:v1 oci:r:v1 2>err &&
  test "$(wc -l <err)" = 1 && grep -q "refusing a redirect to plain HTTP" err &&
  ! test -s "$TRASH/first.log" &&
  test_must_fail lading copy --retry-times 0 --src-tls-verify=false docker://reg.localhost:$RP/a/b:v1 oci:r:v1 2>err &&
  grep -q "^GET /v2/a/b/blobs/sha256:" "$TRASH/first.log"
'

test_done
