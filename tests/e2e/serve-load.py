#!/usr/bin/env python3
"""Load generator and verifier for the registry reliability tests (t3200).

  serve-load.py load HOST:PORT CLIENTS SECONDS   clients push random blobs (monolithic or
                                                 POST+PATCH+PUT) and pull them back, verifying
                                                 digests; prints "requests N failures F"
  serve-load.py push HOST:PORT CLIENTS           clients push small images (2 blobs + manifest,
                                                 tagged) until killed
  serve-load.py verify HOST:PORT ROOT            every tag resolves, every referenced blob is
                                                 served with its digest; every stored blob file
                                                 hashes to its name; prints "tags N blobs M"
"""
import hashlib, http.client, json, os, sys, threading, time

def conn(addr):
    host, port = addr.rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=30)

def call(c, method, path, body=None, headers=None):
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data

def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()

def push_blob(c, repo, data, chunked):
    d = digest(data)
    if not chunked:
        st, _, _ = call(c, "POST", f"/v2/{repo}/blobs/uploads/?digest={d}", data,
                        {"Content-Type": "application/octet-stream"})
        return st == 201, 1
    st, h, _ = call(c, "POST", f"/v2/{repo}/blobs/uploads/")
    if st != 202: return False, 1
    loc = h["location"]
    half = len(data) // 2
    st, h, _ = call(c, "PATCH", loc, data[:half], {"Content-Range": f"0-{half - 1}",
                                                   "Content-Type": "application/octet-stream"})
    if st != 202: return False, 2
    st, _, _ = call(c, "PUT", f"{loc}?digest={d}", data[half:],
                    {"Content-Type": "application/octet-stream"})
    return st == 201, 3

def load(addr, clients, seconds):
    stats = {"req": 0, "fail": 0}
    lock = threading.Lock()
    deadline = time.time() + seconds
    def worker(i):
        c = conn(addr)
        req = fail = 0
        n = 0
        while time.time() < deadline:
            repo = f"load/r{i % 10}"
            data = os.urandom(1000 + (i * 7919 + n * 104729) % 200000)
            try:
                ok, k = push_blob(c, repo, data, n % 2 == 1)
                req += k
                if not ok: fail += 1
                st, _, body = call(c, "GET", f"/v2/{repo}/blobs/{digest(data)}")
                req += 1
                if st != 200 or digest(body) != digest(data): fail += 1
            except Exception as e:
                fail += 1
                print(f"client {i}: {e}", file=sys.stderr)
                c = conn(addr)
            n += 1
        with lock:
            stats["req"] += req
            stats["fail"] += fail
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in ts: t.start()
    for t in ts: t.join()
    print(f"requests {stats['req']} failures {stats['fail']}")
    return 0 if stats["fail"] == 0 and stats["req"] > clients else 1

def push(addr, clients):
    def worker(i):
        c = conn(addr)
        n = 0
        while True:
            repo = f"crash/r{i % 5}"
            try:
                layer = os.urandom(50000 + n * 1000)
                config = json.dumps({"architecture": "amd64", "os": "linux", "n": [i, n]}).encode()
                for b in (layer, config):
                    ok, _ = push_blob(c, repo, b, n % 2 == 0)
                man = json.dumps({"schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": digest(config), "size": len(config)},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                "digest": digest(layer), "size": len(layer)}]}).encode()
                call(c, "PUT", f"/v2/{repo}/manifests/c{i}-{n}", man,
                     {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
            except Exception:
                time.sleep(0.05)
                c = conn(addr)
            n += 1
    for i in range(clients):
        threading.Thread(target=worker, args=(i,), daemon=True).start()
    while True: time.sleep(1)

def verify(addr, root):
    c = conn(addr)
    bad = 0
    tags = blobs = 0
    _, _, body = call(c, "GET", "/v2/_catalog")
    for repo in json.loads(body)["repositories"]:
        _, _, body = call(c, "GET", f"/v2/{repo}/tags/list")
        for tag in json.loads(body)["tags"] or []:
            tags += 1
            st, h, man = call(c, "GET", f"/v2/{repo}/manifests/{tag}")
            if st != 200 or h.get("docker-content-digest") != digest(man):
                print(f"{repo}:{tag}: manifest {st}", file=sys.stderr); bad += 1; continue
            m = json.loads(man)
            for d in [m["config"]] + m["layers"]:
                blobs += 1
                st, _, b = call(c, "GET", f"/v2/{repo}/blobs/{d['digest']}")
                if st != 200 or digest(b) != d["digest"] or len(b) != d["size"]:
                    print(f"{repo}:{tag}: blob {d['digest']} {st}", file=sys.stderr); bad += 1
    bdir = os.path.join(root, "blobs", "sha256")
    for name in os.listdir(bdir):
        if name.startswith("."): continue
        with open(os.path.join(bdir, name), "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != name:
                print(f"stored blob {name} has other bytes", file=sys.stderr); bad += 1
    print(f"tags {tags} blobs {blobs} bad {bad}")
    return 0 if bad == 0 and tags > 0 else 1

if __name__ == "__main__":
    mode, addr = sys.argv[1], sys.argv[2]
    if mode == "load": sys.exit(load(addr, int(sys.argv[3]), float(sys.argv[4])))
    if mode == "push": push(addr, int(sys.argv[3]))
    if mode == "verify": sys.exit(verify(addr, sys.argv[3]))
