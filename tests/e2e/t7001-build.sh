#!/bin/bash
# lading build on a real Debian base: layers, cache, reproducibility, sandbox, peers reading the
# result, and the failure cases (each with a clear error and nothing tagged).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd skopeo umoci jq

if [ -z "${_skip_reason:-}" ]; then
  LAYOUT=$(debian_base_layout) || test_skip_rest "no debian base"
fi

# digest of the image a name points to in our store
image_digest() { jq -r --arg n "docker.io/library/$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$LADING_ROOT/index.json"; }

test_expect_success 'setup: the debian base in the store, a context' '
  lading copy "oci:$LAYOUT:bookworm" debian:bookworm >/dev/null &&
  mkdir -p ctx/sub && echo hello >ctx/hello.txt && echo two >ctx/sub/two.txt &&
  echo secret >ctx/secret.key && printf "*.key\n" >ctx/.dockerignore &&
  cat >ctx/Dockerfile <<-\EOT
	FROM debian:bookworm
	ENV GREETING=hi
	COPY hello.txt sub /app/
	RUN cat /app/hello.txt /app/two.txt && echo "$GREETING" >/app/out && test "$(hostname)" = lading
	WORKDIR /app
	CMD ["cat", "/app/out"]
	EOT
'

test_expect_success 'build makes one layer per COPY/RUN, with no build litter' '
  lading build -t t1 ctx >digest 2>progress &&
  grep "STEP 4/6 line 4: RUN" progress && grep "^hello$" progress &&
  grep "FROM debian:bookworm resolved to sha256:" progress &&
  skopeo inspect "oci:$LADING_ROOT:docker.io/library/t1:latest" >insp.json &&
  jq -e ".Layers | length == 3" insp.json &&
  jq -e ".Env | index(\"GREETING=hi\")" insp.json &&
  l=$(jq -r ".Layers[2]" insp.json) &&
  tar tzf "$LADING_ROOT/blobs/sha256/${l#sha256:}" | sort >run-layer.txt &&
  printf "app/\napp/out\n" >expect && diff expect run-layer.txt
'

test_expect_success 'umoci unpacks our image into the expected tree' '
  skopeo copy -q "oci:$LADING_ROOT:docker.io/library/t1:latest" oci:lay:t1 &&
  umoci unpack --image lay:t1 bundle >/dev/null &&
  test "$(cat bundle/rootfs/app/out)" = hi && test "$(cat bundle/rootfs/app/two.txt)" = two &&
  jq -e ".process.args == [\"cat\", \"/app/out\"] and .process.cwd == \"/app\"" bundle/config.json
'

test_expect_success 'a rebuild with nothing changed is all cache and the same digest' '
  lading build --format json -t t1 ctx >again.json 2>progress &&
  jq -e ".cached == .steps" again.json &&
  test "$(jq -r .digest again.json)" = "$(cat digest)"
'

test_expect_success 'a changed source file re-runs only the steps after it' '
  echo HELLO >ctx/hello.txt &&
  lading build -t t1 ctx >/dev/null 2>progress &&
  grep "line 2: ENV.*\[config" progress &&
  grep "line 3: COPY.*\[done" progress && grep "line 4: RUN.*\[done" progress
'

test_expect_success 'the same inputs with --timestamp give the same digest in another store' '
  lading build -q --timestamp 1700000000 ctx >d1 &&
  mkdir other && LADING_ROOT=$PWD/other lading copy "oci:$LAYOUT:bookworm" debian:bookworm >/dev/null &&
  LADING_ROOT=$PWD/other SOURCE_DATE_EPOCH=1700000000 lading build -q --no-cache ctx >d2 &&
  test "$(cat d1)" = "$(cat d2)"
'

test_expect_success 'RUN sees USER from the image passwd, --network none, heredocs, build args' '
  cat >ctx/Dockerfile.run <<-\EOT &&
	FROM debian:bookworm
	ARG WHO=nobody
	USER $WHO
	RUN test "$(id -u)" = 65534 && test "$WHO" = bob
	USER root
	RUN <<EOS
	set -e
	ls /sys/class/net >/tmp/nets
	test "$(cat /tmp/nets)" = lo
	rm /tmp/nets
	EOS
	EOT
  lading build -q --network none --build-arg WHO=nobody -f ctx/Dockerfile.run ctx >/dev/null 2>err && false ||
  grep "exit code 1" err &&
  sed -i "s/= bob/= nobody/" ctx/Dockerfile.run &&
  lading build -q --network none -f ctx/Dockerfile.run ctx
'

test_expect_success '--squash gives one layer over the base' '
  lading build -q --squash -t sq ctx >/dev/null &&
  skopeo inspect "oci:$LADING_ROOT:docker.io/library/sq:latest" | jq -e ".Layers | length == 2"
'

test_expect_success 'the closing report names the line that left apt lists behind' '
  cat >ctx/Dockerfile.waste <<-\EOT &&
	FROM debian:bookworm
	RUN mkdir -p /var/lib/apt/lists && head -c 200000 /dev/urandom >/var/lib/apt/lists/fake_Packages
	EOT
  lading build --format json -f ctx/Dockerfile.waste ctx >w.json &&
  jq -e ".waste[0].line == 2 and .waste[0].path == \"/var/lib/apt/lists\" and .waste[0].bytes == 200000" w.json
'

refs() { jq ".manifests | length" "$LADING_ROOT/index.json"; }

test_expect_success 'syntax error: file:line:col, nothing tagged' '
  before=$(refs) &&
  printf "FROM debian:bookworm\nCOPY --bogus=1 a b\n" >ctx/Dockerfile.bad &&
  expect_exit 1 lading build -t bad -f ctx/Dockerfile.bad ctx 2>err &&
  grep "lading: ctx/Dockerfile.bad:2:6: unknown flag --bogus for COPY" err &&
  test "$(refs)" = "$before"
'

test_expect_success 'failing RUN: command, exit code, output tail and line; nothing tagged' '
  before=$(refs) &&
  printf "FROM debian:bookworm\nRUN echo about to fail && exit 3\n" >ctx/Dockerfile.fail &&
  expect_exit 1 lading build -t bad -f ctx/Dockerfile.fail ctx 2>err &&
  grep "Dockerfile.fail:2: RUN echo about to fail && exit 3 failed with exit code 3" err &&
  grep "^about to fail" err && test "$(refs)" = "$before"
'

test_expect_success 'COPY of a missing file, of ../ and of a .dockerignored file fail clearly' '
  before=$(refs) &&
  printf "FROM debian:bookworm\nCOPY nothere /x\n" >ctx/D1 &&
  expect_exit 1 lading build -t bad -f ctx/D1 ctx 2>err &&
  grep "D1:2 COPY: nothere: file not found in build context or excluded by .dockerignore" err &&
  printf "FROM debian:bookworm\nCOPY ../etc/passwd /x\n" >ctx/D2 &&
  expect_exit 1 lading build -t bad -f ctx/D2 ctx 2>err &&
  grep "source ../etc/passwd escapes the build context" err &&
  printf "FROM debian:bookworm\nCOPY secret.key /x\n" >ctx/D3 &&
  expect_exit 1 lading build -t bad -f ctx/D3 ctx 2>err &&
  grep "secret.key: file not found in build context or excluded by .dockerignore" err &&
  test "$(refs)" = "$before" && test -z "$(ls "$LADING_ROOT/build-cache/tmp")"
'

test_done
