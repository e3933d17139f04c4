#!/bin/bash
# lading build on a real Debian base: layers, cache, reproducibility, sandbox, peers reading the
# result, and the failure cases (each with a clear error and nothing tagged).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd skopeo umoci jq

if [ -z "${_skip_reason:-}" ]; then
  LAYOUT=$(debian_base_layout) || test_skip_rest "no debian base"
  # unpacked layers are content-addressed: share them between runs (the base unpacks once)
  export LADING_BUILD_LAYERS="$LADING_TEST_CACHE/build-layers"
  # a web server for ADD <url>
  mkdir "$TRASH/www" && echo "served file" >"$TRASH/www/f.txt" && HTTP_PORT=$(free_port)
  (cd "$TRASH/www" && exec python3 -m http.server --bind 127.0.0.1 "$HTTP_PORT" >/dev/null 2>&1) &
  test_at_end "kill $!"
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

test_expect_success 'umoci unpacks our image into the expected tree (.dockerignore applied)' '
  mkdir -p small/docs small/sub && echo r >small/docs/README.md && echo d >small/docs/draft.md &&
  echo two >small/sub/two.txt && echo run >small/run && echo k >small/x.key &&
  printf "*.key\ndocs\n!docs/README.md\nDockerfile\n" >small/.dockerignore &&
  cat >small/Dockerfile <<-\EOT &&
	FROM scratch
	COPY . /app/
	COPY --chmod=700 run /app/bin/run
	WORKDIR /app
	CMD ["/app/bin/run"]
	EOT
  lading build -q -t small small >/dev/null &&
  skopeo copy -q "oci:$LADING_ROOT:docker.io/library/small:latest" oci:lay:t1 &&
  umoci unpack --image lay:t1 bundle >/dev/null &&
  (cd bundle/rootfs && find . | sort) >tree &&
  printf "%s\n" . ./app ./app/.dockerignore ./app/bin ./app/bin/run ./app/docs ./app/docs/README.md ./app/run ./app/sub ./app/sub/two.txt >expect &&
  diff expect tree &&
  test "$(stat -c %a bundle/rootfs/app/bin/run)" = 700 && test "$(cat bundle/rootfs/app/sub/two.txt)" = two &&
  jq -e ".process.args == [\"/app/bin/run\"] and .process.cwd == \"/app\"" bundle/config.json
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
	RUN <<EOS
	#!/usr/bin/env bash
	[[ "$BASH_VERSION" ]] && touch /shebang-ran
	EOS
	EOT
  lading build -q --network none --build-arg WHO=nobody -f ctx/Dockerfile.run ctx >/dev/null 2>err && false ||
  grep "exit code 1" err &&
  sed -i "s/= bob/= nobody/" ctx/Dockerfile.run &&
  lading build -q --network none -t runner -f ctx/Dockerfile.run ctx &&
  l=$(skopeo inspect "oci:$LADING_ROOT:docker.io/library/runner:latest" | jq -r ".Layers[-1]") &&
  test "$(tar tzf "$LADING_ROOT/blobs/sha256/${l#sha256:}")" = shebang-ran
'

test_expect_success 'ONBUILD triggers of the base run in the child; COPY --chown by name, COPY <<EOF' '
  printf "FROM debian:bookworm\nONBUILD RUN echo triggered >/trig\n" >ctx/Dockerfile.onb &&
  lading build -q -t onb -f ctx/Dockerfile.onb ctx >/dev/null &&
  cat >ctx/Dockerfile.child <<-\EOT &&
	FROM onb
	ARG NAME=world
	COPY --chown=nobody:nogroup hello.txt /h
	COPY <<EOF /greeting
	hello $NAME
	EOF
	RUN test "$(cat /trig)" = triggered && test "$(stat -c %u:%g /h)" = 65534:65534 && test "$(cat /greeting)" = "hello world"
	EOT
  lading build -q -t child -f ctx/Dockerfile.child ctx >/dev/null &&
  skopeo inspect --config "oci:$LADING_ROOT:docker.io/library/child:latest" | jq -e ".config.OnBuild == null"
'

test_expect_success 'ADD of a URL needs --checksum, and it is checked' '
  port=$HTTP_PORT && wait_http "http://127.0.0.1:$port/f.txt" &&
  sum=$(sha256sum "$TRASH/www/f.txt" | cut -d" " -f1) &&
  printf "FROM debian:bookworm\nADD http://127.0.0.1:$port/f.txt /d/\n" >ctx/Dockerfile.url &&
  expect_exit 1 lading build -q -f ctx/Dockerfile.url ctx 2>err &&
  grep "ADD of a URL needs --checksum=sha256:<hex>" err &&
  printf "FROM debian:bookworm\nADD --checksum=sha256:%064d http://127.0.0.1:$port/f.txt /d/\n" 0 >ctx/Dockerfile.url &&
  expect_exit 1 lading build -q -f ctx/Dockerfile.url ctx 2>err &&
  grep "f.txt has digest sha256:$sum, --checksum says sha256:0000" err &&
  printf "FROM debian:bookworm\nADD --checksum=sha256:$sum http://127.0.0.1:$port/f.txt /d/\nRUN test \"\$(cat /d/f.txt)\" = \"served file\"\n" >ctx/Dockerfile.url &&
  lading build -q -f ctx/Dockerfile.url ctx >/dev/null
'

test_expect_success '--squash gives one layer over the base' '
  lading build -q --squash -t sq ctx >/dev/null &&
  skopeo inspect "oci:$LADING_ROOT:docker.io/library/sq:latest" | jq -e ".Layers | length == 2"
'

test_expect_success 'the closing report names the lines that left wasted bytes, with the fix' '
  cat >ctx/Dockerfile.waste <<-\EOT &&
	FROM debian:bookworm
	RUN mkdir -p /var/lib/apt/lists && head -c 200000 /dev/urandom >/var/lib/apt/lists/fake_Packages
	RUN head -c 300000 /dev/urandom >/opt/big.bin
	RUN rm /opt/big.bin
	EOT
  lading build --format json -f ctx/Dockerfile.waste ctx >w.json &&
  jq -e ".waste[0].line == 2 and .waste[0].path == \"/var/lib/apt/lists\" and .waste[0].bytes == 200000" w.json &&
  jq -e ".waste[1].line == 3 and .waste[1].path == \"/opt/big.bin\" and .waste[1].bytes == 300000" w.json &&
  lading build -f ctx/Dockerfile.waste ctx 2>err >/dev/null &&
  grep "waste: line 2 RUN mkdir -p /var/lib/apt/lists .* left /var/lib/apt/lists: 200.0 kB (fix: add .&& rm -rf /var/lib/apt/lists/\*. to the same RUN, or give it .--mount=type=cache,target=/var/lib/apt/lists.)" err
'

refs() { jq ".manifests | length" "$LADING_ROOT/index.json"; }

test_expect_success 'syntax error: file:line:col, nothing tagged' '
  before=$(refs) &&
  printf "FROM debian:bookworm\nCOPY --bogus=1 a b\n" >ctx/Dockerfile.bad &&
  expect_exit 1 lading build -t bad -f ctx/Dockerfile.bad ctx 2>err &&
  grep "lading: ctx/Dockerfile.bad:2:6: unknown flag --bogus for COPY" err &&
  test "$(refs)" = "$before"
'

test_expect_success 'only the host platform: --platform and FROM --platform say so' '
  printf "FROM --platform=\$BUILDPLATFORM debian:bookworm AS a\nFROM --platform=linux/arm64 debian:bookworm\n" >ctx/Dockerfile.pl &&
  expect_exit 1 lading build -q -f ctx/Dockerfile.pl ctx 2>err &&
  grep "Dockerfile.pl:2: FROM --platform=linux/arm64: only the host platform (linux/amd64) can be built" err &&
  expect_exit 1 lading build -q --platform linux/s390x ctx 2>err && grep "only the host platform" err
'

test_expect_success 'failing RUN: command, exit code, output tail and line; nothing tagged' '
  before=$(refs) &&
  printf "FROM debian:bookworm\nRUN echo about to fail && exit 3\n" >ctx/Dockerfile.fail &&
  expect_exit 1 lading build -t bad -f ctx/Dockerfile.fail ctx 2>err &&
  grep "Dockerfile.fail:2: RUN echo about to fail && exit 3 failed with exit code 3" err &&
  grep "^about to fail" err && test "$(refs)" = "$before"
'

test_expect_success 'COPY of a missing file, of ../ and of a .dockerignored file fail clearly' '
  export LADING_BUILD_LAYERS=$TRASH/layers-private && # its .tmp is ours alone to check
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
  test "$(refs)" = "$before" && test -z "$(ls "$LADING_BUILD_LAYERS/.tmp")"
'

test_done
