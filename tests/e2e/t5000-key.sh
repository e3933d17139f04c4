#!/bin/bash
# lading key: generates cosign-format key pairs; reads skopeo's key files and the published
# vectors (both PEM types, N 32768/65536/131072), refuses SEC1, odd scrypt N and wrong passphrases.
. "$(dirname "$0")/lib.sh"
S=$FIXTURES/sigstore
# fails_with CODE ARGS...: runs lading, stderr into ./err, and checks the exit code.
fails_with() {
	_want=$1; shift
	"$LADING" "$@" 2>err; _got=$?
	[ "$_got" = "$_want" ] || { echo "expected exit $_want, got $_got" >&2; cat err >&2; return 1; }
}

test_expect_success 'key generate writes an encrypted cosign key (N=32768) and a PEM public key' '
	LADING_PASSWORD=pw lading key generate --output-prefix k >out &&
	grep -q "Private key written to k.key" out &&
	test "$(stat -c %a k.key)" = 600 &&
	head -1 k.key | grep -qx -- "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----" &&
	grep -v -- ----- k.key | base64 -d >k.json &&
	jq -e ".kdf.name == \"scrypt\" and .kdf.params == {\"N\":32768,\"r\":8,\"p\":1} and .cipher.name == \"nacl/secretbox\"" k.json &&
	test "$(jq -r .kdf.salt k.json | base64 -d | wc -c)" = 32 &&
	test "$(jq -r .cipher.nonce k.json | base64 -d | wc -c)" = 24 &&
	openssl pkey -pubin -in k.pub -noout -text | grep -q "NIST CURVE: P-256"
'

test_expect_success 'key public recovers the public key from the private one' '
	LADING_PASSWORD=pw lading key public --key k.key >pub.pem &&
	cmp pub.pem k.pub
'

test_expect_success 'key generate refuses to overwrite, --force does' '
	cp k.key k.key.orig &&
	LADING_PASSWORD=pw fails_with 1 key generate -o k &&
	grep -q "use --force" err && cmp k.key k.key.orig &&
	LADING_PASSWORD=pw lading key generate -o k --force >/dev/null &&
	! cmp -s k.key k.key.orig
'

test_expect_success 'COSIGN_PASSWORD works and the empty passphrase is allowed' '
	env -u LADING_PASSWORD COSIGN_PASSWORD= "$LADING" key generate -o empty >/dev/null &&
	env -u LADING_PASSWORD COSIGN_PASSWORD= "$LADING" key public --key empty.key | cmp - empty.pub
'

test_expect_success 'without a passphrase source and terminal, a clear error' '
	! env -u LADING_PASSWORD -u COSIGN_PASSWORD setsid -w "$LADING" key generate -o nopass 2>err </dev/null &&
	grep -q "set LADING_PASSWORD" err && test ! -e nopass.key
'

test_expect_success 'on a terminal the passphrase is asked (twice for generate)' '
	printf "secret\nsecret\n" | env -u LADING_PASSWORD -u COSIGN_PASSWORD timeout 20 script -qec "$LADING key generate -o tty" /dev/null >tty.out &&
	grep -q "Enter passphrase again" tty.out && test -s tty.key &&
	LADING_PASSWORD=secret "$LADING" key public --key tty.key | cmp - tty.pub &&
	printf "a\nb\n" | env -u LADING_PASSWORD -u COSIGN_PASSWORD timeout 20 script -qec "$LADING key generate -o tty2" /dev/null >tty2.out;
	grep -q "passphrases do not match" tty2.out && test ! -e tty2.key
'

test_expect_success 'skopeo 1.13.3 (N=32768) and 1.14.6 (N=65536) key files decrypt to their public keys' '
	for v in 1.13.3 1.14.6; do
		COSIGN_PASSWORD=test-pass lading key public --key $S/keys/skopeo-$v-generated.private >p.pem &&
		cmp p.pem $S/keys/skopeo-$v-generated.pub || return 1
	done
'

test_expect_success 'cosign vectors: ENCRYPTED SIGSTORE type reads, SEC1 plaintext is refused' '
	LADING_PASSWORD=hello lading key public --key $S/vectors/cosign-keys_test-pemsigstorekey.key >p.pem &&
	openssl pkey -pubin -in p.pem -noout &&
	LADING_PASSWORD=hello lading key public --key $S/vectors/cosign-keys_test-pemcosignkey-rsa.key >p2.pem &&
	LADING_PASSWORD=hello fails_with 1 key public --key $S/vectors/cosign-keys_test-pemcosigneckey-sec1.key &&
	test "$(wc -l <err)" = 1 && grep -q "not PKCS#8" err
'

test_expect_success 'a wrong passphrase is reported as such' '
	LADING_PASSWORD=nope fails_with 1 key public --key $S/keys/skopeo-1.13.3-generated.private &&
	grep -q "skopeo-1.13.3-generated.private: decryption failed (wrong passphrase?)" err
'

test_expect_success 'scrypt N outside {32768,65536,131072} is refused before deriving' '
	for n in 16384 1048576 4294967296; do
		printf "{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"N\":%s,\"r\":8,\"p\":1},\"salt\":\"AAAA\"},\"cipher\":{\"name\":\"nacl/secretbox\",\"nonce\":\"AAAA\"},\"ciphertext\":\"AAAA\"}" $n >j &&
		{ echo "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----"; base64 -w64 j; echo "-----END ENCRYPTED COSIGN PRIVATE KEY-----"; } >bad.key &&
		LADING_PASSWORD=x fails_with 1 key public --key bad.key &&
		grep -q "scrypt parameters N=$n r=8 p=1 refused" err || return 1
	done
'

test_expect_success 'a PEM of another type is refused by name' '
	openssl ecparam -name prime256v1 -genkey -noout -out ec.pem &&
	LADING_PASSWORD=x fails_with 1 key public --key ec.pem &&
	grep -q "PEM type \"EC PRIVATE KEY\" is not a cosign key" err
'

test_expect_success 'usage errors exit 2' '
	expect_exit 2 lading key frobnicate 2>/dev/null &&
	expect_exit 2 lading key public 2>/dev/null
'
test_done
