#!/bin/bash
# lading pin: references in Kubernetes YAML (Helm output, Lists, CRLF, anchors), compose files and
# Dockerfiles become name:tag@digest in place, and diff shows only the reference lines changed;
# --check lists what is unpinned / latest / tagless with file:line and exits 3.
. "$(dirname "$0")/lib.sh"
S=$FIXTURES/sigstore
P=$FIXTURES/pin
D=sha256:61d5468249880e5762d74be4cddd9d0483077490dd02610a1e9327eeed77fe9e
fails_with() {
	_want=$1; shift
	"$LADING" "$@" >out 2>err; _got=$?
	[ "$_got" = "$_want" ] || { echo "expected exit $_want, got $_got" >&2; cat out err >&2; return 1; }
}
# Every image the corpus names, in the store (all the same small image).
(cd "$TRASH" && for n in team/migrate:2.1 team/web:1.4.2 team/cleanup:0.3 tools/shell tools/debug:latest \
	data/postgres:16 ops/agent:7.1 ops/init:1 team/builder:3.2 team/runtime:3.2; do
	"$LADING" copy -q oci:$S/skopeo-signed-layout:v1 registry.example.com/$n || exit 1
done && "$LADING" copy -q oci:$S/skopeo-signed-layout:v1 busybox:1.36)

# only_refs_changed ORIG NEW: diff's changed lines are exactly the reference lines, each the old
# line with "@sha256:…" inserted after the reference.
only_refs_changed() {
	diff "$1" "$2" >d.txt; [ $? = 1 ] || return 1
	grep '^<' d.txt | sed 's/^< //' >old.txt
	grep '^>' d.txt | sed 's/^> //' | sed "s/@$D//" >new.txt
	test -s old.txt && cmp old.txt new.txt &&
	! grep -E '^[0-9]+(,[0-9]+)?[ad]' d.txt
}

test_expect_success 'pin --check lists unpinned, latest and tagless references with file:line (exit 3)' '
	cp $P/* . &&
	fails_with 3 pin --check helm-rendered.yaml list.yaml crlf.yaml anchors.yaml Dockerfile jobs.yaml &&
	grep -qx "helm-rendered.yaml:24: registry.example.com/team/migrate:2.1: not pinned to a digest (Deployment/release-web: initContainers\[0\].image)" out &&
	grep -q "^helm-rendered.yaml:46: registry.example.com/team/cleanup:0.3: .*CronJob/release-web-cleanup" out &&
	grep -q "^list.yaml:10: registry.example.com/tools/shell: not pinned to a digest; no tag (implicitly latest)" out &&
	grep -q "^list.yaml:13: registry.example.com/tools/debug:latest: not pinned to a digest; tag latest (Pod/debug: ephemeralContainers\[0\].image)" out &&
	grep -q "^list.yaml:23: .*StatefulSet/db" out &&
	grep -q "^crlf.yaml:11: registry.example.com/ops/agent:7.1" out &&
	grep -q "^crlf.yaml:14: registry.example.com/ops/init:1" out &&
	grep -q "^anchors.yaml:3: registry.example.com/team/web:1.4.2" out &&
	grep -q "^Dockerfile:3: registry.example.com/team/builder:3.2" out &&
	grep -q "^Dockerfile:6: registry.example.com/team/runtime:3.2" out &&
	grep -q "^jobs.yaml:9: " out && ! grep -q "^jobs.yaml:18" out &&
	! grep -q "should/not" out &&
	grep -q "Dockerfile:10: FROM \$BASE uses a build argument; left alone" err &&
	test "$(grep -c "^[a-zA-Z-]*\.yaml:[0-9]*:\|^Dockerfile:[0-9]*:" out)" = 15
'

test_expect_success 'pin --check --format json' '
	fails_with 3 pin --check --format json list.yaml &&
	jq -e ".ok == false and (.problems | length) == 3 and .problems[0].line == 10 and .problems[0].file == \"list.yaml\"" out
'

test_expect_success 'pin --dry-run prints a unified diff and changes nothing' '
	lading pin --dry-run helm-rendered.yaml Dockerfile >dry.diff &&
	cmp helm-rendered.yaml $P/helm-rendered.yaml && cmp Dockerfile $P/Dockerfile &&
	grep -q "^--- a/helm-rendered.yaml" dry.diff &&
	grep -qx "+          image: registry.example.com/team/web:1.4.2@$D" dry.diff &&
	cp helm-rendered.yaml h2.yaml && sed -i "s|^--- a/helm-rendered.yaml|--- a/h2.yaml|; s|^+++ b/helm-rendered.yaml|+++ b/h2.yaml|" dry.diff &&
	sed -n "/^--- a\/h2.yaml/,/^--- a\/Dockerfile/p" dry.diff | sed "\$d" >h.diff &&
	patch -s h2.yaml <h.diff
'

test_expect_success 'pin rewrites only the reference scalars (Helm output, quotes, comments)' '
	lading pin helm-rendered.yaml >out &&
	grep -q "^helm-rendered.yaml:28: registry.example.com/team/web:1.4.2@$D" out &&
	only_refs_changed $P/helm-rendered.yaml helm-rendered.yaml &&
	test "$(grep -c "@$D" helm-rendered.yaml)" = 4 &&
	grep -q "image: \"registry.example.com/team/migrate:2.1@$D\"   # quoted by the chart" helm-rendered.yaml &&
	grep -q "image: '\''registry.example.com/team/cleanup:0.3@$D'\''}" helm-rendered.yaml &&
	cmp helm-rendered.yaml h2.yaml
'

test_expect_success 'pin handles List kinds, leaves non-workload image keys alone' '
	lading pin -q list.yaml && only_refs_changed $P/list.yaml list.yaml &&
	test "$(grep -c "@$D" list.yaml)" = 3 &&
	grep -q "image: registry.example.com/should/not:change$" list.yaml
'

test_expect_success 'pin keeps CRLF line ends and multi-byte comments byte for byte' '
	lading pin -q crlf.yaml && only_refs_changed $P/crlf.yaml crlf.yaml &&
	test "$(grep -c $(printf "\r\$") crlf.yaml)" = "$(wc -l <crlf.yaml)" &&
	grep -q "image: registry.example.com/ops/agent:7.1@$D$(printf "\r")\$" crlf.yaml &&
	head -1 crlf.yaml | cmp - <(head -1 $P/crlf.yaml)
'

test_expect_success 'pin rewrites an anchored scalar once; aliases follow it' '
	lading pin -q anchors.yaml && only_refs_changed $P/anchors.yaml anchors.yaml &&
	grep -q "image: &app registry.example.com/team/web:1.4.2@$D$" anchors.yaml &&
	grep -q "image: \*app$" anchors.yaml &&
	grep -q "image: \"docker.io/library/busybox:1.36@$D\" # comment stays" anchors.yaml
'

test_expect_success 'pin rewrites Dockerfile FROM lines, not stages, scratch or ARGs' '
	lading pin -q Dockerfile && only_refs_changed $P/Dockerfile Dockerfile &&
	grep -qx "from registry.example.com/team/runtime:3.2@$D as runtime" Dockerfile &&
	grep -qx "FROM build AS test" Dockerfile && grep -qx "FROM scratch" Dockerfile &&
	grep -qx "FROM \$BASE" Dockerfile
'

test_expect_success 'already pinned references stay; a second pin changes nothing; --check passes' '
	lading pin -q jobs.yaml && only_refs_changed $P/jobs.yaml jobs.yaml &&
	test "$(grep -c "@$D" jobs.yaml)" = 2 &&
	for f in helm-rendered.yaml anchors.yaml crlf.yaml Dockerfile jobs.yaml; do cp $f $f.1; done &&
	lading pin -q helm-rendered.yaml anchors.yaml crlf.yaml Dockerfile jobs.yaml &&
	for f in helm-rendered.yaml anchors.yaml crlf.yaml Dockerfile jobs.yaml; do cmp $f $f.1 || return 1; done &&
	lading pin --check helm-rendered.yaml anchors.yaml crlf.yaml Dockerfile jobs.yaml
'

test_expect_success 'pin --format json reports each reference and its digest' '
	cp $P/jobs.yaml j.yaml && lading pin --format json j.yaml >j.json &&
	jq -e --arg d $D ".[0].changed and .[0].references[0].digest == \$d and .[0].references[1].pinned == null" j.json
'

test_expect_success 'an unresolvable reference fails before any file is written' '
	cp $P/helm-rendered.yaml a.yaml &&
	printf "kind: Pod\nspec:\n  containers:\n  - image: registry.example.com/nope:1\n" >b.yaml &&
	fails_with 1 pin --resolve store a.yaml b.yaml &&
	grep -q "b.yaml:4: resolving registry.example.com/nope:1" err &&
	cmp a.yaml $P/helm-rendered.yaml
'

test_expect_success 'malformed YAML is an error naming file and line' '
	printf "kind: Pod\nspec: [unclosed\n" >bad.yaml &&
	fails_with 1 pin --check bad.yaml && grep -q "^lading: bad.yaml:[0-9]*:[0-9]*: YAML" err &&
	fails_with 1 pin --check missing.yaml && grep -q "missing.yaml" err &&
	fails_with 2 pin --resolve nowhere a.yaml
'

test_expect_success 'file mode is kept' '
	cp $P/jobs.yaml m.yaml && chmod 640 m.yaml && lading pin -q m.yaml && test "$(stat -c %a m.yaml)" = 640
'
test_done
