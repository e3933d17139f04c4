#!/bin/bash
# lading policy check: allowed registries, digest required, signature required by one of a set of
# keys; each rule printed with its reason; exit 3 on a violation, 1 on a broken policy file.
. "$(dirname "$0")/lib.sh"
S=$FIXTURES/sigstore
D=sha256:61d5468249880e5762d74be4cddd9d0483077490dd02610a1e9327eeed77fe9e
export LADING_PASSWORD=pw
fails_with() {
	_want=$1; shift
	"$LADING" "$@" >out 2>err; _got=$?
	[ "$_got" = "$_want" ] || { echo "expected exit $_want, got $_got" >&2; cat out err >&2; return 1; }
}
(cd "$TRASH" && mkdir keys && "$LADING" key generate -o keys/release >/dev/null &&
	"$LADING" key generate -o keys/other >/dev/null &&
	"$LADING" copy -q oci:$S/skopeo-signed-layout:v1 registry.example.com/team/web:1 &&
	"$LADING" copy -q oci:$S/skopeo-signed-layout:v1 quay.io/else/web:1 &&
	"$LADING" sign -q --key keys/release.key registry.example.com/team/web:1)

cat >"$TRASH/strict.yaml" <<'YML'
# production admission
registries:
  - registry.example.com/team
  - 127.0.0.1:5000
requireDigest: true
signatures:
  keys:
    - keys/other.pub
    - keys/release.pub
YML

test_expect_success 'a signed image in an allowed registry, by digest, is allowed' '
	lading policy check --policy strict.yaml registry.example.com/team/web@$D >out &&
	grep -q "ok    registries     registry.example.com/team/web is in an allowed registry" out &&
	grep -q "ok    requireDigest  referenced by digest $D" out &&
	grep -q "ok    signatures     signed by ./keys/release.pub" out &&
	grep -qx "Allowed" out
'

test_expect_success 'by tag: requireDigest is violated (exit 3), the other rules still reported' '
	fails_with 3 policy check --policy strict.yaml registry.example.com/team/web:1 &&
	grep -q "FAIL  requireDigest  referenced by tag, not by digest" out &&
	grep -q "ok    signatures" out && grep -q "Policy violated: 1 rule" out
'

test_expect_success 'another registry and no signature: two violations with reasons, JSON' '
	fails_with 3 policy check --format json --policy strict.yaml quay.io/else/web@$D &&
	jq -e ".allowed == false and .registry == \"quay.io\" and ([.rules[] | select(.ok == false) | .rule] == [\"registries\", \"signatures\"]) and .rules[2].reason == \"no signatures\"" out
'

test_expect_success 'a signature by a key the policy does not list is a violation' '
	printf "signatures:\n  keys: [keys/other.pub]\n" >other.yaml &&
	fails_with 3 policy check --policy other.yaml registry.example.com/team/web:1 &&
	grep -q "FAIL  signatures     no valid signature by the policy.s keys (1 signature: signature does not verify with any given key)" out
'

test_expect_success 'registries: host entries match the domain, docker.io aliases index.docker.io' '
	printf "registries: [quay.io]\n" >q.yaml &&
	lading policy check -q --policy q.yaml quay.io/else/web:1 &&
	printf "registries: [index.docker.io]\n" >h.yaml &&
	"$LADING" copy -q oci:$S/skopeo-signed-layout:v1 busybox:1 &&
	lading policy check -q --policy h.yaml busybox:1 &&
	printf "registries: [registry.example.com/tea]\n" >p.yaml &&
	fails_with 3 policy check --policy p.yaml registry.example.com/team/web:1
'

test_expect_success 'a layout has no registry and no digest reference' '
	fails_with 3 policy check --policy strict.yaml oci:$S/skopeo-signed-layout:v1 &&
	grep -q "FAIL  registries     the image is not in a registry" out &&
	grep -q "FAIL  requireDigest" out &&
	printf "signatures:\n  keys: [$S/skopeo-signed/public-key.pem]\n" >sk.yaml &&
	lading policy check --policy sk.yaml oci:$S/skopeo-signed-layout:v1 | grep -q "ok    signatures"
'

test_expect_success 'broken policy files are errors naming file and line (exit 1)' '
	printf "registries: [a]\nrequireDigests: true\n" >typo.yaml &&
	fails_with 1 policy check --policy typo.yaml quay.io/else/web:1 &&
	grep -qx "lading: typo.yaml:2: unknown key \"requireDigests\" (registries, requireDigest, signatures)" err &&
	printf "requireDigest: maybe\n" >b.yaml &&
	fails_with 1 policy check --policy b.yaml quay.io/else/web:1 && grep -q "b.yaml:1: requireDigest must be true or false" err &&
	printf "signatures:\n  keys: [nokey.pub]\n" >k.yaml &&
	fails_with 1 policy check --policy k.yaml quay.io/else/web:1 && grep -q "nokey.pub" err &&
	printf "registries: [unclosed\n" >y.yaml &&
	fails_with 1 policy check --policy y.yaml quay.io/else/web:1 && grep -q "y.yaml:.*YAML" err &&
	fails_with 2 policy check quay.io/else/web:1 &&
	fails_with 1 policy check --policy strict.yaml registry.example.com/none:1
'
test_done
