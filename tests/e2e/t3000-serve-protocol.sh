#!/bin/bash
# lading serve speaks distribution-spec 1.1: every endpoint and error case, driven with curl.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve-lib.sh"
require_cmd curl jq
start_serve reg

Z64=0000000000000000000000000000000000000000000000000000000000000000
cd "$TRASH" && head -c 100000 /dev/urandom >layer.bin && echo '{"architecture":"amd64","os":"linux"}' >config.json

test_expect_success 'GET /v2/ answers 200 with the API version header' '
  [ "$(http GET /v2/)" = 200 ] && [ "$(header Docker-Distribution-API-Version)" = registry/2.0 ]
'

test_expect_success 'monolithic POST ?digest= stores a blob readable with HEAD and GET' '
  d=$(digest_of $TRASH/layer.bin) &&
  [ "$(http POST "/v2/proto/blobs/uploads/?digest=$d" --data-binary @$TRASH/layer.bin -H "Content-Type: application/octet-stream")" = 201 ] &&
  [ "$(header Location)" = "/v2/proto/blobs/$d" ] && [ "$(header Docker-Content-Digest)" = "$d" ] &&
  [ "$(http HEAD /v2/proto/blobs/$d)" = 200 ] && [ "$(header Content-Length)" = 100000 ] &&
  [ "$(http GET /v2/proto/blobs/$d)" = 200 ] && cmp body $TRASH/layer.bin
'

test_expect_success 'POST then PUT with the body uploads a blob' '
  echo "second blob" >b2 && d=$(digest_of b2) &&
  [ "$(http POST /v2/proto/blobs/uploads/)" = 202 ] && loc=$(header Location) &&
  [ -n "$(header Docker-Upload-UUID)" ] &&
  [ "$(http PUT "$loc?digest=$d" --data-binary @b2 -H "Content-Type: application/octet-stream")" = 201 ] &&
  [ "$(http GET /v2/proto/blobs/$d)" = 200 ] && cmp body b2
'

test_expect_success 'chunked PATCH in order works; a gap is refused with 416 and the current Range' '
  head -c 3000 /dev/urandom >whole && head -c 1000 whole >c1 && tail -c 2000 whole >c2 &&
  d=$(digest_of whole) &&
  [ "$(http POST /v2/proto/blobs/uploads/)" = 202 ] && loc=$(header Location) &&
  [ "$(http PATCH $loc --data-binary @c1 -H "Content-Range: 0-999" -H "Content-Type: application/octet-stream")" = 202 ] &&
  [ "$(header Range)" = 0-999 ] &&
  [ "$(http PATCH $loc --data-binary @c2 -H "Content-Range: 1500-3499" -H "Content-Type: application/octet-stream")" = 416 ] &&
  [ "$(header Range)" = 0-999 ] &&
  [ "$(http GET $loc)" = 204 ] && [ "$(header Range)" = 0-999 ] &&
  [ "$(http PATCH $loc --data-binary @c2 -H "Content-Range: 1000-2999" -H "Content-Type: application/octet-stream")" = 202 ] &&
  [ "$(header Range)" = 0-2999 ] &&
  [ "$(http PUT "$loc?digest=$d")" = 201 ] &&
  [ "$(http GET /v2/proto/blobs/$d)" = 200 ] && cmp body whole
'

test_expect_success 'streamed PATCH (chunked transfer encoding, no Content-Range) works' '
  head -c 70000 /dev/urandom >streamed && d=$(digest_of streamed) &&
  [ "$(http POST /v2/proto/blobs/uploads/)" = 202 ] && loc=$(header Location) &&
  [ "$(cat streamed | http PATCH $loc -T - -H "Content-Type: application/octet-stream")" = 202 ] &&
  [ "$(header Range)" = 0-69999 ] &&
  [ "$(http PUT "$loc?digest=$d")" = 201 ] &&
  [ "$(http GET /v2/proto/blobs/$d)" = 200 ] && cmp body streamed
'

test_expect_success 'a wrong digest at the final PUT is DIGEST_INVALID and stores nothing' '
  echo "some bytes" >w && wrong=sha256:$(echo other | sha256sum | cut -d" " -f1) &&
  [ "$(http POST /v2/proto/blobs/uploads/)" = 202 ] && loc=$(header Location) &&
  [ "$(http PUT "$loc?digest=$wrong" --data-binary @w)" = 400 ] && [ "$(error_code)" = DIGEST_INVALID ] &&
  [ "$(http HEAD /v2/proto/blobs/$wrong)" = 404 ] &&
  [ "$(http HEAD /v2/proto/blobs/$(digest_of w))" = 404 ] &&
  [ ! -e $SERVE_ROOT/blobs/sha256/$(sha256sum w | cut -d" " -f1) ] &&
  [ -z "$(ls $SERVE_ROOT/uploads)" ]
'

test_expect_success 'DELETE cancels an upload session' '
  [ "$(http POST /v2/proto/blobs/uploads/)" = 202 ] && loc=$(header Location) &&
  [ "$(http DELETE $loc)" = 204 ] &&
  [ "$(http GET $loc)" = 404 ] && [ "$(error_code)" = BLOB_UPLOAD_UNKNOWN ]
'

test_expect_success 'a manifest naming a missing blob is MANIFEST_BLOB_UNKNOWN' '
  head -c 10 /dev/urandom >missing &&
  oci_manifest $TRASH/config.json missing >m.json && push_blob proto $TRASH/config.json &&
  [ "$(put_manifest proto bad m.json)" = 400 ] && jq -e ".errors[0].code == \"MANIFEST_BLOB_UNKNOWN\"" $TRASH/.put.body
'

test_expect_success 'manifest PUT by tag; GET and HEAD by tag and digest return the exact bytes' '
  oci_manifest $TRASH/config.json $TRASH/layer.bin >$TRASH/m.json &&
  [ "$(put_manifest proto v1 $TRASH/m.json)" = 201 ] &&
  d=$(digest_of $TRASH/m.json) && grep -qi "^Docker-Content-Digest: $d" $TRASH/.put.hdr &&
  [ "$(http GET /v2/proto/manifests/v1)" = 200 ] && cmp body $TRASH/m.json &&
  [ "$(header Content-Type)" = application/vnd.oci.image.manifest.v1+json ] &&
  [ "$(header Docker-Content-Digest)" = $d ] &&
  [ "$(http GET /v2/proto/manifests/$d)" = 200 ] && cmp body $TRASH/m.json &&
  [ "$(http HEAD /v2/proto/manifests/v1)" = 200 ] && [ "$(header Content-Length)" = $(size_of $TRASH/m.json) ]
'

test_expect_success 'manifest PUT by a digest that is not the body digest is DIGEST_INVALID' '
  [ "$(put_manifest proto sha256:'$Z64' $TRASH/m.json)" = 400 ] &&
  jq -e ".errors[0].code == \"DIGEST_INVALID\"" $TRASH/.put.body
'

test_expect_success 'malformed and oversized manifests are refused' '
  echo "{not json" >bad.json && [ "$(put_manifest proto t bad.json)" = 400 ] &&
  jq -e ".errors[0].code == \"MANIFEST_INVALID\"" $TRASH/.put.body &&
  echo "{\"schemaVersion\":2,\"mediaType\":\"text/plain\"}" >odd.json &&
  [ "$(put_manifest proto t odd.json)" = 400 ] &&
  head -c 5000000 /dev/zero | tr "\0" " " >big.json && [ "$(put_manifest proto t big.json)" = 413 ]
'

test_expect_success 'Range requests: 206 with Content-Range; unsatisfiable is 416' '
  d=$(digest_of $TRASH/layer.bin) &&
  [ "$(http GET /v2/proto/blobs/$d -H "Range: bytes=10-19")" = 206 ] &&
  [ "$(header Content-Range)" = "bytes 10-19/100000" ] && cmp body <(tail -c +11 $TRASH/layer.bin | head -c 10) &&
  [ "$(http GET /v2/proto/blobs/$d -H "Range: bytes=99990-")" = 206 ] && [ $(size_of body) = 10 ] &&
  [ "$(http GET /v2/proto/blobs/$d -H "Range: bytes=-5")" = 206 ] && cmp body <(tail -c 5 $TRASH/layer.bin) &&
  [ "$(http GET /v2/proto/blobs/$d -H "Range: bytes=200000-300000")" = 416 ] &&
  [ "$(header Content-Range)" = "bytes */100000" ]
'

test_expect_success 'tags list paginates with n and last and a Link header' '
  for t in t1 t2 t3 t4 t5; do [ "$(put_manifest pages $t $TRASH/m.json)" = 400 ] || exit 1; done &&
  for b in config.json layer.bin; do push_blob pages $TRASH/$b; done &&
  for t in t1 t2 t3 t4 t5; do [ "$(put_manifest pages $t $TRASH/m.json)" = 201 ] || exit 1; done &&
  [ "$(http GET "/v2/pages/tags/list")" = 200 ] && [ "$(jq -c .tags body)" = "[\"t1\",\"t2\",\"t3\",\"t4\",\"t5\"]" ] &&
  [ "$(http GET "/v2/pages/tags/list?n=2")" = 200 ] && [ "$(jq -c .tags body)" = "[\"t1\",\"t2\"]" ] &&
  header Link | grep -q "^</v2/pages/tags/list?n=2&last=t2>; rel=\"next\"" &&
  [ "$(http GET "/v2/pages/tags/list?n=2&last=t2")" = 200 ] && [ "$(jq -c .tags body)" = "[\"t3\",\"t4\"]" ] &&
  [ "$(http GET "/v2/pages/tags/list?n=2&last=t4")" = 200 ] && [ "$(jq -c .tags body)" = "[\"t5\"]" ] &&
  [ -z "$(header Link)" ] &&
  [ "$(http GET "/v2/pages/tags/list?n=0")" = 200 ] && [ "$(jq -c .tags body)" = "[]" ] &&
  [ "$(http GET "/v2/pages/tags/list?last=t5")" = 200 ] && [ "$(jq -c .tags body)" = "[]" ] &&
  [ "$(http GET "/v2/pages/tags/list?n=5")" = 200 ] && [ -z "$(header Link)" ]
'

test_expect_success 'catalog paginates the same way' '
  [ "$(http GET "/v2/_catalog")" = 200 ] && [ "$(jq -c .repositories body)" = "[\"pages\",\"proto\"]" ] &&
  [ "$(http GET "/v2/_catalog?n=1")" = 200 ] && [ "$(jq -c .repositories body)" = "[\"pages\"]" ] &&
  header Link | grep -q "last=pages" &&
  [ "$(http GET "/v2/_catalog?n=1&last=pages")" = 200 ] && [ "$(jq -c .repositories body)" = "[\"proto\"]" ]
'

test_expect_success 'referrers: OCI-Subject on PUT, listed with artifactType, filter applied' '
  m=$(digest_of $TRASH/m.json) && echo "{}" >empty.json && push_blob proto empty.json &&
  printf "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"artifactType\":\"application/vnd.example.sbom\",\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"%s\",\"size\":3},\"layers\":[],\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%s},\"annotations\":{\"x\":\"y\"}}" \
    "$(digest_of empty.json)" "$m" "$(size_of $TRASH/m.json)" >ref.json &&
  [ "$(put_manifest proto sha256:$(sha256sum ref.json | cut -d" " -f1) ref.json)" = 201 ] &&
  grep -qi "^OCI-Subject: $m" $TRASH/.put.hdr &&
  [ "$(http GET /v2/proto/referrers/$m)" = 200 ] &&
  [ "$(header Content-Type)" = application/vnd.oci.image.index.v1+json ] &&
  jq -e ".manifests | length == 1" body &&
  jq -e ".manifests[0].artifactType == \"application/vnd.example.sbom\" and .manifests[0].digest == \"$(digest_of ref.json)\" and .manifests[0].annotations.x == \"y\"" body &&
  [ "$(http GET "/v2/proto/referrers/$m?artifactType=application/vnd.other")" = 200 ] &&
  jq -e ".manifests | length == 0" body && [ "$(header OCI-Filters-Applied)" = artifactType ] &&
  [ "$(http GET /v2/proto/referrers/sha256:'$Z64')" = 200 ] && jq -e ".manifests == []" body
'

test_expect_success 'cross-repository mount links a blob; an unknown one falls back to a session' '
  d=$(digest_of $TRASH/layer.bin) &&
  [ "$(http HEAD /v2/other/blobs/$d)" = 404 ] &&
  [ "$(http POST "/v2/other/blobs/uploads/?mount=$d&from=proto")" = 201 ] &&
  [ "$(header Location)" = "/v2/other/blobs/$d" ] &&
  [ "$(http HEAD /v2/other/blobs/$d)" = 200 ] &&
  [ "$(http POST "/v2/other/blobs/uploads/?mount=sha256:'$Z64'&from=proto")" = 202 ] &&
  header Location | grep -q "^/v2/other/blobs/uploads/"
'

test_expect_success 'a blob is not readable through a repository that does not reference it' '
  d=$(digest_of $TRASH/layer.bin) &&
  [ "$(http GET /v2/stranger/blobs/$d)" = 404 ] && [ "$(error_code)" = BLOB_UNKNOWN ] &&
  [ "$(http POST "/v2/stranger/blobs/uploads/?mount=$d&from=nosuchrepo")" = 202 ]
'

test_expect_success 'DELETE: tag, manifest by digest (its tags go too), blob' '
  [ "$(http DELETE /v2/pages/manifests/t5)" = 202 ] && [ "$(http GET /v2/pages/manifests/t5)" = 404 ] &&
  d=$(digest_of $TRASH/m.json) &&
  [ "$(http DELETE /v2/pages/manifests/$d)" = 202 ] &&
  [ "$(http GET /v2/pages/manifests/$d)" = 404 ] && [ "$(error_code)" = MANIFEST_UNKNOWN ] &&
  [ "$(http GET /v2/pages/manifests/t1)" = 404 ] &&
  [ "$(http GET /v2/pages/manifests/v1)" = 404 ] &&
  [ "$(http GET /v2/proto/manifests/v1)" = 200 ] &&
  b=$(digest_of $TRASH/layer.bin) &&
  [ "$(http DELETE /v2/pages/blobs/$b)" = 202 ] && [ "$(http HEAD /v2/pages/blobs/$b)" = 404 ] &&
  [ "$(http HEAD /v2/proto/blobs/$b)" = 200 ]
'

# Error cases as data: METHOD PATH STATUS CODE.
cat >"$TRASH/errors.txt" <<TABLE
GET    /v2/Bad/tags/list                                          400 NAME_INVALID
GET    /v2/a..b/manifests/x                                       400 NAME_INVALID
GET    /v2/nope/tags/list                                         404 NAME_UNKNOWN
GET    /v2/nope/manifests/latest                                  404 NAME_UNKNOWN
GET    /v2/proto/manifests/nosuchtag                              404 MANIFEST_UNKNOWN
GET    /v2/proto/manifests/bad!tag                                400 MANIFEST_INVALID
GET    /v2/proto/blobs/sha256:zz                                  400 DIGEST_INVALID
GET    /v2/proto/blobs/md5:$Z64                                   400 DIGEST_INVALID
GET    /v2/proto/blobs/sha256:$Z64                                404 BLOB_UNKNOWN
DELETE /v2/proto/blobs/sha256:$Z64                                404 BLOB_UNKNOWN
DELETE /v2/proto/manifests/sha256:$Z64                            404 MANIFEST_UNKNOWN
PATCH  /v2/proto/blobs/uploads/00000000-0000-4000-8000-000000000000 404 BLOB_UPLOAD_UNKNOWN
GET    /v2/proto/blobs/uploads/not-a-uuid                         404 BLOB_UPLOAD_UNKNOWN
POST   /v2/proto/blobs/uploads/?digest=sha256:nothex              400 DIGEST_INVALID
POST   /v2/proto/tags/list                                        405 UNSUPPORTED
PUT    /v2/proto/blobs/sha256:$Z64                                405 UNSUPPORTED
GET    /v2/proto/referrers/notadigest                             400 DIGEST_INVALID
GET    /v2/proto/tags/list?n=abc                                  400 PAGINATION_NUMBER_INVALID
GET    /v3/whatever                                               404 NOT_FOUND
TABLE
test_expect_success 'each error case answers its spec status and code' '
  while read -r m p st code; do
    got=$(http $m "$p") && gc=$(error_code) &&
    { [ "$got" = "$st" ] && [ "$gc" = "$code" ]; } || { echo "$m $p: got $got $gc, want $st $code"; exit 1; }
  done <$TRASH/errors.txt
'

test_expect_success 'a PUT finalising an upload without ?digest= is refused' '
  [ "$(http POST /v2/proto/blobs/uploads/)" = 202 ] && loc=$(header Location) &&
  [ "$(http PUT $loc)" = 400 ] && [ "$(error_code)" = DIGEST_INVALID ]
'

test_expect_success 'the access log has one line per request: method, path, status, bytes, ms' '
  grep -E " GET /v2/proto/manifests/v1 200 0 [0-9]+ [0-9.]+ms$" $SERVE_LOG &&
  grep -E " PUT /v2/proto/manifests/v1 201 [0-9]+ 0 [0-9.]+ms$" $SERVE_LOG
'
test_expect_success 'large chunked uploads (hashed on a helper thread) verify their digest' '
  head -c 13000000 /dev/urandom >big && d=$(digest_of big) &&
  head -c 6000000 big >big.1 && tail -c +6000001 big >big.2 &&
  [ "$(http POST /v2/big/blobs/uploads/)" = 202 ] && loc=$(header Location) &&
  [ "$(http PATCH $loc -H "Content-Range: 0-5999999" --data-binary @big.1)" = 202 ] &&
  loc=$(header Location) &&
  [ "$(http PUT "$loc?digest=$d" --data-binary @big.2)" = 201 ] &&
  [ "$(http GET /v2/big/blobs/$d)" = 200 ] && cmp body big &&
  [ "$(http POST /v2/big/blobs/uploads/)" = 202 ] && loc=$(header Location) &&
  [ "$(http PATCH $loc --data-binary @big)" = 202 ] && loc=$(header Location) &&
  [ "$(http PUT "$loc?digest=$(digest_of big.1)")" = 400 ] && [ "$(error_code)" = DIGEST_INVALID ] &&
  [ ! -e $SERVE_ROOT/blobs/sha256/$(digest_of big.1 | cut -d: -f2) ] &&
  [ "$(http POST /v2/big/blobs/uploads/)" = 202 ] && loc=$(header Location) &&
  [ "$(http PATCH $loc --data-binary @big)" = 202 ] && uuid=${loc##*/} &&
  [ -e $SERVE_ROOT/uploads/$uuid ] && [ "$(http DELETE $loc)" = 204 ] &&
  [ ! -e $SERVE_ROOT/uploads/$uuid ]
'

start_serve sendfile --sendfile
test_expect_success 'with --sendfile, blobs and Range requests read the same bytes' '
  d=$(digest_of $TRASH/layer.bin) && push_blob sf $TRASH/layer.bin &&
  [ "$(http GET /v2/sf/blobs/$d)" = 200 ] && cmp body $TRASH/layer.bin &&
  [ "$(http GET /v2/sf/blobs/$d -H "Range: bytes=10-19")" = 206 ] &&
  cmp body <(tail -c +11 $TRASH/layer.bin | head -c 10) &&
  [ "$(http HEAD /v2/sf/blobs/$d)" = 200 ] && [ "$(header Content-Length)" = 100000 ]
'
test_done
