#!/bin/bash
# Lifecycle of lading serve: idle upload sessions expire, a restart wipes stale uploads,
# SIGTERM lets a request in flight finish and exits 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve-lib.sh"
require_cmd curl
start_serve ttl --upload-ttl 1s

test_expect_success 'an idle upload session expires after --upload-ttl' '
  [ "$(http POST /v2/life/blobs/uploads/)" = 202 ] && loc=$(header Location) &&
  [ "$(http PATCH $loc --data-binary x)" = 202 ] && [ -n "$(ls $SERVE_ROOT/uploads)" ] &&
  sleep 2.2 &&
  [ "$(http GET $loc)" = 404 ] && [ "$(error_code)" = BLOB_UPLOAD_UNKNOWN ] &&
  sleep 1.2 && [ -z "$(ls $SERVE_ROOT/uploads)" ]
'

# Runs a server inside a test body; sets REG and PID.
own_server() { serve_start "$1" "$1.log"; }

test_expect_success 'kill -9 then restart: stale upload data is removed, blobs stay' '
  own_server $TRASH/restart && echo kept >kept && push_blob r kept &&
  [ "$(http POST /v2/r/blobs/uploads/)" = 202 ] && loc=$(header Location) &&
  head -c 100000 /dev/urandom >part && [ "$(http PATCH $loc --data-binary @part)" = 202 ] &&
  [ -n "$(ls $TRASH/restart/uploads)" ] &&
  kill -9 $PID && wait $PID 2>/dev/null; own_server $TRASH/restart &&
  [ -z "$(ls $TRASH/restart/uploads)" ] &&
  [ "$(http GET $loc)" = 404 ] &&
  [ "$(http GET /v2/r/blobs/$(digest_of kept))" = 200 ] && cmp body kept &&
  kill $PID && wait $PID
'

test_expect_success 'SIGTERM drains: an upload in flight completes, then the server exits 0' '
  own_server $TRASH/drain
  [ "$(http POST /v2/d/blobs/uploads/)" = 202 ]
  loc=$(header Location)
  head -c 1500000 /dev/urandom >slow
  curl -s -o /dev/null -w "%{http_code}" --limit-rate 1M -X PATCH -T slow http://$REG$loc >code &
  CURL=$!
  sleep 0.4 && kill -TERM $PID && wait $PID && wait $CURL &&
  [ "$(cat code)" = 202 ] && grep -q "draining" $TRASH/drain.log &&
  ! curl -s http://$REG/v2/
'
test_done
