#!/bin/bash
# Registry auth: htpasswd Basic (bcrypt, docker-registry), a Bearer token flow (docker-registry
# with `auth: token` and the tiny issuer t4999-helpers/token_issuer.py, which signs RS256 JWTs
# with openssl), and login/logout writing the containers auth.json.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/t4999-helpers/client-lib.sh"
require_cmd docker-registry skopeo umoci jq htpasswd openssl python3
BP=$(free_port) TP=$(free_port) IP=$(free_port)
B=127.0.0.1:$BP T=127.0.0.1:$TP
# Not REGISTRY_AUTH_FILE: docker-registry reads REGISTRY_* variables as its own configuration.
export XDG_RUNTIME_DIR="$TRASH/run"
AUTH="$XDG_RUNTIME_DIR/containers/auth.json"

test_expect_success 'setup: Basic-auth registry, token registry and issuer, an image' '
  htpasswd -Bbn alice s3cret >"$TRASH/htpasswd" &&
  start_registry_at $BP "$TRASH/basic" "auth: {htpasswd: {realm: basic-realm, path: $TRASH/htpasswd}}" &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TRASH/key.pem" -out "$TRASH/cert.pem" \
    -days 2 -subj /CN=lading-test-issuer 2>/dev/null &&
  ("$PY" "$HELPERS/token_issuer.py" $IP "$TRASH/key.pem" "$TRASH/cert.pem" test-issuer bob pw \
     "$TRASH/tokens.log" >"$TRASH/issuer.err" 2>&1 & echo $! >"$TRASH/token-issuer.pid") &&
  wait_http http://127.0.0.1:$IP/token &&
  start_registry_at $TP "$TRASH/token" "auth: {token: {realm: \"http://127.0.0.1:$IP/token\", service: test-registry, issuer: test-issuer, rootcertbundle: $TRASH/cert.pem}}" &&
  make_image "$TRASH/img" v1 3 64
'

test_expect_success 'Basic: anonymous push is refused with a clear message' '
  test_must_fail lading copy oci:img:v1 docker://$B/a/b:v1 2>err &&
  grep -q "$B" err && grep -qi "unauthorized\|401" err
'

test_expect_success 'Basic: --creds works; a wrong password does not' '
  lading copy -q --dest-creds alice:s3cret oci:img:v1 docker://$B/a/b:v1 &&
  test_must_fail lading copy -q --src-creds alice:wrong docker://$B/a/b:v1 oci:o:v1 &&
  lading copy -q --creds alice:s3cret docker://$B/a/b:v1 oci:o:v1
'

test_expect_success 'inspect docker:// takes the registry options' '
  test_must_fail lading inspect docker://$B/a/b:v1 2>err && grep -q "401" err &&
  lading inspect --format json --creds alice:s3cret docker://$B/a/b:v1 | jq -e ".layers | length == 3"
'

test_expect_success 'login checks the password and writes auth.json (containers format)' '
  test_must_fail lading login -u alice -p nope $B 2>err && grep -qi "invalid username or password" err &&
  ! test -f "$AUTH" &&
  echo s3cret | lading login -u alice --password-stdin $B >out && grep -q "Login Succeeded" out &&
  jq -e ".auths[\"$B\"].auth == \"$(printf alice:s3cret | base64)\"" "$AUTH" &&
  test "$(stat -c %a "$AUTH")" = 600 &&
  test "$(lading login --get-login $B)" = alice
'

test_expect_success 'stored credentials are used; skopeo reads the same auth file' '
  lading tags docker://$B/a/b | grep -qx v1 &&
  lading pull -q $B/a/b:v1 &&
  skopeo inspect --tls-verify=false --authfile "$AUTH" docker://$B/a/b:v1 >/dev/null
'

test_expect_success 'logout removes them; then access is refused again' '
  lading logout $B | grep -q "Removed" &&
  jq -e ".auths | length == 0" "$AUTH" &&
  test_must_fail lading tags docker://$B/a/b &&
  test_must_fail lading logout $B 2>err && grep -q "not logged in" err
'

test_expect_success '~/.docker/config.json credentials are read' '
  mkdir -p "$HOME/.docker" &&
  echo "{\"auths\":{\"http://$B\":{\"auth\":\"$(printf alice:s3cret | base64)\"}}}" >"$HOME/.docker/config.json" &&
  XDG_RUNTIME_DIR=/nonexistent lading tags docker://$B/a/b | grep -qx v1 &&
  rm "$HOME/.docker/config.json"
'

# A stand-in for docker-credential-pass and friends, speaking the real protocol (`get`, the
# server on stdin, a JSON answer on stdout), with credentials for $B only; what it was asked
# goes to helper.log.
test_expect_success 'setup: a docker-credential helper on PATH' '
  mkdir -p "$TRASH/bin" &&
  { echo "#!/bin/sh" &&
    echo "[ \"\$1\" = get ] || exit 2" &&
    echo "server=\$(cat)" &&
    echo "echo \"\$server\" >>\"$TRASH/helper.log\"" &&
    echo "if [ \"\$server\" = \"$B\" ]; then" &&
    echo "  echo \"{\\\"ServerURL\\\":\\\"\$server\\\",\\\"Username\\\":\\\"alice\\\",\\\"Secret\\\":\\\"s3cret\\\"}\"" &&
    echo "else echo \"credentials not found in native keychain\"; exit 1; fi"
  } >"$TRASH/bin/docker-credential-lt" &&
  chmod +x "$TRASH/bin/docker-credential-lt" &&
  printf "#!/bin/sh\necho boom; exit 3\n" >"$TRASH/bin/docker-credential-bad" &&
  chmod +x "$TRASH/bin/docker-credential-bad"
'

test_expect_success '~/.docker/config.json credHelpers and credsStore run docker-credential-NAME get' '
  mkdir -p "$HOME/.docker" && : >"$TRASH/helper.log" &&
  echo "{\"credHelpers\":{\"$B\":\"lt\"}}" >"$HOME/.docker/config.json" &&
  PATH="$TRASH/bin:$PATH" XDG_RUNTIME_DIR=/nonexistent lading tags docker://$B/a/b | grep -qx v1 &&
  grep -qx "$B" "$TRASH/helper.log" &&
  echo "{\"auths\":{\"$B\":{}},\"credsStore\":\"lt\"}" >"$HOME/.docker/config.json" &&
  PATH="$TRASH/bin:$PATH" XDG_RUNTIME_DIR=/nonexistent lading tags docker://$B/a/b | grep -qx v1 &&
  test "$(grep -c . "$TRASH/helper.log")" = 2
'

test_expect_success 'a helper without credentials or not installed means anonymous; a failing one is named' '
  echo "{\"credsStore\":\"lt\"}" >"$HOME/.docker/config.json" &&
  PATH="$TRASH/bin:$PATH" XDG_RUNTIME_DIR=/nonexistent expect_exit 1 lading tags docker://localhost:$BP/a/b 2>err &&
  grep -q "401" err && grep -qx "localhost:$BP" "$TRASH/helper.log" &&
  echo "{\"credHelpers\":{\"$B\":\"missing\"}}" >"$HOME/.docker/config.json" &&
  XDG_RUNTIME_DIR=/nonexistent expect_exit 1 lading tags docker://$B/a/b 2>err && grep -q "401" err &&
  echo "{\"credHelpers\":{\"$B\":\"bad\"}}" >"$HOME/.docker/config.json" &&
  PATH="$TRASH/bin:$PATH" XDG_RUNTIME_DIR=/nonexistent expect_exit 1 lading tags docker://$B/a/b 2>err &&
  test "$(wc -l <err)" = 1 && grep -q "credential helper docker-credential-bad: get $B: exit 3: boom" err &&
  rm "$HOME/.docker/config.json"
'

test_expect_success 'Bearer: anonymous token grants nothing, push is refused' '
  test_must_fail lading copy -q oci:img:v1 docker://$T/t/x:v1 2>err && grep -q "$T" err
'

test_expect_success 'Bearer: with credentials, push and pull work; one token per scope' '
  : >"$TRASH/tokens.log" &&
  lading copy --format json --dest-creds bob:pw oci:img:v1 docker://$T/t/x:v1 >out &&
  jq -e ".blobs_copied == 4" out &&
  test "$(grep -c "repository:t/x:pull,push" "$TRASH/tokens.log")" = 1 &&
  test "$(wc -l <"$TRASH/tokens.log")" -le 2 &&
  lading copy -q --creds bob:pw docker://$T/t/x:v1 oci:tok:v1 &&
  skopeo copy --src-creds bob:pw --src-tls-verify=false docker://$T/t/x:v1 oci:sk:v1 >/dev/null &&
  test "$(jq -r .manifests[0].digest tok/index.json)" = "$(jq -r .manifests[0].digest sk/index.json)"
'

test_expect_success 'Bearer: a mount asks for pull on the source repository too' '
  : >"$TRASH/tokens.log" &&
  lading copy --format json --creds bob:pw docker://$T/t/x:v1 docker://$T/t/y:v1 >out &&
  jq -e ".blobs_mounted == 4" out &&
  grep -q "repository:t/y:pull,push repository:t/x:pull" "$TRASH/tokens.log"
'

test_expect_success 'Bearer: login fetches a token; a wrong password fails' '
  test_must_fail lading login -u bob -p bad $T 2>err && grep -q "401" err &&
  lading login -u bob -p pw $T >/dev/null &&
  lading tags docker://$T/t/x | grep -qx v1
'
test_done
