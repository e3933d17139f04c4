#!/bin/bash
# Signatures in a registry (Debian's docker-registry): skopeo's signed image and its .sig pushed
# by skopeo verify with lading; lading's signatures appear at the cosign tag for skopeo to read;
# pin and policy resolve through the registry.
. "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo jq curl
S=$FIXTURES/sigstore
D=sha256:61d5468249880e5762d74be4cddd9d0483077490dd02610a1e9327eeed77fe9e
SIGTAG=sha256-${D#sha256:}.sig
export LADING_PASSWORD=pw
fails_with() {
	_want=$1; shift
	"$LADING" "$@" >out 2>err; _got=$?
	[ "$_got" = "$_want" ] || { echo "expected exit $_want, got $_got" >&2; cat out err >&2; return 1; }
}
T="--tls-verify=false"
HAVE_DOCKER=1
if "$LADING" inspect docker://127.0.0.1:1/x:y 2>&1 | grep -q "not built yet"; then
	HAVE_DOCKER=0
else
	(cd "$TRASH" && "$LADING" key generate -o me >/dev/null)
fi

# The same behaviours against each registry: $R is its host:port, $WHO names it in titles.
registry_suite() {

test_expect_success "$WHO: "'skopeo pushes the signed fixture image and its .sig; lading verifies it' '
	skopeo copy -q --dest-tls-verify=false --preserve-digests oci:$S/skopeo-signed-layout:v1 docker://$R/test/skopeo-signed:v1 &&
	skopeo copy -q --dest-tls-verify=false --preserve-digests oci:$S/skopeo-signed-layout:$SIGTAG docker://$R/test/skopeo-signed:$SIGTAG &&
	lading verify $T --key $S/skopeo-signed/public-key.pem docker://$R/test/skopeo-signed:v1 >out &&
	grep -q "Verified: 1 valid signature" out &&
	fails_with 3 verify $T --key me.pub docker://$R/test/skopeo-signed:v1
'

test_expect_success "$WHO: "'lading signs in the registry: appended at the cosign tag, skopeo layer kept' '
	lading sign $T --key me.key docker://$R/test/skopeo-signed:v1 >out &&
	skopeo inspect --tls-verify=false --raw docker://$R/test/skopeo-signed:$SIGTAG >m.json &&
	jq -e ".layers | length == 2" m.json &&
	jq -c ".layers[0]" m.json >a && jq -c ".layers[0]" $S/skopeo-signed/sig-manifest.json >b && cmp a b &&
	curl -sf http://$R/v2/test/skopeo-signed/tags/list | jq -e ".tags | index(\"$SIGTAG\")" &&
	lading verify $T --format json --key me.pub --key $S/skopeo-signed/public-key.pem docker://$R/test/skopeo-signed:v1 >v.json &&
	jq -e ".valid_count == 2 and .signatures[1].docker_reference == \"$R/test/skopeo-signed\"" v.json
'

test_expect_success "$WHO: "'the registry copy of our payload passes openssl; signing again adds nothing' '
	p=$(jq -r ".layers[1].digest" m.json) &&
	curl -sf http://$R/v2/test/skopeo-signed/blobs/$p >payload &&
	jq -r ".layers[1].annotations[\"dev.cosignproject.cosign/signature\"]" m.json | base64 -d >sig.der &&
	openssl dgst -sha256 -verify me.pub -signature sig.der payload | grep -q "Verified OK" &&
	lading sign $T --key me.key docker://$R/test/skopeo-signed:v1 | grep -q "Already signed" &&
	skopeo inspect --tls-verify=false --raw docker://$R/test/skopeo-signed:$SIGTAG | cmp - m.json
'

test_expect_success "$WHO: "'round trip: store image pushed, signed in the registry, verified by digest' '
	lading copy -q oci:$S/skopeo-signed-layout:v1 docker://$R/team/app:2 &&
	lading sign -q $T --key me.key docker://$R/team/app:2 &&
	lading verify -q $T --key me.pub docker://$R/team/app@$D &&
	fails_with 1 verify $T --key me.pub docker://$R/test/none-such:1
'

test_expect_success "$WHO: "'pin --resolve registry and policy check go through the registry' '
	printf "kind: Pod\nspec:\n  containers:\n  - image: $R/team/app:2 # app\n" >pod.yaml &&
	lading pin $T --resolve registry pod.yaml >/dev/null &&
	grep -qx "  - image: $R/team/app:2@$D # app" pod.yaml &&
	printf "registries: [$R/team]\nrequireDigest: true\nsignatures: {keys: [me.pub]}\n" >pol.yaml &&
	lading policy check $T --policy pol.yaml docker://$R/team/app@$D >out &&
	grep -qx Allowed out &&
	fails_with 3 policy check $T --policy pol.yaml docker://$R/test/skopeo-signed:v1 &&
	grep -q "FAIL  registries" out && grep -q "FAIL  requireDigest" out
'
}

WHO=docker-registry
if [ $HAVE_DOCKER = 0 ]; then
	test_skip_rest "the docker:// transport is not built in"
	registry_suite
else
	PORT=$(free_port)
	start_docker_registry $PORT "$TRASH/reg" >/dev/null || test_skip_rest "docker-registry did not start"
	R=127.0.0.1:$PORT
	registry_suite
	unset _skip_reason
fi

WHO="lading serve"
if [ $HAVE_DOCKER = 0 ] || "$LADING" serve --help 2>&1 | grep -q "not implemented"; then
	test_skip_rest "lading serve or the docker:// transport is not built in"
else
	R=127.0.0.1:$(free_port)
	"$LADING" serve --addr $R --root "$TRASH/serve-root" 2>"$TRASH/serve.log" &
	SERVE_PID=$!
	test_at_end "kill $SERVE_PID"
	wait_http "http://$R/v2/" 10 || test_skip_rest "lading serve did not start"
fi
registry_suite
test_done
