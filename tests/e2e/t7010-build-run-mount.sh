#!/bin/bash
# RUN --mount (bind, cache, tmpfs, secret, ssh), RUN --network and --security, on the real Debian
# base: what the command sees, what the layer keeps (nothing of the mounts, no mount points left
# behind), and what keys the cache.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd skopeo jq

if [ -z "${_skip_reason:-}" ]; then
  LAYOUT=$(debian_base_layout) || test_skip_rest "no debian base"
  export LADING_BUILD_LAYERS="$LADING_TEST_CACHE/build-layers"
fi

# the entries of the last layer of image $1, sorted
last_layer() {
  l=$(skopeo inspect "oci:$LADING_ROOT:docker.io/library/$1:latest" | jq -r ".Layers[-1]") &&
  tar tzf "$LADING_ROOT/blobs/sha256/${l#sha256:}" | sort
}
n_layers() { skopeo inspect "oci:$LADING_ROOT:docker.io/library/$1:latest" | jq ".Layers | length"; }

test_expect_success 'setup: the debian base in the store, a context' '
  lading copy "oci:$LAYOUT:bookworm" debian:bookworm >/dev/null &&
  mkdir -p ctx/sub && echo two >ctx/sub/two.txt && echo one >ctx/one.txt &&
  echo hidden >ctx/secret.key && printf "*.key\n" >ctx/.dockerignore &&
  printf s3cr3t-value >tok.txt
'

test_expect_success 'bind mounts: context (read-only, .dockerignore applied), rw writes discarded, from a stage; no litter' '
  cat >ctx/Dockerfile.bind <<-\EOT &&
	FROM debian:bookworm AS tools
	RUN mkdir -p /opt/tool && echo from-stage >/opt/tool/v
	FROM debian:bookworm
	RUN --mount=type=bind,source=sub,target=/src \
	    --mount=target=/ctx \
	    --mount=type=bind,from=tools,source=/opt/tool,target=/mnt/tool/deep \
	    cat /src/two.txt /mnt/tool/deep/v >/out && test ! -e /ctx/secret.key && test -f /ctx/one.txt && \
	    ! touch /ctx/x 2>/dev/null
	RUN --mount=type=bind,target=/ctx,rw touch /ctx/new && test -f /ctx/new && echo rw >/out2
	EOT
  lading build -q -t bind -f ctx/Dockerfile.bind ctx >/dev/null &&
  test ! -e ctx/new &&
  printf "out\n" >expect && skopeo inspect "oci:$LADING_ROOT:docker.io/library/bind:latest" | jq -r ".Layers[-2]" >l &&
  l=$(cat l) && tar tzf "$LADING_ROOT/blobs/sha256/${l#sha256:}" | sort >got && diff expect got &&
  printf "out2\n" >expect && last_layer bind >got && diff expect got
'

test_expect_success 'the content bound from the context keys the RUN; other files do not' '
  printf "FROM debian:bookworm\nRUN --mount=source=sub,target=/src cat /src/two.txt >/copy\n" >ctx/Dockerfile.key &&
  lading build -q -f ctx/Dockerfile.key ctx >/dev/null &&
  lading build -f ctx/Dockerfile.key ctx 2>progress >/dev/null &&
  grep "line 2: RUN.*\[cached" progress &&
  echo unrelated >ctx/other.txt &&
  lading build -f ctx/Dockerfile.key ctx 2>progress >/dev/null &&
  grep "line 2: RUN.*\[cached" progress &&
  echo TWO >ctx/sub/two.txt &&
  lading build -f ctx/Dockerfile.key ctx 2>progress >/dev/null &&
  grep "line 2: RUN.*\[done" progress
'

test_expect_success 'cache mounts persist across builds, are never in the layer, honour mode/uid/gid' '
  cat >ctx/Dockerfile.cache <<-\EOT &&
	FROM debian:bookworm
	ARG N=1
	RUN --mount=type=cache,target=/var/cache/thing,sharing=locked \
	    --mount=type=cache,id=owned,target=/home/owned,uid=65534,gid=65534,mode=0700 \
	    echo "run $N" >>/var/cache/thing/log && cat /var/cache/thing/log >/seen && \
	    test "$(stat -c %a:%u:%g /home/owned)" = 700:65534:65534
	EOT
  lading build -q -t cache --build-arg N=1 -f ctx/Dockerfile.cache ctx >/dev/null &&
  lading build -q -t cache --build-arg N=2 -f ctx/Dockerfile.cache ctx >/dev/null &&
  printf "seen\n" >expect && last_layer cache >got && diff expect got &&
  l=$(skopeo inspect "oci:$LADING_ROOT:docker.io/library/cache:latest" | jq -r ".Layers[-1]") &&
  tar xzf "$LADING_ROOT/blobs/sha256/${l#sha256:}" -O seen >seen && printf "run 1\nrun 2\n" >expect && diff expect seen &&
  test $(ls "$LADING_ROOT/build-cache/mounts" | grep -v lock | wc -l) -ge 2
'

test_expect_success 'a new cache mount with from= starts with that stage path; later builds keep the cache' '
  cat >ctx/Dockerfile.seed <<-\EOT &&
	FROM debian:bookworm AS seed
	RUN mkdir -p /seed/sub && echo seeded >/seed/sub/f && chown 65534 /seed/sub/f
	FROM debian:bookworm
	ARG N=1
	RUN --mount=type=cache,id=seeded,from=seed,source=/seed,target=/c \
	    test "$(cat /c/sub/f)" = seeded && test "$(stat -c %u /c/sub/f)" = 65534 && echo "$N" >>/c/runs && cp /c/runs /runs
	EOT
  lading build -q -t seed --build-arg N=1 -f ctx/Dockerfile.seed ctx >/dev/null &&
  lading build -q -t seed --build-arg N=2 -f ctx/Dockerfile.seed ctx >/dev/null &&
  printf "runs\n" >expect && last_layer seed >got && diff expect got &&
  l=$(skopeo inspect "oci:$LADING_ROOT:docker.io/library/seed:latest" | jq -r ".Layers[-1]") &&
  test "$(tar xzf "$LADING_ROOT/blobs/sha256/${l#sha256:}" -O runs | tr "\n" " ")" = "1 2 "
'

test_expect_success 'tmpfs mounts: a size limit, nothing in the layer' '
  cat >ctx/Dockerfile.tmpfs <<-\EOT &&
	FROM debian:bookworm
	RUN --mount=type=tmpfs,target=/scratch/space,size=1m \
	    head -c 500000 /dev/zero >/scratch/space/a && ! head -c 900000 /dev/zero >/scratch/space/b 2>/dev/null && \
	    echo ok >/done
	EOT
  lading build -q -t tmpfs -f ctx/Dockerfile.tmpfs ctx >/dev/null &&
  printf "done\n" >expect && last_layer tmpfs >got && diff expect got
'

test_expect_success 'secrets: at /run/secrets/<id> or a target, as env, mode/uid; never in the layer or history' '
  cat >ctx/Dockerfile.secret <<-\EOT &&
	FROM debian:bookworm
	RUN --mount=type=secret,id=tok \
	    --mount=type=secret,id=tok,target=/etc/app/token,uid=65534,mode=0440 \
	    --mount=type=secret,id=tok,env=TOKEN \
	    --mount=type=secret,id=absent \
	    test "$(tr a-z A-Z </run/secrets/tok)" = S3CR3T-VALUE && test "$(echo $TOKEN | tr a-z A-Z)" = S3CR3T-VALUE && \
	    test "$(stat -c %a:%u /etc/app/token)" = 440:65534 && test "$(stat -c %a /run/secrets/tok)" = 400 && \
	    test ! -e /run/secrets/absent && echo used >/used
	EOT
  lading build -q -t secret --secret id=tok,src=$TRASH/tok.txt -f ctx/Dockerfile.secret ctx >/dev/null &&
  printf "used\n" >expect && last_layer secret >got && diff expect got &&
  ! grep -r s3cr3t-value "$LADING_ROOT/blobs" "$LADING_ROOT/build-cache/steps" &&
  echo rotated >tok.txt &&
  lading build -t secret --secret id=tok,src=$TRASH/tok.txt -f ctx/Dockerfile.secret ctx 2>progress >/dev/null &&
  grep "line 2: RUN.*\[cached" progress
'

test_expect_success 'a required secret that was not given fails clearly; nothing tagged' '
  printf "FROM debian:bookworm\nRUN --mount=type=secret,id=npmrc,required=true cat /run/secrets/npmrc\n" >ctx/Dockerfile.req &&
  expect_exit 1 lading build -q -t req -f ctx/Dockerfile.req ctx 2>err &&
  grep "Dockerfile.req:2 RUN: secret npmrc is required but was not given (--secret id=npmrc,src=FILE)" err &&
  test_must_fail skopeo inspect "oci:$LADING_ROOT:docker.io/library/req:latest" 2>/dev/null
'

test_expect_success 'ssh: --ssh default forwards $SSH_AUTH_SOCK through a socket with the uid and mode of the mount' '
  command -v ssh-agent >/dev/null || { echo "ssh-agent missing (openssh-client, scripts/deps.sh)"; exit 1; } &&
  eval "$(ssh-agent -s -a "$TRASH/agent.sock")" >/dev/null &&
  cat >ctx/Dockerfile.ssh <<-\EOT &&
	FROM debian:bookworm
	RUN --mount=type=ssh test -S "$SSH_AUTH_SOCK" && perl -MIO::Socket::UNIX -e \
	    "\$s = IO::Socket::UNIX->new(Peer => \$ENV{SSH_AUTH_SOCK}) or die; print \$s pack(q(NC), 1, 11); \
	     read(\$s, \$b, 5) == 5 or die; exit((unpack(q(NC), \$b))[1] == 12 ? 0 : 1)" && echo agent-ok >/ssh-ok
	USER nobody
	RUN --mount=type=ssh,uid=65534,mode=0600,target=/tmp/agent.sock test "$(stat -c %u:%a /tmp/agent.sock)" = 65534:600 && \
	    perl -MIO::Socket::UNIX -e "IO::Socket::UNIX->new(Peer => q(/tmp/agent.sock)) or die \$!"
	EOT
  lading build -q -t ssh --ssh default -f ctx/Dockerfile.ssh ctx >/dev/null; rc=$?; kill $SSH_AGENT_PID; test $rc = 0 &&
  skopeo inspect "oci:$LADING_ROOT:docker.io/library/ssh:latest" | jq -r ".Layers[-1]" >l && l=$(cat l) &&
  tar tzf "$LADING_ROOT/blobs/sha256/${l#sha256:}" >got && printf "ssh-ok\n" >expect && diff expect got &&
  printf "FROM debian:bookworm\nRUN --mount=type=ssh,required=true true\n" >ctx/Dockerfile.ssh2 &&
  expect_exit 1 lading build -q -f ctx/Dockerfile.ssh2 ctx 2>err &&
  grep "ssh agent default is required but was not given (--ssh default" err
'

test_expect_success 'RUN --network=none is per step (with lo up); --security=insecure is refused' '
  cat >ctx/Dockerfile.net <<-\EOT &&
	FROM debian:bookworm
	RUN --network=none test "$(ls /sys/class/net)" = lo && test "$(cat /sys/class/net/lo/flags)" = 0x9
	RUN --network=host --security=sandbox test "$(ls /sys/class/net | wc -l)" -gt 1
	EOT
  lading build -q -f ctx/Dockerfile.net ctx >/dev/null &&
  printf "FROM debian:bookworm\nRUN --security=insecure true\n" >ctx/Dockerfile.ins &&
  expect_exit 1 lading build -q -f ctx/Dockerfile.ins ctx 2>err &&
  grep "Dockerfile.ins:2 RUN: --security=insecure needs the security.insecure entitlement" err
'

test_expect_success 'bad --mount options are named' '
  printf "FROM debian:bookworm\nRUN --mount=type=bind,target=/x,bogus=1 true\n" >ctx/D1 &&
  expect_exit 1 lading build -q -f ctx/D1 ctx 2>err &&
  grep "D1:2 RUN: --mount=type=bind,target=/x,bogus=1: unknown option bogus for a bind mount" err &&
  printf "FROM debian:bookworm\nRUN --mount=type=nfs,target=/x true\n" >ctx/D2 &&
  expect_exit 1 lading build -q -f ctx/D2 ctx 2>err && grep "unknown mount type nfs" err &&
  printf "FROM debian:bookworm\nRUN --mount=type=cache true\n" >ctx/D3 &&
  expect_exit 1 lading build -q -f ctx/D3 ctx 2>err && grep "a cache mount needs a target" err &&
  printf "FROM debian:bookworm\nRUN --mount=source=../etc,target=/x true\n" >ctx/D4 &&
  expect_exit 1 lading build -q -f ctx/D4 ctx 2>err && grep "source ../etc escapes the build context" err &&
  printf "FROM debian:bookworm\nRUN --mount=source=nothere,target=/x true\n" >ctx/D5 &&
  expect_exit 1 lading build -q -f ctx/D5 ctx 2>err && grep "nothere: file not found in build context" err &&
  printf "FROM debian:bookworm\nRUN --mount=from=nosuch,target=/x true\n" >ctx/D6 &&
  expect_exit 1 lading build -q -f ctx/D6 ctx 2>err && grep "D6:2 RUN --mount from=nosuch: .*nosuch" err
'

test_done
