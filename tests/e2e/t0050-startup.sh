#!/bin/bash
# Commands that never touch the network do not load libcurl, libssl or libmicrohttpd
# (lib/core/netlibs.c loads them with dlopen on first use); commands that do, load them and work.
# libarchive is linked statically (meson option static_libarchive), without the libxml2/ICU
# closure its shared library brings.
. "$(dirname "$0")/lib.sh"

loaded_libs() { LD_DEBUG=files "$LADING" "$@" 2>&1 >/dev/null | sed -n 's/.*file=\([^ ]*\).*/\1/p' | sort -u; }

test_expect_success 'images, analyze --help and --version load no network library' '
	loaded_libs --version >libs &&
	loaded_libs images >>libs &&
	loaded_libs analyze --help >>libs &&
	grep -q libcrypto libs &&
	! grep -E "libcurl|libmicrohttpd|libssl" libs
'

# (not libstdc++: the sanitizer runtimes of the ASan build load it themselves)
test_expect_success 'libarchive is linked in (static_libarchive): libxml2 and ICU are not loaded' '
	! readelf -d "$LADING" | grep -q "libarchive\.so" &&
	! grep -E "libxml2|libicu" libs
'

test_expect_success 'a docker:// reference loads libcurl on first use' '
	loaded_libs inspect docker://127.0.0.1:1/none/such:tag >libs || true &&
	grep -q libcurl libs && ! grep -q libmicrohttpd libs
'

port=$(free_port)
"$LADING" serve --addr 127.0.0.1:$port --root "$TRASH/reg" 2>"$TRASH/serve.log" &
serve_pid=$!
test_at_end "kill $serve_pid"

test_expect_success 'serve loads libmicrohttpd and answers' '
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.05; done &&
	curl -sf "http://127.0.0.1:$port/v2/" >/dev/null &&
	grep -q libmicrohttpd /proc/$serve_pid/maps
'

test_done
