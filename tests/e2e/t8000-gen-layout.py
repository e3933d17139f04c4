#!/usr/bin/env python3
"""Test data for the t8xxx disk tests: OCI image layouts with random-content layers.

  t8000-gen-layout.py LAYOUT TAG=SPEC[,SPEC...]...   SPEC = name:size:seed, one uncompressed tar
                                                     layer each; several images per call
  t8000-gen-layout.py --blobs STOREDIR N SIZE [--referrer SUBJECT]
        N real (correctly named) unreferenced blobs; with --referrer, also an SBOM-like artifact
        manifest (and its empty config) whose subject is the manifest SUBJECT in the store

Layers with the same name/size/seed are byte-identical (fixed tar headers), so images made with
the same base spec share that layer's digest, as a real base image would. Random content does
not compress, so sizes on disk are what the test asks for.
"""
import hashlib, io, json, os, random, sys, tarfile

def put_blob(layout, data):
    d = hashlib.sha256(data).hexdigest()
    p = os.path.join(layout, "blobs", "sha256", d)
    if not os.path.exists(p):
        with open(p + ".tmp", "wb") as f:
            f.write(data)
        os.rename(p + ".tmp", p)
    return "sha256:" + d

_layers = {}

def layer(name, size, seed):
    key = (name, size, seed)
    if key not in _layers:
        _layers[key] = make_layer(name, size, seed)
    return _layers[key]

def make_layer(name, size, seed):
    rnd = random.Random(seed)
    content = rnd.randbytes(size)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime, ti.mode, ti.uid, ti.gid = size, 1700000000, 0o644, 0, 0
        t.addfile(ti, io.BytesIO(content))
    return buf.getvalue()

def image(layout, tag, specs):
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    layers, diff_ids = [], []
    for spec in specs:
        name, size, seed = spec.split(":")
        data = layer(name, int(size), seed)
        dg = put_blob(layout, data)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": dg, "size": len(data)})
        diff_ids.append(dg)
    config = json.dumps({"created": "2024-01-02T03:04:05Z", "architecture": "amd64", "os": "linux",
                         "config": {"Cmd": ["/bin/true"], "Labels": {"tag": tag}},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    cd = put_blob(layout, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(config)},
                           "layers": layers}).encode()
    md = put_blob(layout, manifest)
    ipath = os.path.join(layout, "index.json")
    index = {"schemaVersion": 2, "manifests": []}
    if os.path.exists(ipath):
        with open(ipath) as f:
            index = json.load(f)
    index["manifests"] = [m for m in index["manifests"]
                          if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag]
    index["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
                               "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": tag}})
    with open(ipath + ".tmp", "w") as f:
        json.dump(index, f)
    os.rename(ipath + ".tmp", ipath)
    print(md)

def blobs(store, n, size):
    os.makedirs(os.path.join(store, "blobs", "sha256"), exist_ok=True)
    for i in range(n):
        put_blob(store, os.urandom(size))

def referrer(store, subject):
    cfg = put_blob(store, b"{}")
    size = os.path.getsize(os.path.join(store, "blobs", "sha256", subject[7:]))
    empty = {"mediaType": "application/vnd.oci.empty.v1+json", "digest": cfg, "size": 2}
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "artifactType": "application/vnd.example.sbom", "config": empty, "layers": [empty],
                    "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                "digest": subject, "size": size}}).encode()
    print(put_blob(store, m))

if __name__ == "__main__":
    if sys.argv[1] == "--blobs":
        blobs(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        if len(sys.argv) > 6 and sys.argv[5] == "--referrer":
            referrer(sys.argv[2], sys.argv[6])
    else:
        for arg in sys.argv[2:]:
            tag, specs = arg.split("=", 1)
            image(sys.argv[1], tag, specs.split(","))
