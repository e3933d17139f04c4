#!/bin/sh
# Installs the Debian packages lading builds and tests with (DESIGN.md, "Dependencies").
# Idempotent: dpkg-query first, apt-get only for what is missing, quiet when nothing is.
# Usage: scripts/deps.sh [build|test|all]   (default: build)
set -eu

build_pkgs="build-essential pkg-config meson ninja-build
 libssl-dev libsodium-dev libcurl4-openssl-dev libmicrohttpd-dev libarchive-dev
 libxml2-dev libicu-dev nettle-dev liblz4-dev libbz2-dev liblzma-dev libacl1-dev
 libisal-dev zlib1g-dev libzstd-dev libxxhash-dev libseccomp-dev libcap-dev
 libjansson-dev libsqlite3-dev libyaml-dev libncurses-dev libcmocka-dev"

# Real peers the end-to-end tests run against (PEERS.md), and tools the tests use.
test_pkgs="skopeo umoci docker-registry containerd buildah podman rpm debootstrap
 isal zstd curl apache2-utils wrk jq sqlite3 openssl e2fsprogs tar gzip file
 uidmap containernetworking-plugins liblog4j2-java zip unzip python3 bc openssh-client db5.3-util
 time"

case "${1:-build}" in
  build) want="$build_pkgs" ;;
  test)  want="$test_pkgs" ;;
  all)   want="$build_pkgs $test_pkgs" ;;
  *) echo "usage: $0 [build|test|all]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$st" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
  exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 -qq update >/dev/null
apt-get -o DPkg::Lock::Timeout=600 -qq install -y --no-install-recommends $missing >/dev/null
