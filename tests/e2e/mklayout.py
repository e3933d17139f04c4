#!/usr/bin/env python3
"""Writes an OCI image layout from layer files, for tests that need exact (or broken) images.

mklayout.py DIR TAG [--layer FILE[=MEDIATYPE]]... [--lie-digest N] [--drop-blob N]
            [--manifest-media-type MT] [--raw-manifest FILE]

--lie-digest N   layer N's descriptor claims the digest of other bytes (a mismatch)
--drop-blob N    layer N's blob is not written (a manifest naming a missing blob)
--raw-manifest   use FILE's bytes as the manifest (malformed JSON, wrong media types)
"""
import argparse, gzip, hashlib, json, os, subprocess

def put(d, data):
    h = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.join(d, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(d, "blobs", "sha256", h), "wb") as f:
        f.write(data)
    return "sha256:" + h

ap = argparse.ArgumentParser()
ap.add_argument("dir"); ap.add_argument("tag")
ap.add_argument("--layer", action="append", default=[])
ap.add_argument("--lie-digest", type=int, action="append", default=[])
ap.add_argument("--drop-blob", type=int, action="append", default=[])
ap.add_argument("--manifest-media-type", default="application/vnd.oci.image.manifest.v1+json")
ap.add_argument("--raw-manifest")
a = ap.parse_args()
os.makedirs(a.dir, exist_ok=True)
with open(os.path.join(a.dir, "oci-layout"), "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
layers, diff_ids = [], []
for i, spec in enumerate(a.layer):
    path, _, mt = spec.partition("=")
    data = open(path, "rb").read()
    if not mt:
        mt = "application/vnd.oci.image.layer.v1.tar"
        if data[:2] == b"\x1f\x8b": mt += "+gzip"
        elif data[:4] == b"\x28\xb5\x2f\xfd": mt += "+zstd"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if i not in a.drop_blob:
        put(a.dir, data)
    if i in a.lie_digest:
        digest = "sha256:" + hashlib.sha256(b"x" + data).hexdigest()
        # the blob file named by the lie holds the real (different) bytes
        with open(os.path.join(a.dir, "blobs", "sha256", digest[7:]), "wb") as f:
            f.write(data)
    layers.append({"mediaType": mt, "digest": digest, "size": len(data)})
    raw = data
    try:
        if data[:2] == b"\x1f\x8b": raw = gzip.decompress(data)
        elif data[:4] == b"\x28\xb5\x2f\xfd": raw = subprocess.run(["zstd", "-dc"], input=data, capture_output=True).stdout
    except Exception:
        pass  # truncated on purpose: the diff_id does not matter then
    diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
config = json.dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": diff_ids},
                     "history": [{"created_by": "/bin/sh -c layer %d" % i} for i in range(len(layers))]}).encode()
cd = put(a.dir, config)
if a.raw_manifest:
    mbytes = open(a.raw_manifest, "rb").read()
    mt = a.manifest_media_type
else:
    mbytes = json.dumps({"schemaVersion": 2, "mediaType": a.manifest_media_type,
                         "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(config)},
                         "layers": layers}).encode()
    mt = a.manifest_media_type
md = put(a.dir, mbytes)
index = {"schemaVersion": 2, "manifests": [{"mediaType": mt, "digest": md, "size": len(mbytes),
                                             "annotations": {"org.opencontainers.image.ref.name": a.tag}}]}
with open(os.path.join(a.dir, "index.json"), "w") as f:
    json.dump(index, f)
