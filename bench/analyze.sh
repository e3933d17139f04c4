#!/bin/bash
# bench/analyze.sh: `lading analyze` on a large image against merely decompressing its layers.
#
# The image (built once, cached in $LADING_TEST_CACHE/analyze-bench): the debootstrap Debian 12
# base of tests/e2e/lib.sh, then three layers added with `umoci raw add-layer` whose tars are
# generated here from slices of the base's own binaries (realistic compressibility):
#   1. add     25,000 files under /opt/app (~300 MB)
#   2. modify  8,000 of them and 400 files of the base, add 12,000 files under /srv/data
#   3. delete  6,000 files one by one, 10 directories whole, /usr/share/locale, and make
#              /srv/data/d000 opaque with 50 new files
# (≈ 60,000 entries, ≈ 630 MB uncompressed). Then, each RUNS times (page cache warm), median:
#   ours    lading analyze --format json (layers read in parallel, the default)
#   peer    igzip -dc of the same layer blobs (ISA-L, the fastest decoder here)
#   ref     zcat of the same blobs
# and our peak RSS (/usr/bin/time -v "Maximum resident set size"). Targets: ours <= 1.3 x igzip,
# RSS <= 150 MB. CPU seconds (user + sys) are printed too: on a loaded machine they say more than
# wall time does.
set -eu
HERE=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
: "${LADING:=$HERE/build/lading}"
export LADING
. "$HERE/tests/e2e/lib.sh"
# The system python: a pyenv shim costs seconds per call on a loaded machine.
PYTHON=$(command -v /usr/bin/python3 || command -v python3)
trap - EXIT
rm -rf "$TRASH"

BASE=$(debian_base_layout)
IMG="$LADING_TEST_CACHE/analyze-bench"

gen_layers() { # DIR ROOTFS
  "$PYTHON" - "$1" "$2" <<'PY'
import io, os, random, sys, tarfile
out, rootfs = sys.argv[1], sys.argv[2]
random.seed(42)
pool = bytearray()
for sub in ("usr/bin", "usr/lib/x86_64-linux-gnu", "usr/share/doc"):
    for dp, dn, fn in sorted(os.walk(os.path.join(rootfs, sub))):
        dn.sort()
        for f in sorted(fn):
            p = os.path.join(dp, f)
            if os.path.islink(p) or not os.path.isfile(p): continue
            pool += open(p, "rb").read()
            if len(pool) > 64 << 20: break
        if len(pool) > 64 << 20: break
pool = bytes(pool)
def content(size):
    off = random.randrange(0, len(pool) - size)
    return pool[off:off + size]
def add_dir(t, name):
    i = tarfile.TarInfo(name); i.type = tarfile.DIRTYPE; i.mode = 0o755; t.addfile(i)
def add_file(t, name, data):
    i = tarfile.TarInfo(name); i.size = len(data); i.mode = 0o644; i.mtime = 1700000000
    t.addfile(i, io.BytesIO(data))
def whiteout(t, path):
    d, b = os.path.split(path)
    i = tarfile.TarInfo(os.path.join(d, ".wh." + b)); i.mode = 0o644; t.addfile(i)
app = ["opt/app/d%03d/f%03d.bin" % (d, f) for d in range(250) for f in range(100)]
with tarfile.open(os.path.join(out, "1-add.tar"), "w", format=tarfile.PAX_FORMAT) as t:
    add_dir(t, "opt"); add_dir(t, "opt/app")
    for d in range(250):
        add_dir(t, "opt/app/d%03d" % d)
        for f in range(100):
            add_file(t, "opt/app/d%03d/f%03d.bin" % (d, f), content(random.randint(2048, 22528)))
base_docs = []
for dp, dn, fn in sorted(os.walk(os.path.join(rootfs, "usr/share/doc"))):
    dn.sort()
    for f in sorted(fn):
        p = os.path.join(dp, f)
        if os.path.isfile(p) and not os.path.islink(p): base_docs.append(os.path.relpath(p, rootfs))
with tarfile.open(os.path.join(out, "2-modify.tar"), "w", format=tarfile.PAX_FORMAT) as t:
    for name in app[::3][:8000]:
        add_file(t, name, content(random.randint(2048, 22528)))
    for name in base_docs[:400]:
        add_file(t, name, content(random.randint(512, 4096)))
    add_dir(t, "srv"); add_dir(t, "srv/data")
    for d in range(150):
        add_dir(t, "srv/data/d%03d" % d)
        for f in range(80):
            add_file(t, "srv/data/d%03d/f%03d.dat" % (d, f), content(random.randint(1024, 18432)))
with tarfile.open(os.path.join(out, "3-delete.tar"), "w", format=tarfile.PAX_FORMAT) as t:
    gone = set("opt/app/d%03d" % d for d in range(240, 250))
    singles = [n for n in app[1::4] if os.path.dirname(n) not in gone][:6000]
    for name in singles: whiteout(t, name)
    for d in sorted(gone): whiteout(t, d)
    whiteout(t, "usr/share/locale")
    add_dir(t, "srv/data/d000")
    i = tarfile.TarInfo("srv/data/d000/.wh..wh..opq"); t.addfile(i)
    for f in range(50):
        add_file(t, "srv/data/d000/n%03d.dat" % f, content(4096))
PY
}

build_image() {
  mkdir -p "$LADING_TEST_CACHE"
  (
    flock 9
    [ -f "$IMG/layout/index.json" ] && exit 0
    rm -rf "$IMG" && mkdir -p "$IMG/tars"
    echo "# building the benchmark image (once) in $IMG" >&2
    gen_layers "$IMG/tars" "$LADING_TEST_CACHE/debian-bookworm/rootfs"
    cp -a "$BASE" "$IMG/layout.tmp"
    for t in 1-add 2-modify 3-delete; do
      umoci raw add-layer --image "$IMG/layout.tmp:bookworm" --history.created_by "bench: $t" \
        "$IMG/tars/$t.tar" >/dev/null
    done
    rm -rf "$IMG/tars"
    mv "$IMG/layout.tmp" "$IMG/layout"
  ) 9>"$LADING_TEST_CACHE/.analyze-bench.lock"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# time_runs CMD...: RUNS timed runs; prints "wall_median cpu_median max_rss_kb"
time_runs() {
  : >"$IMG/.times"
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %U %S %M" -o "$IMG/.t1" "$@" >/dev/null
    cat "$IMG/.t1" >>"$IMG/.times"
  done
  wall=$(awk '{print $1}' "$IMG/.times" | median)
  cpu=$(awk '{print $2 + $3}' "$IMG/.times" | median)
  rss=$(awk '{print $4}' "$IMG/.times" | sort -n | tail -1)
  echo "$wall $cpu $rss"
}

build_image
LAYOUT="oci:$IMG/layout:bookworm"
MANIFEST=$(jq -r '.manifests[0].digest' "$IMG/layout/index.json" | cut -d: -f2)
BLOBS=$(jq -r '.layers[].digest' "$IMG/layout/blobs/sha256/$MANIFEST" | sed "s|sha256:|$IMG/layout/blobs/sha256/|")

"$LADING" analyze --format json "$LAYOUT" >"$IMG/.report.json" # warm the page cache
entries=$(jq '[.layers[].entries] | add' "$IMG/.report.json")
usize=$(jq '.size' "$IMG/.report.json")
echo "# image: $(jq '.layers | length' "$IMG/.report.json") layers, $entries entries, $((usize / 1000000)) MB uncompressed (dive size), efficiency $(jq .efficiency "$IMG/.report.json"), reclaimable $(( $(jq .reclaimable_bytes "$IMG/.report.json") / 1000000 )) MB"
cat $BLOBS >/dev/null

read -r ours ours_cpu ours_rss < <(time_runs "$LADING" analyze --format json "$LAYOUT")
read -r one one_cpu one_rss < <(time_runs "$LADING" analyze --format json -j 1 "$LAYOUT")
# The usual flow: the image imported into the store once (blobs verified there, diff_ids
# measured on the first read), then analyzed from the store.
STORE="$IMG/store"
LADING_ROOT="$STORE" "$LADING" copy -q "$LAYOUT" bench:analyze
LADING_ROOT="$STORE" "$LADING" analyze --format json bench:analyze >/dev/null
read -r st st_cpu st_rss < <(LADING_ROOT="$STORE" time_runs "$LADING" analyze --format json bench:analyze)
read -r igz igz_cpu _ < <(time_runs sh -c "igzip -dc $(echo $BLOBS)")
read -r zc zc_cpu _ < <(time_runs sh -c "zcat $(echo $BLOBS)")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "analyze: ours ${ours}s, peer igzip -dc ${igz}s, ratio $(ratio "$ours" "$igz") (target <= 1.3; median of $RUNS, wall)"
echo "analyze-store: ours ${st}s, peer igzip -dc ${igz}s, ratio $(ratio "$st" "$igz") (image in the store; cpu ${st_cpu}s; rss $((st_rss / 1024)) MB)"
echo "analyze-1-thread: ours ${one}s, peer igzip -dc ${igz}s, ratio $(ratio "$one" "$igz")"
echo "analyze-cpu: ours ${ours_cpu}s, peer igzip -dc ${igz_cpu}s, ratio $(ratio "$ours_cpu" "$igz_cpu") (user+sys)"
echo "analyze-vs-zcat: ours ${ours}s, peer zcat ${zc}s, ratio $(ratio "$ours" "$zc")"
echo "analyze-rss: ours $((ours_rss / 1024)) MB (-j 1: $((one_rss / 1024)) MB), target <= 150 MB"
