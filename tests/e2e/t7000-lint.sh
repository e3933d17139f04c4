#!/bin/bash
# lading lint: hadolint's size and tag rules, JSON output, thresholds and exit codes.
. "$(dirname "$0")/lib.sh"

test_expect_success 'lint reports hadolint IDs with lines and exits 3' '
  cat >Dockerfile <<-\EOT &&
	FROM debian
	RUN apt-get update && apt-get install -y curl
	RUN pip install flask
	ADD app.py /app/
	EOT
  expect_exit 3 lading lint Dockerfile >out &&
  grep "Dockerfile:1 DL3006 warning" out &&
  grep "Dockerfile:2 DL3009 info" out &&
  grep "Dockerfile:2 DL3015 info" out &&
  grep "Dockerfile:3 DL3042 warning" out &&
  grep "Dockerfile:3 DL3059 info" out &&
  grep "Dockerfile:4 DL3020 error" out
'

test_expect_success 'cache (and, for apt lists, tmpfs) mounts silence DL3009, DL3019 and DL3060 as in hadolint 2.14' '
  cat >Dockerfile <<-\EOT &&
	FROM debian:12
	RUN --mount=type=cache,target=/var/lib/apt,sharing=locked apt-get update && apt-get install -y --no-install-recommends curl
	RUN --mount=type=tmpfs,target=/var/lib/apt/lists/ apt-get update && apt-get install -y --no-install-recommends wget
	RUN --mount=type=cache,target=/var/cache/apk apk add curl
	RUN --mount=type=cache,target=/usr/local/share/.cache/yarn yarn install
	RUN --mount=type=tmpfs,target=/var/cache/apk apk add wget
	EOT
  lading lint --ignore DL3059 --format json Dockerfile >out.json; test $? = 3 &&
  jq -e "[.[] | .code + \":\" + (.line | tostring)] == [\"DL3019:6\"]" out.json
'

test_expect_success 'lint --format json has hadolint fields' '
  printf "FROM debian:latest\nRUN apk add curl\n" >Dockerfile &&
  expect_exit 3 lading lint --format json Dockerfile >out.json &&
  jq -e "length == 2" out.json &&
  jq -e ".[0] == {code: \"DL3007\", column: 1, file: \"Dockerfile\", level: \"warning\", line: 1, message: .[0].message}" out.json &&
  jq -e ".[1].code == \"DL3019\" and .[1].level == \"info\" and .[1].line == 2" out.json
'

test_expect_success 'failure threshold decides the exit status' '
  printf "FROM debian:12\nRUN a\nRUN b\n" >Dockerfile &&
  expect_exit 3 lading lint Dockerfile &&
  expect_exit 0 lading lint --failure-threshold warning Dockerfile &&
  expect_exit 0 lading lint --ignore DL3059 Dockerfile
'

test_expect_success 'hadolint ignore pragmas above an instruction silence those codes' '
  cat >Dockerfile <<-\EOT &&
	FROM debian:12
	# hadolint ignore=DL3009,DL3015
	RUN apt-get update && apt-get install -y curl
	RUN apt-get update
	EOT
  expect_exit 3 lading lint Dockerfile >out &&
  test "$(cut -d" " -f1-2 out)" = "$(printf "Dockerfile:4 DL3009\nDockerfile:4 DL3059")"
'

test_expect_success 'a clean Dockerfile passes' '
  cat >Dockerfile <<-\EOT &&
	FROM debian:12 AS build
	RUN apt-get update && apt-get install -y --no-install-recommends gcc && rm -rf /var/lib/apt/lists/*
	FROM scratch
	COPY --from=build /usr/bin/gcc /gcc
	EOT
  lading lint Dockerfile >out && test ! -s out
'

test_expect_success 'a parse error names file, line and column' '
  printf "FROM debian:12\n  BOGUS x\n" >Dockerfile &&
  expect_exit 1 lading lint Dockerfile 2>err &&
  grep "lading: Dockerfile:2:3: unknown instruction: BOGUS" err
'

test_done
