#!/bin/bash
# A multi-stage build with apt in a RUN (Debian repository), a compile in stage 1 and a scratch
# final stage: it runs, peers read it, and it is no bigger than buildah's build of the same file.
# The lading store and buildah's storage live under $LADING_TEST_CACHE so warm runs hit both
# builders' caches (apt-get in a build takes ~20 s per builder when cold).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd buildah skopeo umoci jq

if [ -z "${_skip_reason:-}" ]; then
  LAYOUT=$(debian_base_layout) || test_skip_rest "no debian base"
  CACHE="$LADING_TEST_CACHE/t7002"
  export LADING_ROOT="$CACHE/store"
  export LADING_BUILD_LAYERS="$LADING_TEST_CACHE/build-layers"
  BH="buildah --root $CACHE/buildah/root --runroot $TRASH/bhrun --storage-driver overlay"
fi

test_expect_success 'setup: base in the store, the context' '
  mkdir -p "$CACHE" ctx &&
  lading copy "oci:$LAYOUT:bookworm" debian:bookworm >/dev/null &&
  cp "$FIXTURES/build/Containerfile" "$FIXTURES/build/hello.c" ctx/
'

test_expect_success 'lading builds it: apt-get install in a RUN, compile, copy to scratch' '
  lading build --format json -t hello ctx >ours.json 2>progress || { tail -20 progress; false; } &&
  jq -e ".layers == 1" ours.json
'

test_expect_success 'the result runs and prints what it should' '
  skopeo copy -q "oci:$LADING_ROOT:docker.io/library/hello:latest" oci:ours:t &&
  umoci unpack --image ours:t bundle >/dev/null &&
  test "$(ls bundle/rootfs)" = hello &&
  chroot bundle/rootfs /hello >out && test "$(cat out)" = "hello from a lading build" &&
  jq -e ".process.args == [\"/hello\"]" bundle/config.json
'

test_expect_success 'buildah bud of the same file: ours has no more layers and bytes' '
  $BH bud -q --isolation chroot --build-arg "BASE=oci:$LAYOUT:bookworm" -f ctx/Containerfile -t hello ctx >/dev/null 2>bh.err &&
  $BH push -q hello oci:theirs:t 2>>bh.err &&
  skopeo inspect --raw oci:theirs:t >theirs.json && skopeo inspect --raw oci:ours:t >ours-i.json &&
  ol=$(jq ".layers | length" ours-i.json) && tl=$(jq ".layers | length" theirs.json) &&
  ob=$(jq "[.layers[].size] | add" ours-i.json) && tb=$(jq "[.layers[].size] | add" theirs.json) &&
  echo "layers ours $ol buildah $tl; bytes ours $ob buildah $tb" &&
  test "$ol" -le "$tl" && test "$ob" -le "$tb"
'

test_done
