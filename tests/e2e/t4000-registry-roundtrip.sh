#!/bin/bash
# docker:// against Debian's docker-registry: round trips with byte-identical digests, what skopeo
# pushes we pull and what we push skopeo reads, multi-arch (OCI index, Docker manifest list),
# cross-repository mounts, chunked uploads, recompression, tags and inspect without layers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/t4999-helpers/client-lib.sh"
require_cmd docker-registry skopeo umoci jq
PORT=$(free_port)
R=127.0.0.1:$PORT

test_expect_success 'setup: registry and a three-layer OCI image' '
  start_registry_at $PORT "$TRASH/reg" &&
  make_image "$TRASH/img" v1 3 512 &&
  skopeo inspect --raw oci:"$TRASH/img":v1 | sha256sum | sed "s/^/sha256:/; s/ .*//" >want
'

test_expect_success 'copy oci: -> docker:// keeps the digest and skopeo reads it' '
  lading copy --format json oci:img:v1 docker://$R/app/one:v1 >out &&
  jq -e ".blobs_copied == 4 and .manifests == 1" out &&
  test "$(jq -r .digest out)" = "$(cat want)" &&
  test "$(manifest_digest $R app/one v1)" = "$(cat want)" &&
  skopeo copy --src-tls-verify=false docker://$R/app/one:v1 oci:sk:v1 >/dev/null &&
  umoci unpack --image sk:v1 bundle >/dev/null && test -f bundle/rootfs/d3/data3
'

test_expect_success 'an image skopeo pushed is pulled byte-identical (oci: and store)' '
  skopeo copy --dest-tls-verify=false oci:img:v1 docker://$R/sk/pushed:v1 >/dev/null &&
  lading copy -q docker://$R/sk/pushed:v1 oci:back:v1 &&
  test "$(skopeo inspect --raw oci:back:v1 | sha256sum | cut -d" " -f1)" = "$(cut -d: -f2 want)" &&
  lading pull --format json $R/sk/pushed:v1 >pull.json &&
  jq -e ".blobs_copied == 4" pull.json &&
  lading images | grep -q "$R/sk/pushed:v1"
'

test_expect_success 'a second copy moves nothing (HEAD finds every blob)' '
  lading copy --format json oci:img:v1 docker://$R/app/one:v1 >out &&
  jq -e ".blobs_copied == 0 and .blobs_skipped == 4" out
'

test_expect_success 'same registry, other repository: blobs are mounted, not sent' '
  lading copy --format json docker://$R/app/one:v1 docker://$R/app/two:v1 >out &&
  jq -e ".blobs_mounted == 4 and .blobs_copied == 0 and .bytes_copied == 0" out &&
  test "$(manifest_digest $R app/two v1)" = "$(cat want)"
'

test_expect_success 'push from the store, chunked uploads, skopeo reads it' '
  lading push --chunk-size 128KiB --format json $R/sk/pushed:v1 docker://$R/chunked/x:v1 >out &&
  jq -e ".blobs_copied == 4" out &&
  test "$(manifest_digest $R chunked/x v1)" = "$(cat want)" &&
  skopeo copy --src-tls-verify=false docker://$R/chunked/x:v1 oci:sk2:v1 >/dev/null
'

test_expect_success 'multi-arch OCI index: whole index by default, one image with --platform' '
  make_image multi arm 1 64 arm64 &&
  make_image multi amd 1 64 amd64 &&
  a=$(jq -c ".manifests[] | select(.annotations[\"org.opencontainers.image.ref.name\"]==\"amd\") | del(.annotations) + {platform:{os:\"linux\",architecture:\"amd64\"}}" multi/index.json) &&
  b=$(jq -c ".manifests[] | select(.annotations[\"org.opencontainers.image.ref.name\"]==\"arm\") | del(.annotations) + {platform:{os:\"linux\",architecture:\"arm64\"}}" multi/index.json) &&
  printf "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[%s,%s]}" "$a" "$b" >idx &&
  d=$(sha256sum idx | cut -d" " -f1) && cp idx multi/blobs/sha256/$d &&
  jq ".manifests += [{mediaType:\"application/vnd.oci.image.index.v1+json\",digest:\"sha256:$d\",size:$(stat -c %s idx),annotations:{\"org.opencontainers.image.ref.name\":\"all\"}}]" multi/index.json >i2 && mv i2 multi/index.json &&
  lading copy --format json oci:multi:all docker://$R/multi/x:all >out &&
  jq -e ".manifests == 3 and .digest == \"sha256:$d\"" out &&
  skopeo inspect --tls-verify=false --raw docker://$R/multi/x:all | jq -e ".manifests | length == 2" &&
  lading copy --platform linux/arm64 --format json docker://$R/multi/x:all oci:arm:x >out &&
  jq -e ".manifests == 1" out &&
  skopeo inspect --config oci:arm:x | jq -e ".architecture == \"arm64\""
'

test_expect_success 'Docker manifest list (v2s2) round trip keeps its digest' '
  skopeo copy --dest-tls-verify=false --format v2s2 oci:multi:amd docker://$R/dl/x:amd >/dev/null &&
  skopeo copy --dest-tls-verify=false --format v2s2 oci:multi:arm docker://$R/dl/x:arm >/dev/null &&
  ma=$(skopeo inspect --tls-verify=false --raw docker://$R/dl/x:amd) &&
  mb=$(skopeo inspect --tls-verify=false --raw docker://$R/dl/x:arm) &&
  printf "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.list.v2+json\",\"manifests\":[{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"digest\":\"sha256:%s\",\"size\":%d,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"digest\":\"sha256:%s\",\"size\":%d,\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}}]}" \
    "$(printf %s "$ma" | sha256sum | cut -d" " -f1)" "$(printf %s "$ma" | wc -c)" \
    "$(printf %s "$mb" | sha256sum | cut -d" " -f1)" "$(printf %s "$mb" | wc -c)" >list.json &&
  curl -sf -X PUT -H "Content-Type: application/vnd.docker.distribution.manifest.list.v2+json" \
    --data-binary @list.json http://$R/v2/dl/x/manifests/list &&
  want=sha256:$(sha256sum list.json | cut -d" " -f1) &&
  lading copy --format json docker://$R/dl/x:list docker://$R/dl2/y:list >out &&
  jq -e ".digest == \"$want\" and .manifests == 3" out &&
  test "$(manifest_digest $R dl2/y list)" = "$want" &&
  lading pull -q $R/dl/x:list && lading copy -q $R/dl/x:list oci:dl:list &&
  jq -e ".manifests[0].digest == \"$want\"" dl/index.json &&
  cmp list.json dl/blobs/sha256/${want#sha256:}
'

test_expect_success '--compress zstd rewrites layers and manifest; gzip back unpacks' '
  lading copy --compress zstd --format json docker://$R/app/one:v1 docker://$R/app/zstd:v1 >out &&
  skopeo inspect --tls-verify=false --raw docker://$R/app/zstd:v1 >m.json &&
  jq -e "[.layers[].mediaType] | all(. == \"application/vnd.oci.image.layer.v1.tar+zstd\")" m.json &&
  lading copy -q --compress gzip docker://$R/app/zstd:v1 oci:gz:v1 &&
  umoci unpack --image gz:v1 b2 >/dev/null && cmp b2/rootfs/d2/data2 bundle/rootfs/d2/data2
'

test_expect_success 'tags lists a repository; inspect docker:// reads no layer' '
  lading tags docker://$R/app/one >tags && grep -qx v1 tags &&
  lading tags --format json $R/dl/x | jq -e ".tags | sort == [\"amd\",\"arm\",\"list\"]" &&
  rm -rf "$LADING_ROOT" &&
  lading inspect --format json docker://$R/app/one:v1 >insp &&
  jq -e ".layers | length == 3" insp &&
  test "$(jq -r .digest insp)" = "$(cat want)" &&
  ! test -d "$LADING_ROOT/blobs/sha256" || test -z "$(ls "$LADING_ROOT/blobs/sha256")"
'

test_expect_success 'progress bars on a terminal, one line per image otherwise' '
  script -qec "$LADING copy --jobs 2 oci:img:v1 docker://$R/app/bars:v1" tty.out >/dev/null &&
  grep -q "ETA" tty.out && grep -q "docker://$R/app/bars:v1 \[" tty.out &&
  lading pull $R/app/bars:v1 >plain.out 2>plain.err &&
  test "$(wc -l <plain.out)" = 1 && ! grep -q ETA plain.err
'

test_expect_success 'errors name the object: unknown repository, tag, bad reference' '
  test_must_fail lading tags docker://$R/nope/none 2>err && grep -q "nope/none" err &&
  test_must_fail lading copy docker://$R/app/one:nope oci:x:y 2>err && grep -q "app/one:nope" err &&
  grep -q "404\|MANIFEST_UNKNOWN" err && test -z "$(ls x/blobs/sha256 2>/dev/null)" &&
  expect_exit 2 lading tags docker://$R/app/one:v1 &&
  test_must_fail lading copy "docker://$R/UPPER:x" oci:x:y 2>err && grep -q UPPER err
'
test_done
