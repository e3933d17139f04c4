#!/bin/bash
# Instruction forms checked against BuildKit's reference: WORKDIR creates its directory (owned by
# USER, in a layer of its own), COPY/ADD globs in every path component, ADD of several sources with
# URLs, COPY --exclude and --parents.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd jq

if [ -z "${_skip_reason:-}" ]; then
  LAYOUT=$(debian_base_layout) || test_skip_rest "no debian base"
  export LADING_BUILD_LAYERS="$LADING_TEST_CACHE/build-layers"
  mkdir "$TRASH/www" "$TRASH/tarsrc" && echo "file a" >"$TRASH/www/a.txt" && echo "file b" >"$TRASH/www/b.txt" &&
  echo in >"$TRASH/tarsrc/inside.txt" && tar -C "$TRASH/tarsrc" -czf "$TRASH/www/t.tar.gz" inside.txt && HTTP_PORT=$(free_port)
  (cd "$TRASH/www" && exec python3 -m http.server --bind 127.0.0.1 "$HTTP_PORT" >/dev/null 2>&1) &
  test_at_end "kill $!"
fi

# the manifest and config of image $1 in our store, read with jq (no skopeo start-up per look)
manifest() {
  d=$(jq -r --arg n "docker.io/library/$1:latest" \
    '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$LADING_ROOT/index.json") &&
  cat "$LADING_ROOT/blobs/sha256/${d#sha256:}"
}
config() { d=$(manifest "$1" | jq -r .config.digest) && cat "$LADING_ROOT/blobs/sha256/${d#sha256:}"; }
layer_blob() { l=$(manifest "$1" | jq -r ".layers[$2].digest") && echo "$LADING_ROOT/blobs/sha256/${l#sha256:}"; }
# "mode uid/gid name" of every entry of layer $2 (index, 0 = first) of image $1
layer_entries() { tar tvzf "$(layer_blob "$1" "$2")" --numeric-owner | awk '{print $1, $2, $6}' | sort -k3; }
layer_names() { tar tzf "$(layer_blob "$1" "$2")" | sort; }
n_layers() { manifest "$1" | jq ".layers | length"; }

test_expect_success 'setup: the debian base in the store' '
  lading copy "oci:$LAYOUT:bookworm" debian:bookworm >/dev/null && mkdir ctx
'

test_expect_success 'WORKDIR creates a missing directory in its own layer, owned by USER; an existing one adds no layer' '
  cat >ctx/Dockerfile.wd <<-\EOT &&
	FROM debian:bookworm
	USER nobody
	WORKDIR /srv/app/data
	USER root
	WORKDIR /unused/dir
	WORKDIR /srv
	RUN test "$(stat -c %U /srv/app/data)" = nobody
	EOT
  lading build -q -t wd -f ctx/Dockerfile.wd ctx >/dev/null &&
  test "$(n_layers wd)" = 3 &&
  layer_entries wd 1 >got && grep " 65534/65534 srv/app/$" got && grep "^drwxr-xr-x 65534/65534 srv/app/data/$" got &&
  grep " 0/0 srv/$" got && test $(wc -l <got) = 3 &&
  layer_names wd 2 >got && printf "unused/\nunused/dir/\n" >expect && diff expect got &&
  config wd >cfg &&
  jq -e ".config.WorkingDir == \"/srv\"" cfg && jq -e "[.history[] | select(.created_by == \"WORKDIR /srv\")][0].empty_layer" cfg &&
  printf "FROM debian:bookworm\nUSER ghost\nWORKDIR /g\n" >ctx/Dockerfile.wd2 &&
  expect_exit 1 lading build -q -f ctx/Dockerfile.wd2 ctx 2>err &&
  grep "Dockerfile.wd2:3 WORKDIR for USER ghost: unable to find user ghost in the image.s /etc/passwd" err
'

test_expect_success 'COPY globs match in every path component (Go filepath.Match rules), .dockerignore still applies' '
  mkdir -p ctx/src/a/conf ctx/src/b/conf ctx/src/c/other ctx/src/.h/conf &&
  echo a >ctx/src/a/conf/x.yml && echo b >ctx/src/b/conf/y.yml && echo no >ctx/src/b/conf/z.txt &&
  echo c >ctx/src/c/other/w.yml && echo h >ctx/src/.h/conf/h.yml && echo ig >ctx/src/a/conf/ignored.yml &&
  echo "q" >ctx/src/q1.txt && echo "star" >"ctx/src/st*r" &&
  printf "src/a/conf/ignored.yml\n" >ctx/.dockerignore &&
  cat >ctx/Dockerfile.glob <<-\EOT &&
	FROM scratch
	COPY src/*/conf/*.yml /etc/conf/
	COPY src/[a-b]/c?nf/[^xz]*.yml src/q?.txt /other/
	COPY src/st\*r /lit/
	EOT
  lading build -q -t glob -f ctx/Dockerfile.glob ctx >/dev/null &&
  layer_names glob 0 >got && printf "etc/\netc/conf/\netc/conf/h.yml\netc/conf/x.yml\netc/conf/y.yml\n" >expect && diff expect got &&
  layer_names glob 1 >got && printf "other/\nother/q1.txt\nother/y.yml\n" >expect && diff expect got &&
  layer_names glob 2 >got && printf "lit/\nlit/st*r\n" >expect && diff expect got
'

test_expect_success 'a glob that matches nothing is an error naming the pattern' '
  printf "FROM scratch\nCOPY src/*/nothing/*.yml /x/\n" >ctx/Dockerfile.nomatch &&
  expect_exit 1 lading build -q -f ctx/Dockerfile.nomatch ctx 2>err &&
  grep "Dockerfile.nomatch:2 COPY: no source files were specified by src/\*/nothing/\*.yml" err
'

test_expect_success 'ADD of a URL beside local sources, into a directory; several URLs need one ADD each' '
  port=$HTTP_PORT && wait_http "http://127.0.0.1:$port/a.txt" &&
  sum=$(sha256sum "$TRASH/www/a.txt" | cut -d" " -f1) &&
  echo local >ctx/local.txt &&
  printf "FROM scratch\nADD --checksum=sha256:$sum http://127.0.0.1:$port/a.txt local.txt /d/\n" >ctx/Dockerfile.urls &&
  lading build -q -t urls -f ctx/Dockerfile.urls ctx >/dev/null &&
  layer_names urls 0 >got && printf "d/\nd/a.txt\nd/local.txt\n" >expect && diff expect got &&
  printf "FROM scratch\nADD --checksum=sha256:$sum http://127.0.0.1:$port/a.txt http://127.0.0.1:$port/b.txt /d/\n" >ctx/Dockerfile.urls2 &&
  expect_exit 1 lading build -q -f ctx/Dockerfile.urls2 ctx 2>err &&
  grep "Dockerfile.urls2:2 ADD: --checksum pins one URL; http://127.0.0.1:$port/a.txt and http://127.0.0.1:$port/b.txt need one ADD each" err &&
  printf "FROM scratch\nADD http://127.0.0.1:$port/a.txt local.txt /d\n" >ctx/Dockerfile.urls3 &&
  expect_exit 1 lading build -q -f ctx/Dockerfile.urls3 ctx 2>err &&
  grep "Dockerfile.urls3:2 ADD: with several sources the destination must be a directory ending in /" err
'

test_expect_success 'ADD unpacks local tar archives by content; --unpack=true for a download, --unpack=false keeps one' '
  port=$HTTP_PORT && wait_http "http://127.0.0.1:$port/t.tar.gz" &&
  sum=$(sha256sum "$TRASH/www/t.tar.gz" | cut -d" " -f1) && cp "$TRASH/www/t.tar.gz" ctx/keep.tar.gz &&
  cat >ctx/Dockerfile.unpack <<-EOT &&
	FROM scratch
	ADD --unpack=true --checksum=sha256:$sum http://127.0.0.1:$port/t.tar.gz /x/
	ADD --checksum=sha256:$sum http://127.0.0.1:$port/t.tar.gz /y/
	ADD --unpack=false keep.tar.gz /z/
	ADD keep.tar.gz /w/
	ADD renamed.bin notatar.tar /v/
	EOT
  cp ctx/keep.tar.gz ctx/renamed.bin && head -c 2000 /dev/zero | tr "\\0" x >ctx/notatar.tar &&
  lading build -q -t unpack -f ctx/Dockerfile.unpack ctx >/dev/null &&
  for i in 0 1 2 3 4; do layer_names unpack $i; done >got &&
  printf "x/\nx/inside.txt\ny/\ny/t.tar.gz\nz/\nz/keep.tar.gz\nw/\nw/inside.txt\nv/\nv/inside.txt\nv/notatar.tar\n" >expect && diff expect got &&
  printf "FROM scratch\nADD --unpack=maybe keep.tar.gz /z/\n" >ctx/Dockerfile.unpack2 &&
  expect_exit 1 lading build -q -f ctx/Dockerfile.unpack2 ctx 2>err && grep "unpack=maybe: true or false" err
'

test_expect_success 'COPY with several here-documents (quotes kept), and here-documents beside context files' '
  echo plain >ctx/plain.txt &&
  cat >ctx/Dockerfile.hd <<-\EOT &&
	FROM scratch
	ARG WHO=world
	COPY --chmod=600 <<one.txt <<"two.txt" plain.txt /d/
	<?xml version="1.0"?> say "hello" to ${WHO}APOSs friends
	one.txt
	not $WHO
	two.txt
	EOT
  sed -i "s/}APOSs/}\x27s/" ctx/Dockerfile.hd && ! grep -q APOS ctx/Dockerfile.hd &&
  lading build -q -t hd -f ctx/Dockerfile.hd ctx >/dev/null &&
  layer_entries hd 0 >got && grep "^-rw------- 0/0 d/one.txt$" got && grep " d/two.txt$" got && grep " d/plain.txt$" got &&
  test "$(tar xzf "$(layer_blob hd 0)" -O d/one.txt | sed "s/\x27/APOS/")" = "<?xml version=\"1.0\"?> say \"hello\" to worldAPOSs friends" &&
  test "$(tar xzf "$(layer_blob hd 0)" -O d/two.txt)" = "not \$WHO"
'

test_expect_success 'COPY --chmod in symbolic form applies per entry (X: directories and executables)' '
  mkdir -p ctx/modes/sub && echo f >ctx/modes/sub/f && echo x >ctx/modes/run && chmod 700 ctx/modes/sub ctx/modes/run &&
  chmod 600 ctx/modes/sub/f &&
  printf "FROM scratch\nCOPY --chmod=u=rwX,go=rX modes /m/\n" >ctx/Dockerfile.chmod &&
  lading build -q -t chmod -f ctx/Dockerfile.chmod ctx >/dev/null &&
  layer_entries chmod 0 >got &&
  grep "^-rwxr-xr-x 0/0 m/run$" got && grep "^drwxr-xr-x 0/0 m/sub/$" got && grep "^-rw-r--r-- 0/0 m/sub/f$" got &&
  printf "FROM scratch\nCOPY --chmod=u+q modes /m/\n" >ctx/Dockerfile.chmod2 &&
  expect_exit 1 lading build -q -f ctx/Dockerfile.chmod2 ctx 2>err &&
  grep "Dockerfile.chmod2:2 COPY: invalid --chmod=u+q: octal (0755) or symbolic (u=rwX,go=rX)" err
'

test_expect_success 'EXPOSE ranges expand to one port each; ADD --checksum takes variables' '
  port=$HTTP_PORT && sum=$(sha256sum "$TRASH/www/a.txt" | cut -d" " -f1) &&
  cat >ctx/Dockerfile.misc <<-EOT &&
	FROM scratch
	ARG SUM=sha256:$sum
	EXPOSE 8000-8002/udp 80 443/TCP
	ADD --checksum=\$SUM http://127.0.0.1:$port/a.txt /a.txt
	EOT
  lading build -q -t misc -f ctx/Dockerfile.misc ctx >/dev/null &&
  config misc | jq -c ".config.ExposedPorts | keys" >got &&
  echo "[\"443/tcp\",\"80/tcp\",\"8000/udp\",\"8001/udp\",\"8002/udp\"]" >expect && diff expect got &&
  printf "FROM scratch\nEXPOSE 80-70\n" >ctx/Dockerfile.badport &&
  expect_exit 1 lading build -q -f ctx/Dockerfile.badport ctx 2>err &&
  grep "Dockerfile.badport:2: EXPOSE 80-70: expected PORT\[-PORT\]\[/tcp|udp|sctp\]" err
'

test_expect_success 'proxy build args reach RUN without ARG and stay out of the key; SOURCE_DATE_EPOCH as a build arg' '
  printf "FROM debian:bookworm\nRUN test \"\$HTTP_PROXY\" = http://proxy.invalid:3128 && touch /p\n" >ctx/Dockerfile.proxy &&
  lading build -q --build-arg HTTP_PROXY=http://proxy.invalid:3128 --build-arg SOURCE_DATE_EPOCH=42 -t proxy \
    -f ctx/Dockerfile.proxy ctx >/dev/null &&
  config proxy >cfg &&
  jq -e ".created == \"1970-01-01T00:00:42Z\"" cfg && jq -e "[.config.Env[]? | select(startswith(\"HTTP_PROXY\"))] == []" cfg &&
  lading build --build-arg HTTP_PROXY=http://other.invalid:3128 --build-arg SOURCE_DATE_EPOCH=42 \
    -f ctx/Dockerfile.proxy ctx 2>progress >/dev/null &&
  grep "line 2: RUN.*\[cached" progress
'

test_expect_success 'a Dockerfile-specific NAME.dockerignore wins over the context .dockerignore' '
  echo one >ctx/only.txt &&
  printf "FROM scratch\nCOPY only.txt /\n" >ctx/Dockerfile.di && printf "only.txt\n" >ctx/Dockerfile.di.dockerignore &&
  expect_exit 1 lading build -q -f ctx/Dockerfile.di ctx 2>err &&
  grep "only.txt: file not found in build context or excluded by .dockerignore" err &&
  rm ctx/Dockerfile.di.dockerignore && lading build -q -f ctx/Dockerfile.di ctx >/dev/null
'

test_expect_success 'COPY --exclude (repeatable) and COPY --parents (with a /./ pivot), as BuildKit 1.19/1.20 made them stable' '
  mkdir -p ctx/pkg/a ctx/pkg/b/deep && echo 1 >ctx/pkg/a/package.json && echo 2 >ctx/pkg/b/package.json &&
  echo 3 >ctx/pkg/b/deep/notes.txt && echo 4 >ctx/pkg/b/deep/keep.md && echo 5 >ctx/pkg/a/x.log &&
  cat >ctx/Dockerfile.ex <<-\EOT &&
	FROM scratch
	COPY --exclude=**/*.txt --exclude=a/*.log pkg /all/
	COPY --parents pkg/*/package.json /p/
	COPY --parents ./pkg/./b/deep /q/
	EOT
  lading build -q -t ex -f ctx/Dockerfile.ex ctx >/dev/null &&
  layer_names ex 0 >got && printf "all/\nall/a/\nall/a/package.json\nall/b/\nall/b/deep/\nall/b/deep/keep.md\nall/b/package.json\n" >expect && diff expect got &&
  layer_names ex 1 >got && printf "p/\np/pkg/\np/pkg/a/\np/pkg/a/package.json\np/pkg/b/\np/pkg/b/package.json\n" >expect && diff expect got &&
  layer_names ex 2 >got && printf "q/\nq/b/\nq/b/deep/\nq/b/deep/keep.md\nq/b/deep/notes.txt\n" >expect && diff expect got
'

test_done
