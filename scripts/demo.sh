#!/bin/sh
# make demo: import a sample image into a fresh embedded store and analyze it.
set -eu
lading=${1:-build/lading}
top=$(cd "$(dirname "$0")/.." && pwd)
export LADING_ROOT=$(mktemp -d /tmp/lading-demo.XXXXXX)
echo "== A fresh embedded store at $LADING_ROOT"
echo "== lading copy docker-archive:tests/fixtures/dive/test-docker-image.tar dive-test:latest"
"$lading" copy "docker-archive:$top/tests/fixtures/dive/test-docker-image.tar" dive-test:latest
echo "== lading images"
"$lading" images
echo "== lading analyze dive-test:latest"
"$lading" analyze dive-test:latest
