#!/bin/bash
# lading's incremental dive engine against a plain reference of dive's algorithm, on random
# images. The reference (python, below) does what dive's filetree/efficiency.go does, naively:
# one tree per layer, leaves visited in sorted children-first order, and for every whiteout the
# lower layers re-stacked from scratch. lading keeps one stacked tree and sorts each layer once.
# The random layers exercise what changes the numbers: whiteouts of files and of directories,
# whiteouts of paths that do not exist, opaque markers, directories only implied by deeper
# entries, the same path twice in one layer, files replaced by directories and back.
. "$(dirname "$0")/lib.sh"
# The system python: a pyenv shim costs seconds per call on a loaded machine.
PYTHON=$(command -v /usr/bin/python3 || command -v python3)

cat >"$TRASH/gen.py" <<'PY'
# gen.py DIR FROM TO: random OCI layouts DIR/imgSEED, one per seed.
import hashlib, io, json, os, random, sys, tarfile
NAMES = ["a", "b", "c", "a-b", "a.b", "B", "z"]

def rpath(rnd, depth):
    return "/".join(rnd.choice(NAMES) for _ in range(rnd.randint(1, depth)))

def layer(rnd, n, seen):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for _ in range(rnd.randint(1, 14)):
            p, op = rpath(rnd, 3), rnd.random()
            if 0.65 <= op < 0.85 and seen and rnd.random() < 0.7:
                p = rnd.choice(seen)  # mostly whiteouts of what lower layers have
            seen.append(p)
            if op < 0.45:
                data = rnd.randbytes(rnd.choice([0, 1, 100, 512, 3000]))
                i = tarfile.TarInfo(p); i.size = len(data); i.mode = rnd.choice([0o644, 0o755])
                t.addfile(i, io.BytesIO(data))
            elif op < 0.65:
                i = tarfile.TarInfo(p); i.type = tarfile.DIRTYPE; i.mode = 0o755; t.addfile(i)
            elif op < 0.85 and n > 0:
                d, b = os.path.split(p)
                t.addfile(tarfile.TarInfo(os.path.join(d, ".wh." + b)))
            elif op < 0.92:
                t.addfile(tarfile.TarInfo(os.path.join(p, ".wh..wh..opq")))
            else:
                i = tarfile.TarInfo(p); i.type = tarfile.SYMTYPE; i.linkname = "target"; t.addfile(i)
    return buf.getvalue()

def make(out, seed):
    rnd = random.Random(seed)
    os.makedirs(out + "/blobs/sha256")
    def put(data):
        d = hashlib.sha256(data).hexdigest()
        open(out + "/blobs/sha256/" + d, "wb").write(data)
        return "sha256:" + d, len(data)
    descs, seen = [], []
    for n in range(rnd.randint(2, 7)):
        dg, sz = put(layer(rnd, n, seen))
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": dg, "size": sz})
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descs]}}).encode()
    cd, cs = put(cfg)
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": descs}).encode()
    md, ms = put(man)
    json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": "t"}}]},
        open(out + "/index.json", "w"))
    open(out + "/oci-layout", "w").write('{"imageLayoutVersion": "1.0.0"}')

for seed in range(int(sys.argv[2]), int(sys.argv[3]) + 1):
    make("%s/img%d" % (sys.argv[1], seed), seed)
PY

cat >"$TRASH/reference.py" <<'PY'
# dive's efficiency, naively (see the header of this test).
import json, os, posixpath, sys, tarfile
WH, OPQ = ".wh.", ".wh..wh.."
class Node:
    def __init__(s, name, parent, info=None):
        s.name, s.parent, s.children = name, parent, {}
        s.info = info or {"size": 0, "dir": False}
    def path(s):
        parts, c = [], s
        while c.parent is not None:
            n = c.name[len(WH):] if c is s and c.name.startswith(WH) else c.name
            parts.insert(0, n); c = c.parent
        return "/" + "/".join(parts)
def add_path(root, path, info):
    names = [x for x in path.strip("/").split("/") if x]
    node = root
    for i, n in enumerate(names):
        if n in node.children: node = node.children[n]
        else:
            if n.startswith(OPQ): return
            c = Node(n, node); node.children[n] = c; node = c
        if i == len(names) - 1: node.info = info
def get(root, path):
    node = root
    for n in path.strip("/").split("/"):
        if n:
            if n not in node.children: return None
            node = node.children[n]
    return node
def visit(node, fn, leaves_only=False, is_root=True):
    for k in sorted(node.children, key=lambda s: s.encode()):
        if visit(node.children[k], fn, leaves_only, False): return True
    if is_root or (leaves_only and node.children): return False
    return fn(node)
def copy(node, parent=None):
    n = Node(node.name, parent, node.info)
    for k, c in node.children.items(): n.children[k] = copy(c, n)
    return n
def stack(root, upper):
    def graft(n):
        if n.name.startswith(WH):
            t = get(root, n.path())
            if t is not None and t.parent is not None: del t.parent.children[t.name]
        else: add_path(root, n.path(), n.info)
    visit(upper, graft)
def layer_tree(data):
    root, size = Node("", None), 0
    with tarfile.open(fileobj=__import__("io").BytesIO(data)) as t:
        for m in t:
            name = posixpath.normpath(m.name)
            if name == ".": continue
            size += m.size
            add_path(root, name, {"size": m.size, "dir": m.isdir()})
    return root, size
def dive(layout, stats):
    idx = json.load(open(layout + "/index.json"))
    blob = lambda d: open(layout + "/blobs/sha256/" + d.split(":")[1], "rb").read()
    man = json.loads(blob(idx["manifests"][0]["digest"]))
    trees, sizes = [], []
    for l in man["layers"]:
        t, s = layer_tree(blob(l["digest"])); trees.append(t); sizes.append(s)
    records, ineff, cur = {}, [], [0]
    def visitor(node):
        p = node.path()
        r = records.setdefault(p, {"path": p, "n": 0, "cum": 0, "min": -1})
        size = 0
        if node.name.startswith(WH):
            st = copy(trees[0])
            for i in range(0, cur[0]): stack(st, trees[i])
            prev = get(st, p)
            if prev is None:  # dive's visitor fails: the rest of the layer is not visited
                stats["aborts"] += 1
                return True
            if prev.info["dir"]:
                stats["dir_whiteouts"] += 1
                def add(n):
                    nonlocal size; size += n.info["size"]
                visit(prev, add, False, False)
        else:
            size = node.info["size"]
        r["cum"] += size
        if r["min"] < 0 or size < r["min"]: r["min"] = size
        r["n"] += 1
        if r["n"] == 2: ineff.append(r)
    for i, t in enumerate(trees):
        cur[0] = i; visit(t, visitor, True)
    mins = sum(r["min"] for r in records.values()); cums = sum(r["cum"] for r in records.values())
    ineff.sort(key=lambda r: r["cum"])
    wasted = sum(r["cum"] for r in ineff)
    user = sum(sizes[1:])
    return {"efficiency": mins / cums if cums else 1.0, "size": sum(sizes), "user_size": user,
        "wasted_bytes": wasted, "user_wasted_percent": wasted / user if user else None,
        "inefficient_files": [{"count": r["n"], "wasted_bytes": r["cum"], "path": r["path"]}
                              for r in reversed(ineff)]}

# reference.py DIR FROM TO: DIR/refSEED.json for DIR/imgSEED; prints what was exercised.
stats = {"aborts": 0, "dir_whiteouts": 0}
for seed in range(int(sys.argv[2]), int(sys.argv[3]) + 1):
    json.dump(dive("%s/img%d" % (sys.argv[1], seed), stats), open("%s/ref%d.json" % (sys.argv[1], seed), "w"))
print(json.dumps(stats))
PY

# Compares lading's dive fields with the reference for every generated image.
compare_seeds() {
  "$PYTHON" "$TRASH/gen.py" imgs "$1" "$2" &&
  "$PYTHON" "$TRASH/reference.py" imgs "$1" "$2" >stats.json &&
  for seed in $(seq "$1" "$2"); do
    lading analyze --format json "oci:imgs/img$seed:t" |
      jq "{efficiency, size, user_size, wasted_bytes, user_wasted_percent, inefficient_files}" >ours.json &&
    jq . "imgs/ref$seed.json" >ref.json &&
    cmp -s ours.json ref.json || { echo "seed $seed differs"; diff ref.json ours.json; return 1; }
  done
}

test_expect_success 'random images 1-25: efficiency, sizes, wasted bytes, inefficient files equal the reference' '
  mkdir imgs && compare_seeds 1 25
'

test_expect_success 'the random images did exercise failed whiteout lookups and directory whiteouts' '
  jq -e ".aborts > 0 and .dir_whiteouts > 0" stats.json &&
  cat imgs/img*/blobs/sha256/* | grep -qa "\.wh\.\.wh\.\.opq"
'

test_done
