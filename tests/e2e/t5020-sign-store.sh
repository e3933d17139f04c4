#!/bin/bash
# Sign and verify images in the store (bare REF): the .sig lands at REPO:sha256-<hex>.sig in the
# store, verify finds it by name, by digest and by digest prefix; JSON reports are stable.
. "$(dirname "$0")/lib.sh"
require_cmd jq
S=$FIXTURES/sigstore
D=sha256:61d5468249880e5762d74be4cddd9d0483077490dd02610a1e9327eeed77fe9e
export LADING_PASSWORD=pw
fails_with() {
	_want=$1; shift
	"$LADING" "$@" >out 2>err; _got=$?
	[ "$_got" = "$_want" ] || { echo "expected exit $_want, got $_got" >&2; cat out err >&2; return 1; }
}
(cd "$TRASH" && "$LADING" key generate -o me >/dev/null && "$LADING" copy oci:$S/skopeo-signed-layout:v1 localhost/test/img:v1 >/dev/null)

test_expect_success 'sign a store image: the .sig is a store image beside it' '
	lading sign --format json --key me.key localhost/test/img:v1 >s.json &&
	jq -e --arg d $D ".[0].digest == \$d and .[0].added and .[0].count == 1 and .[0].docker_reference == \"localhost/test/img\"" s.json &&
	jq -e ".[0].signatures == \"localhost/test/img:sha256-${D#sha256:}.sig\"" s.json &&
	grep -q "localhost/test/img:sha256-${D#sha256:}.sig" "$LADING_ROOT/index.json"
'

test_expect_success 'images marks the image signed and hides the .sig tag unless --all' '
	lading images --format json >i.json &&
	jq -e "length == 1 and .[0].name == \"localhost/test/img:v1\" and .[0].signed == true" i.json &&
	lading images >i.txt && ! grep -q "\.sig" i.txt && grep "localhost/test/img:v1" i.txt | grep -q "yes\$" &&
	lading images --all --format json >a.json &&
	jq -e "length == 2 and ([.[] | select(.name | endswith(\".sig\"))] | length) == 1" a.json
'

test_expect_success 'the store .sig is skopeo-readable and holds our payload' '
	skopeo inspect --raw "oci:$LADING_ROOT:localhost/test/img:sha256-${D#sha256:}.sig" >m.json &&
	jq -e ".layers[0].mediaType == \"application/vnd.dev.cosign.simplesigning.v1+json\"" m.json &&
	p="$LADING_ROOT/blobs/sha256/$(jq -r .layers[0].digest m.json | cut -d: -f2)" &&
	jq -r ".layers[0].annotations[\"dev.cosignproject.cosign/signature\"]" m.json | base64 -d >sig.der &&
	openssl dgst -sha256 -verify me.pub -signature sig.der "$p" | grep -q "Verified OK"
'

test_expect_success 'verify by name, by digest and by digest prefix' '
	lading verify --key me.pub localhost/test/img:v1 | grep -q "Verified: 1 valid" &&
	lading verify -q --key me.pub localhost/test/img@$D &&
	lading verify -q --key me.pub $D &&
	lading verify -q --key me.pub ${D#sha256:} &&
	lading verify -q --key me.pub 61d546824988
'

test_expect_success 'signing twice adds nothing; annotations make a new signature' '
	lading sign --key me.key localhost/test/img:v1 | grep -q "Already signed" &&
	lading sign --format json --key me.key -a build=42 localhost/test/img:v1 >s2.json &&
	jq -e ".[0].count == 2 and .[0].added" s2.json &&
	lading verify --format json --key me.pub localhost/test/img:v1 >v.json &&
	jq -e ".valid_count == 2 and ([.signatures[].docker_reference] | unique) == [\"localhost/test/img\"]" v.json
'

test_expect_success 'the skopeo key does not verify our store signatures (exit 3, JSON says why)' '
	fails_with 3 verify --format json --key $S/skopeo-signed/public-key.pem localhost/test/img:v1 &&
	jq -e ".verified == false and .signatures[0].reason == \"signature does not verify with any given key\"" out
'

test_expect_success 'Docker Hub images are signed for index.docker.io/... as cosign spells it' '
	lading copy -q oci:$S/skopeo-signed-layout:v1 busybox:1.36 &&
	lading sign --format json --key me.key busybox:1.36 >b.json &&
	jq -e ".[0].docker_reference == \"index.docker.io/library/busybox\" and .[0].signatures == \"docker.io/library/busybox:sha256-${D#sha256:}.sig\"" b.json &&
	lading verify -q --key me.pub docker.io/library/busybox:1.36
'

test_expect_success 'an image missing from the store is an error (exit 1)' '
	fails_with 1 verify --key me.pub localhost/test/none:v1 &&
	test "$(wc -l <err)" = 1 &&
	fails_with 1 sign --key me.key localhost/test/none:v1
'
test_done
