#!/bin/bash
# Broken images given to lading analyze: each fails with exit 1 and one line on stderr that
# names the layer (index and digest) and the reason; nothing is printed on stdout; nothing
# crashes (the suite runs again under ASan). The images are built here, in python3: an OCI
# layout whose layer blob is made wrong in exactly one way.
. "$(dirname "$0")/lib.sh"
# The system python: a pyenv shim costs seconds per call on a loaded machine.
PYTHON=$(command -v /usr/bin/python3 || command -v python3)

# mkimage DIR LAYER.tar[,LAYER.tar...] [MODE]: an OCI layout with gzip layers made from the tars;
# MODE applies to the last layer, whose digest is printed.
# MODE: ok | truncate (gzip cut in half, digest of what is left) | baddigest (uncompressed, one
# byte of file data changed after the digest was taken, so only the digest can tell) | plain (no
# compression) | baddiffid (the config lies about the diff_id)
mkimage() {
  "$PYTHON" - "$@" <<'PY'
import gzip, hashlib, json, os, sys
out, layer_tar = sys.argv[1], sys.argv[2]
mode = sys.argv[3] if len(sys.argv) > 3 else "ok"
os.makedirs(out + "/blobs/sha256", exist_ok=True)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(out + "/blobs/sha256/" + d, "wb").write(data)
    return "sha256:" + d, len(data)
tars = layer_tar.split(",")
layers, diff_ids = [], []
for n, path in enumerate(tars):
    m = mode if n == len(tars) - 1 else "ok"
    tar = open(path, "rb").read()
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    if m == "baddiffid":
        diff_id = "sha256:" + "0" * 64
    plain = m in ("plain", "baddigest")
    blob = tar if plain else gzip.compress(tar, mtime=0)
    if m == "truncate":
        blob = blob[: len(blob) // 2]
    ldig, lsize = put(blob)
    if m == "baddigest":
        b = bytearray(blob); b[512 + 10] ^= 0x01
        open(out + "/blobs/sha256/" + ldig.split(":")[1], "wb").write(bytes(b))
    mt = "application/vnd.oci.image.layer.v1.tar" + ("" if plain else "+gzip")
    layers.append({"mediaType": mt, "digest": ldig, "size": lsize})
    diff_ids.append(diff_id)
config = json.dumps({"architecture": "amd64", "os": "linux",
    "rootfs": {"type": "layers", "diff_ids": diff_ids},
    "history": [{"created_by": "/bin/sh -c make layer %d" % i} for i in range(len(tars))]}).encode()
cdig, csize = put(config)
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdig, "size": csize},
    "layers": layers}).encode()
mdig, msize = put(manifest)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": mdig, "size": msize, "annotations": {"org.opencontainers.image.ref.name": "t"}}]},
    open(out + "/index.json", "w"))
open(out + "/oci-layout", "w").write('{"imageLayoutVersion": "1.0.0"}')
print(ldig)
PY
}

# mktar OUT NAME...: a tar with one small file per NAME, names written exactly as given.
mktar() {
  "$PYTHON" - "$@" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    for name in sys.argv[2:]:
        data = b"x" * 100
        i = tarfile.TarInfo(name); i.size = len(data); i.mode = 0o644
        t.addfile(i, io.BytesIO(data))
PY
}

# The error is one line on stderr (besides set -x traces), starts with "lading: ", names the
# layer (index ${4:-0} and digest), and stdout is empty.
fails_naming_layer() {
  out=$1 err=$2 digest=$3
  test ! -s "$out" &&
  test "$(grep -cv '^+' "$err")" = 1 &&
  grep -v '^+' "$err" | grep -E "^lading: .*layer ${4:-0} $digest"
}

test_expect_success 'a well-formed generated image analyzes (the builder itself is right)' '
  mktar good.tar etc/a etc/b &&
  mkimage good good.tar >/dev/null &&
  lading analyze --format json oci:good:t >out.json &&
  jq -e ".layers[0].entries == 2 and .size == 200" out.json &&
  mkimage plain good.tar plain >/dev/null &&
  lading analyze --format json oci:plain:t >/dev/null
'

test_expect_success 'truncated gzip: exit 1, one line naming the layer' '
  d=$(mkimage trunc good.tar truncate) &&
  expect_exit 1 lading analyze oci:trunc:t >out 2>err &&
  fails_naming_layer out err "$d"
'

test_expect_success 'blob bytes that do not match the digest: exit 1, one line naming it' '
  d=$(mkimage bad good.tar baddigest) &&
  expect_exit 1 lading analyze oci:bad:t >out 2>err &&
  fails_naming_layer out err "$d" && grep -i "digest" err
'

test_expect_success 'config diff_id that does not match the layer content: exit 1' '
  d=$(mkimage lie good.tar baddiffid) &&
  expect_exit 1 lading analyze oci:lie:t >out 2>err &&
  fails_naming_layer out err "$d" && grep "the image config says" err
'

test_expect_success 'layer entry ../x: exit 1, one line naming the layer and the entry' '
  mktar dotdot.tar ok ../x &&
  d=$(mkimage dotdot dotdot.tar) &&
  expect_exit 1 lading analyze oci:dotdot:t >out 2>err &&
  fails_naming_layer out err "$d" && grep -F "../x" err
'

test_expect_success 'layer entry /abs: exit 1, one line naming the layer and the entry' '
  mktar abs.tar ok /etc/abs &&
  d=$(mkimage abs abs.tar) &&
  expect_exit 1 lading analyze oci:abs:t >out 2>err &&
  fails_naming_layer out err "$d" && grep -F "/etc/abs" err
'

test_expect_success 'tar whose declared size is larger than its data: exit 1, one line' '
  "$PYTHON" -c "
import io, tarfile
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode=\"w\", format=tarfile.USTAR_FORMAT) as t:
    i = tarfile.TarInfo(\"big\"); i.size = 100000
    t.addfile(i, io.BytesIO(b\"y\" * 100000))
open(\"short.tar\", \"wb\").write(buf.getvalue()[:512 + 3000])
" &&
  d=$(mkimage short short.tar) &&
  expect_exit 1 lading analyze oci:short:t >out 2>err &&
  fails_naming_layer out err "$d" &&
  d=$(mkimage shortplain short.tar plain) &&
  expect_exit 1 lading analyze oci:shortplain:t >out 2>err &&
  fails_naming_layer out err "$d"
'

test_expect_success 'a bad layer after good ones is reported as that layer, whatever -j' '
  mktar l1.tar usr/a &&
  d=$(mkimage multi good.tar,l1.tar,good.tar truncate) &&
  expect_exit 1 lading analyze -j 1 oci:multi:t >out 2>err &&
  fails_naming_layer out err "$d" 2 &&
  expect_exit 1 lading analyze -j 3 oci:multi:t >out 2>err &&
  fails_naming_layer out err "$d" 2
'

test_expect_success 'not an image at all: exit 1, one line' '
  echo nothing >notar &&
  expect_exit 1 lading analyze oci-archive:notar >out 2>err &&
  test ! -s out && test "$(grep -cv "^+" err)" = 1 && grep "^lading: " err
'

test_done
