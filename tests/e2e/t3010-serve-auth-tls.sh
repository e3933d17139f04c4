#!/bin/bash
# Access control and transport security of lading serve: bcrypt htpasswd Basic auth, the
# per-repository access list (401 vs 403, never data), read-only mode, HTTPS.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve-lib.sh"
require_cmd htpasswd openssl curl jq skopeo
cd "$TRASH"
htpasswd -Bbn alice wonderland >htpasswd && htpasswd -Bbn bob builder >>htpasswd
cat >access <<ACL
# user     repository   permissions
alice      *            rw
bob        team/*       r
anonymous  public/*     r
ACL
start_serve auth --htpasswd "$TRASH/htpasswd" --access "$TRASH/access"
AUTH_REG=$REG
echo blob >blob.bin

test_expect_success 'without credentials: 401 with a Basic challenge, and no data' '
  [ "$(http GET /v2/team/app/tags/list)" = 401 ] &&
  header WWW-Authenticate | grep -q "^Basic realm=" && [ "$(error_code)" = UNAUTHORIZED ]
'

test_expect_success 'wrong password and unknown user are 401' '
  [ "$(http GET /v2/team/app/tags/list -u alice:wrong)" = 401 ] &&
  [ "$(http GET /v2/team/app/tags/list -u mallory:x)" = 401 ]
'

test_expect_success 'alice (rw everywhere) pushes; bob (read team/*) reads it' '
  d=$(digest_of blob.bin) &&
  [ "$(http POST "/v2/team/app/blobs/uploads/?digest=$d" -u alice:wonderland --data-binary @blob.bin)" = 201 ] &&
  [ "$(http GET /v2/team/app/blobs/$d -u bob:builder)" = 200 ] && cmp body blob.bin
'

test_expect_success 'bob may not push (403 DENIED), nor read outside team/' '
  d=$(digest_of blob.bin) &&
  [ "$(http POST "/v2/team/app/blobs/uploads/?digest=$d" -u bob:builder --data-binary @blob.bin)" = 403 ] &&
  [ "$(error_code)" = DENIED ] &&
  [ "$(http POST "/v2/private/x/blobs/uploads/?digest=$d" -u alice:wonderland --data-binary @blob.bin)" = 201 ] &&
  [ "$(http GET /v2/private/x/blobs/$d -u bob:builder)" = 403 ] && ! grep -q blob body
'

test_expect_success 'a mount from a repository the user may not read falls back to an upload' '
  d=$(digest_of blob.bin) &&
  [ "$(http POST "/v2/team/app/blobs/uploads/?mount=$d&from=private/x" -u alice:wonderland)" = 201 ]
'

test_expect_success 'anonymous may read public/* only; the catalog lists only readable repositories' '
  d=$(digest_of blob.bin) && [ "$(http GET /v2/)" = 401 ] &&
  [ "$(http POST "/v2/public/x/blobs/uploads/?digest=$d" -u alice:wonderland --data-binary @blob.bin)" = 201 ] &&
  [ "$(http HEAD /v2/public/x/blobs/$d)" = 200 ] &&
  [ "$(http HEAD /v2/team/app/blobs/$d)" = 401 ] &&
  [ "$(http GET /v2/_catalog -u bob:builder)" = 200 ] && [ "$(jq -c .repositories body)" = "[\"team/app\"]" ] &&
  [ "$(http GET /v2/_catalog -u alice:wonderland)" = 200 ] && [ "$(jq -c .repositories body)" = "[\"private/x\",\"public/x\",\"team/app\"]" ]
'

test_expect_success 'skopeo pushes with --dest-creds' '
  mk_layout img v1 &&
  skopeo --insecure-policy copy --dest-tls-verify=false --dest-creds alice:wonderland oci:img:v1 docker://$REG/team/app:v1 &&
  skopeo inspect --tls-verify=false --creds bob:builder docker://$REG/team/app:v1 >/dev/null &&
  test_must_fail skopeo --insecure-policy copy --dest-tls-verify=false --dest-creds bob:builder oci:img:v1 docker://$REG/team/app:v2
'

test_expect_success 'a malformed htpasswd or access file is refused at start with a one-line error' '
  echo "carol:plaintext" >bad.htpasswd &&
  ! lading serve --addr 127.0.0.1:0 --root r1 --htpasswd bad.htpasswd 2>err &&
  grep -q "bad.htpasswd:1: user carol: only bcrypt" err && [ $(grep -vc "^+" err) = 1 ] &&
  echo "alice team/* rwx" >bad.access &&
  ! lading serve --addr 127.0.0.1:0 --root r2 --access bad.access 2>err &&
  grep -q "bad.access:1: expected" err
'

start_serve ro --read-only
cp -r "$TRASH/auth/." "$SERVE_ROOT/" 2>/dev/null
test_expect_success 'read-only: pushes and deletes are 405 UNSUPPORTED, pulls work' '
  d=$(digest_of blob.bin) &&
  [ "$(http POST "/v2/team/app/blobs/uploads/?digest=$d" --data-binary @blob.bin)" = 405 ] &&
  [ "$(error_code)" = UNSUPPORTED ] &&
  [ "$(http DELETE /v2/team/app/blobs/$d)" = 405 ] &&
  [ "$(http GET /v2/team/app/blobs/$d)" = 200 ] && cmp body blob.bin
'

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TRASH/key.pem" -out "$TRASH/cert.pem" \
  -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
start_serve tls --tls-cert "$TRASH/cert.pem" --tls-key "$TRASH/key.pem"
test_expect_success 'HTTPS with --tls-cert/--tls-key: curl and skopeo verify the certificate' '
  curl -sf --cacert cert.pem https://$REG/v2/ &&
  test_must_fail curl -sf http://$REG/v2/ &&
  mkdir -p certs.d && cp cert.pem certs.d/ca.crt &&
  skopeo --insecure-policy copy --dest-cert-dir certs.d oci:img:v1 docker://$REG/tls/app:v1 &&
  skopeo inspect --cert-dir certs.d docker://$REG/tls/app:v1 >/dev/null
'
test_done
