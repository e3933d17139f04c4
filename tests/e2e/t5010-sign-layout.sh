#!/bin/bash
# Sign and verify in oci: layouts: skopeo's signed layout verifies, our signatures append to its
# .sig manifest in skopeo's exact layout, openssl accepts them, and tampering is caught.
. "$(dirname "$0")/lib.sh"
require_cmd umoci jq openssl
S=$FIXTURES/sigstore
D=sha256:61d5468249880e5762d74be4cddd9d0483077490dd02610a1e9327eeed77fe9e
SIGTAG=sha256-${D#sha256:}.sig
export LADING_PASSWORD=pw
fails_with() {
	_want=$1; shift
	"$LADING" "$@" >out 2>err; _got=$?
	[ "$_got" = "$_want" ] || { echo "expected exit $_want, got $_got" >&2; cat out err >&2; return 1; }
}
# blob LAYOUT REFNAME: path of the manifest blob an index.json entry names
manifest_of() { echo "$1/blobs/sha256/$(jq -r --arg n "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$1/index.json" | cut -d: -f2)"; }
# retag LAYOUT REFNAME NEW_MANIFEST_FILE: stores the file as a blob and points REFNAME at it
retag() {
	_d=$(sha256sum "$3" | cut -d" " -f1) && cp "$3" "$1/blobs/sha256/$_d" &&
	jq --arg n "$2" --arg d "sha256:$_d" --argjson s "$(stat -c %s "$3")" \
		'.manifests |= map(if .annotations["org.opencontainers.image.ref.name"] == $n then .digest = $d | .size = $s else . end)' \
		"$1/index.json" >"$1/index.tmp" && mv "$1/index.tmp" "$1/index.json"
}

(cd "$TRASH" && "$LADING" key generate -o me >/dev/null && "$LADING" key generate -o other >/dev/null)

test_expect_success 'skopeo-signed layout verifies with skopeo key, not with another (exit 3)' '
	cp -r $S/skopeo-signed-layout lay &&
	lading verify --key $S/skopeo-signed/public-key.pem oci:lay:v1 >out &&
	grep -q "valid    signed by .*public-key.pem for 127.0.0.1:5055/test/skopeo-signed:v1 by containers/image 5.29.4" out &&
	fails_with 3 verify --key me.pub oci:lay:v1 &&
	grep -q "signature does not verify with any given key" out
'

test_expect_success 'verify --format json names the key, identity and digest' '
	lading verify --format json --key me.pub --key $S/skopeo-signed/public-key.pem oci:lay:v1 >v.json &&
	jq -e --arg d $D ".verified and .valid_count == 1 and .digest == \$d and .signatures[0].key_id != null and .signatures[0].signed_digest == \$d and .signatures[0].timestamp == 1795810139" v.json
'

test_expect_success 'a layout needs --identity to be signed' '
	fails_with 2 sign --key me.key oci:lay:v1 &&
	grep -q "give --identity" err
'

test_expect_success 'signing appends a second layer, keeping skopeo s layer byte for byte' '
	lading sign --key me.key --identity 127.0.0.1:5055/test/skopeo-signed oci:lay:v1 >out &&
	m=$(manifest_of lay $SIGTAG) &&
	jq -e ".layers | length == 2" $m &&
	jq -c ".layers[0]" $m >first && jq -c ".layers[0]" $S/skopeo-signed/sig-manifest.json >want &&
	cmp first want &&
	jq -e ".mediaType == \"application/vnd.oci.image.manifest.v1+json\" and .layers[1].mediaType == \"application/vnd.dev.cosign.simplesigning.v1+json\"" $m
'

test_expect_success 'our payload is cosign s exact bytes and openssl dgst accepts our signature' '
	m=$(manifest_of lay $SIGTAG) &&
	p=lay/blobs/sha256/$(jq -r ".layers[1].digest" $m | cut -d: -f2) &&
	printf "{\"critical\":{\"identity\":{\"docker-reference\":\"127.0.0.1:5055/test/skopeo-signed\"},\"image\":{\"docker-manifest-digest\":\"%s\"},\"type\":\"cosign container image signature\"},\"optional\":null}" $D >want &&
	cmp $p want &&
	jq -r ".layers[1].annotations[\"dev.cosignproject.cosign/signature\"]" $m | base64 -d >sig.der &&
	openssl dgst -sha256 -verify me.pub -signature sig.der $p | grep -q "Verified OK" &&
	c=lay/blobs/sha256/$(jq -r ".config.digest" $m | cut -d: -f2) &&
	jq -e --argjson l "$(jq "[.layers[].digest]" $m)" ".rootfs.diff_ids == \$l and .architecture == \"\" and .os == \"\"" $c
'

test_expect_success 'both signatures verify; signing the same thing again adds nothing' '
	lading verify --key me.pub --key $S/skopeo-signed/public-key.pem oci:lay:v1 >out &&
	grep -q "Verified: 2 valid signatures" out &&
	before=$(manifest_of lay $SIGTAG) &&
	lading sign --key me.key --identity 127.0.0.1:5055/test/skopeo-signed oci:lay:v1 >out &&
	grep -q "Already signed" out &&
	test "$(manifest_of lay $SIGTAG)" = "$before"
'

test_expect_success 'a second signer appends a third layer (annotations go into optional)' '
	lading sign --key other.key -a team=infra -a "note=<b&>" --identity 127.0.0.1:5055/test/skopeo-signed oci:lay:v1 >/dev/null &&
	m=$(manifest_of lay $SIGTAG) && jq -e ".layers | length == 3" $m &&
	p=lay/blobs/sha256/$(jq -r ".layers[2].digest" $m | cut -d: -f2) &&
	grep -q "\"optional\":{\"note\":\"\\\\u003cb\\\\u0026\\\\u003e\",\"team\":\"infra\"}}" $p &&
	lading verify --key other.pub oci:lay:v1 | grep -q "1 valid signature"
'

test_expect_success 'tampering: an edited payload blob is caught (digest mismatch)' '
	cp -r lay t1 && m=$(manifest_of t1 $SIGTAG) &&
	for i in 0 1 2; do
		p=t1/blobs/sha256/$(jq -r ".layers[$i].digest" $m | cut -d: -f2) &&
		sed -i "s/skopeo-signed/skopeo-signeD/" $p || return 1
	done &&
	fails_with 3 verify --key me.pub --key other.pub --key $S/skopeo-signed/public-key.pem oci:t1:v1 &&
	grep -q "payload blob" out && grep -q "Not verified: 0 valid" out
'

test_expect_success 'tampering: a re-hashed edited payload fails the signature' '
	cp -r lay t2 && m=$(manifest_of t2 $SIGTAG) &&
	p=t2/blobs/sha256/$(jq -r ".layers[1].digest" $m | cut -d: -f2) &&
	sed "s/skopeo-signed/skopeo-signeD/" $p >edited &&
	nd=$(sha256sum edited | cut -d" " -f1) && cp edited t2/blobs/sha256/$nd &&
	jq -c --arg d sha256:$nd ".layers = [.layers[1] | .digest = \$d]" $m >newm &&
	retag t2 $SIGTAG newm &&
	fails_with 3 verify --key me.pub oci:t2:v1 &&
	grep -q "signature does not verify with any given key" out
'

test_expect_success 'tampering: an edited signature annotation is caught' '
	cp -r lay t3 && m=$(manifest_of t3 $SIGTAG) &&
	jq -c ".layers = [.layers[1] | .annotations[\"dev.cosignproject.cosign/signature\"] = \"MEUCIQDx\" + .annotations[\"dev.cosignproject.cosign/signature\"][8:]]" $m >newm &&
	retag t3 $SIGTAG newm &&
	fails_with 3 verify --key me.pub oci:t3:v1
'

test_expect_success 'tampering: a .sig moved onto another image is caught' '
	cp -r lay t4 && umoci new --image t4:other &&
	od=$(jq -r ".manifests[] | select(.annotations[\"org.opencontainers.image.ref.name\"] == \"other\") | .digest" t4/index.json) &&
	sd=$(jq -c ".manifests[] | select(.annotations[\"org.opencontainers.image.ref.name\"] == \"$SIGTAG\")" t4/index.json) &&
	jq --argjson e "$sd" --arg n "sha256-${od#sha256:}.sig" ".manifests += [\$e | .annotations[\"org.opencontainers.image.ref.name\"] = \$n]" t4/index.json >t4/i && mv t4/i t4/index.json &&
	fails_with 3 verify --key me.pub oci:t4:other &&
	grep -q "payload signs $D, not this image" out
'

test_expect_success 'tampering: a .sig manifest of another media type is refused' '
	cp -r lay t5 && m=$(manifest_of t5 $SIGTAG) &&
	jq -c ".mediaType = \"application/vnd.docker.distribution.manifest.v2+json\"" $m >newm &&
	retag t5 $SIGTAG newm &&
	fails_with 3 verify --key me.pub oci:t5:v1 &&
	grep -q "is not application/vnd.oci.image.manifest.v1+json" out &&
	fails_with 1 sign --key me.key --identity x.io/y oci:t5:v1 &&
	grep -q "will not append" err
'

test_expect_success 'an unsigned image exits 3; errors exit 1; a missing key file is named' '
	umoci new --image lay:bare &&
	fails_with 3 verify --key me.pub oci:lay:bare && grep -q "no signatures" out &&
	fails_with 1 verify --key me.pub oci:nowhere:v1 &&
	fails_with 1 verify --key missing.pub oci:lay:v1 && grep -q "missing.pub" err &&
	fails_with 2 verify oci:lay:v1
'

test_expect_success 'a wrong passphrase writes nothing' '
	before=$(manifest_of lay $SIGTAG) &&
	LADING_PASSWORD=bad fails_with 1 sign --key me.key --identity x.io/y oci:lay:v1 &&
	grep -q "wrong passphrase" err &&
	test "$(manifest_of lay $SIGTAG)" = "$before"
'

test_expect_success 'an index is signed by its own digest (what runtimes resolve), not by its children' '
	cp -r $S/skopeo-signed-layout ix &&
	printf "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":499,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}" $D >index.blob &&
	id=$(sha256sum index.blob | cut -d" " -f1) && cp index.blob ix/blobs/sha256/$id &&
	jq --arg d sha256:$id --argjson s $(stat -c %s index.blob) ".manifests += [{mediaType: \"application/vnd.oci.image.index.v1+json\", digest: \$d, size: \$s, annotations: {\"org.opencontainers.image.ref.name\": \"multi\"}}]" ix/index.json >ix/i && mv ix/i ix/index.json &&
	lading sign --format json --key me.key --identity x.io/multi oci:ix:multi >s.json &&
	jq -e --arg d sha256:$id ".[0].digest == \$d" s.json &&
	lading verify -q --key me.pub oci:ix:multi &&
	fails_with 3 verify --key me.pub oci:ix:v1
'

test_expect_success 'archives: verify reads an oci-archive, sign refuses archives' '
	tar -C lay -cf lay.tar . &&
	lading verify --key me.pub oci-archive:lay.tar:v1 | grep -q "Verified" &&
	fails_with 1 sign --key me.key --identity x.io/y oci-archive:lay.tar:v1 &&
	grep -q "cannot be added to an archive" err
'
test_done
