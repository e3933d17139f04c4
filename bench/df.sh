#!/bin/bash
# bench/df.sh: lading df and a dry-run prune over
#   1. a store of 500 images / 3,010 layers (each image: one of 10 shared bases + 6 own layers,
#      small blobs written directly in the OCI layout, times in meta.db), against `du -s` of its
#      blobs (the floor: anything that sizes the store must at least stat every blob);
#   2. a containers-storage root (vfs driver, containers-storage's own JSON format) of 50 images /
#      165 layers with 10 containers, against `podman images` on the same root.
# Target: under 0.5 s each. Medians of RUNS runs (default 5), peak RSS from /usr/bin/time.
# Prints "name: ours X, peer Y, ratio Z".
set -eu
RUNS=${RUNS:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
: "${LADING:=$here/build/lading}"
. "$here/tests/e2e/lib.sh" >/dev/null
cd "$TRASH"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# runs "$@" RUNS times; appends wall seconds to $out.t, CPU seconds (user + sys: what the
# command itself costs, whatever else the machine runs) to $out.cpu, peak RSS (kB) to $out.rss
measure() {
  out=$1; shift
  : >"$out.t"; : >"$out.cpu"; : >"$out.rss"
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %U %S %M" -o tm "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; cat tm >&2; return 1; }
    read -r wall usr sys rss < <(tail -1 tm)
    echo "$wall" >>"$out.t"; echo "$usr + $sys" | bc >>"$out.cpu"; echo "$rss" >>"$out.rss"
  done
}
report() { # name ours-file peer-file
  o=$(median <"$2.t"); p=$(median <"$3.t")
  printf '%s: ours %.3fs (cpu %.3fs, peak RSS %d kB), peer %.3fs (cpu %.3fs), ratio %.2f\n' "$1" \
    "$o" "$(median <"$2.cpu")" "$(median <"$2.rss")" "$p" "$(median <"$3.cpu")" \
    "$(echo "$o / ($p + 0.0001)" | bc -l)"
}

# ---- 1. the store ----
export LADING_ROOT=$TRASH/store
"$LADING" df >/dev/null # creates the layout and meta.db
python3 - "$LADING_ROOT" <<'PY'
import hashlib, json, os, random, sqlite3, sys
root = sys.argv[1]
blobs = os.path.join(root, "blobs", "sha256")
def put(data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, d), "wb") as f: f.write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
L = "application/vnd.oci.image.layer.v1.tar"
bases = [dict(put(os.urandom(2048)), mediaType=L) for _ in range(10)]
index, rows = [], []
rnd = random.Random(7)
for i in range(500):
    layers = [bases[i % 10]] + [dict(put(os.urandom(512)), mediaType=L) for _ in range(6)]
    cfg = put(json.dumps({"created": "2024-01-02T03:04:05Z", "architecture": "amd64", "os": "linux",
                          "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}}).encode())
    m = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "config": dict(cfg, mediaType="application/vnd.oci.image.config.v1+json"),
                        "layers": layers}).encode())
    index.append(dict(m, mediaType="application/vnd.oci.image.manifest.v1+json",
                      annotations={"org.opencontainers.image.ref.name": "docker.io/bench/img%d:1" % i}))
    seen = 1700000000 + rnd.randrange(10**6)
    rows.append((m["digest"], seen, seen + rnd.randrange(10**6)))
with open(os.path.join(root, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": index}, f)
db = sqlite3.connect(os.path.join(root, "meta.db"))
db.executemany("INSERT OR REPLACE INTO images(digest, first_seen, last_used) VALUES(?,?,?)", rows)
db.commit()
PY
n=$("$LADING" df --format json --layers | jq -r '[(.images | length), ([.layers[] | select(.kind == "layer")] | length)] | map(tostring) | join("/")')
echo "# store: images/layers = $n"
du -s "$LADING_ROOT/blobs" >/dev/null
measure store-df "$LADING" df --format json
measure store-prune "$LADING" prune --all-unused --min-age 0 --dry-run --format json
measure store-du du -s "$LADING_ROOT/blobs"
report "df (store, 500 images/3010 layers) vs du -s blobs" store-df store-du
report "prune --dry-run (store) vs du -s blobs" store-prune store-du

# ---- 2. containers-storage ----
CS=$TRASH/cs
python3 - "$CS" <<'PY'
import hashlib, json, os, sys
root = sys.argv[1]
def mk(path, data=b""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f: f.write(data)
def hid(s): return hashlib.sha256(s.encode()).hexdigest()
T = "2026-01-02T03:04:05.123456789Z"
layers, images, containers = [], [], []
def layer(name, parent):
    lid = hid(name)
    l = {"id": lid, "created": T, "compressed-diff-digest": "sha256:" + hid("c" + name),
         "compressed-size": 4096, "diff-digest": "sha256:" + lid, "diff-size": 4608, "compression": 2}
    if parent: l["parent"] = parent
    layers.append(l)
    mk(os.path.join(root, "vfs/dir", lid, "f"), os.urandom(4096))
    mk(os.path.join(root, "vfs-layers", lid + ".tar-split.gz"), os.urandom(200))
    return lid
base = [layer("base%d" % b, None) for b in range(5)]
mid = [layer("mid%d" % m, base[m % 5]) for m in range(10)]
for i in range(50):
    top = mid[i % 10]
    for k in range(3): top = layer("img%d-%d" % (i, k), top)
    iid = hid("image%d" % i)
    images.append({"id": iid, "digest": "sha256:" + hid("m%d" % i), "names": ["quay.io/bench/img%d:1" % i],
                   "layer": top, "created": T, "big-data-names": ["manifest"]})
    mk(os.path.join(root, "vfs-images", iid, "manifest"), b"{}")
    if i < 10:
        cl = layer("ctr%d" % i, top)
        containers.append({"id": hid("ctr%d" % i), "names": ["c%d" % i], "image": iid, "layer": cl, "created": T})
mk(os.path.join(root, "vfs-layers/layers.json"), json.dumps(layers).encode())
mk(os.path.join(root, "vfs-images/images.json"), json.dumps(images).encode())
mk(os.path.join(root, "vfs-containers/containers.json"), json.dumps(containers).encode())
PY
RUN=$(mktemp -d /tmp/ldb.XXXXXX); test_at_end "rm -rf $RUN"
n=$("$LADING" df --containers-storage "$CS" --format json --layers | jq -r '[(.images | length), ([.layers[] | select(.kind == "layer")] | length)] | map(tostring) | join("/")')
echo "# containers-storage: images/layers = $n"
measure cs-df "$LADING" df --containers-storage "$CS" --format json
measure cs-prune "$LADING" prune --containers-storage "$CS" --all-unused --min-age 0 --format json
peer="podman --root $CS --runroot $RUN --storage-driver vfs --cgroup-manager cgroupfs --events-backend file images"
if $peer >/dev/null 2>&1; then
  measure cs-peer $peer; peer_name="podman images"
else # podman wants more of its own state than the JSON files; du is the floor then
  echo "# podman images cannot read the synthesised root; peer: du -s"
  measure cs-peer du -s "$CS"; peer_name="du -s"
fi
report "df (containers-storage, 50 images) vs $peer_name" cs-df cs-peer
report "prune advice (containers-storage) vs $peer_name" cs-prune cs-peer
