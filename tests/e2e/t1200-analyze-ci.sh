#!/bin/bash
# lading analyze --ci: dive's three rules with dive's defaults, read from a .dive-ci file in
# dive's syntax, PASS/FAIL/SKIP per rule, exit 3 when a rule fails and 1 on a broken rules file.
. "$(dirname "$0")/lib.sh"

IMG="docker-archive:$FIXTURES/dive/test-docker-image.tar"

# stderr holds exactly one line besides the shell's own trace ("+ ..." lines of set -x).
one_line() { test "$(grep -cv '^+' "$1")" = 1; }

test_expect_success 'default rules: user wasted percent 0.48 > 0.1 fails, exit 3' '
  expect_exit 3 lading analyze --ci "$IMG" >out &&
  grep -Fx "  FAIL: highestUserWastedPercent: too many bytes wasted, relative to the user bytes added (%-user-wasted-bytes=0.4834911001404049 > threshold=0.1)" out &&
  grep -Fx "  SKIP: highestWastedBytes: rule disabled" out &&
  grep -Fx "  PASS: lowestEfficiency" out &&
  grep -Fx "Result:FAIL [Total:3] [Passed:1] [Failed:1] [Warn:0] [Skipped:1]" out
'

test_expect_success '.dive-ci in the current directory is read, disabled turns a rule off' '
  mkdir proj && cat >proj/.dive-ci <<-EOF &&
	rules:
	  # dive syntax
	  lowestEfficiency: 0.95
	  highestWastedBytes: 20MB
	  highestUserWastedPercent: disabled
	EOF
  (cd proj && lading analyze --ci "$IMG" >../out) &&
  grep -F "CI rules (.dive-ci)" out &&
  grep -Fx "  PASS: highestWastedBytes" out &&
  grep -Fx "  SKIP: highestUserWastedPercent: rule disabled" out &&
  grep -Fx "Result:PASS [Total:3] [Passed:2] [Failed:0] [Warn:0] [Skipped:1]" out
'

test_expect_success '--ci-config FILE with binary sizes; wasted bytes over the limit fails' '
  cat >tight.yaml <<-EOF &&
	rules:
	  lowestEfficiency: disabled
	  highestWastedBytes: 0.03MiB
	  highestUserWastedPercent: disabled
	EOF
  expect_exit 3 lading analyze --ci-config tight.yaml "$IMG" >out &&
  grep -Fx "  FAIL: highestWastedBytes: too many bytes wasted (wasted-bytes=32025 > threshold=31457)" out
'

test_expect_success 'efficiency threshold above the image fails with dive message' '
  expect_exit 3 lading analyze --lowest-efficiency 0.99 --highestUserWastedPercent disabled "$IMG" >out &&
  grep -Fx "  FAIL: lowestEfficiency: image efficiency is too low (efficiency=0.9844212134184309 < threshold=0.99)" out
'

test_expect_success 'flags override the rules file' '
  expect_exit 0 lading analyze --ci-config tight.yaml --highest-wasted-bytes 1MB "$IMG" >out &&
  grep -Fx "  PASS: highestWastedBytes" out
'

test_expect_success '--format json carries the verdict per rule' '
  expect_exit 3 lading analyze --ci --format json "$IMG" >out.json &&
  jq -e ".ci.pass == false and .ci.config == null" out.json &&
  jq -e "[.ci.rules[] | [.name, .status]] == [[\"highestUserWastedPercent\",\"FAIL\"],[\"highestWastedBytes\",\"SKIP\"],[\"lowestEfficiency\",\"PASS\"]]" out.json &&
  jq -e ".efficiency == 0.9844212134184309" out.json
'

test_expect_success 'a broken rules file is an error (exit 1) naming the file and the rule' '
  printf "rules:\n  lowestEfficiency: 1.5\n" >bad1.yaml &&
  expect_exit 1 lading analyze --ci-config bad1.yaml "$IMG" >out 2>err &&
  one_line err && grep "^lading: bad1.yaml: lowestEfficiency: value .1\.5. is outside" err &&
  test ! -s out &&
  printf "rules:\n  highestWastedBytes: lots\n" >bad2.yaml &&
  expect_exit 1 lading analyze --ci-config bad2.yaml "$IMG" 2>err &&
  grep "^lading: bad2.yaml: highestWastedBytes: invalid size .lots." err &&
  printf "rules: [unclosed\n" >bad3.yaml &&
  expect_exit 1 lading analyze --ci-config bad3.yaml "$IMG" 2>err &&
  grep "^lading: bad3.yaml: line " err &&
  expect_exit 1 lading analyze --ci-config missing.yaml "$IMG" 2>err &&
  grep "missing.yaml" err
'

test_expect_success 'CI=true alone does not turn the gate on (documented choice)' '
  CI=true lading analyze "$IMG" >out &&
  ! grep "^Result:" out
'

test_expect_success 'a one-layer image passes the percent rule (NaN, as in dive)' '
  lading analyze --ci "oci-archive:$FIXTURES/dive/test-oci-gzip-image.tar" >out &&
  grep -Fx "  PASS: highestUserWastedPercent" out
'

test_done
