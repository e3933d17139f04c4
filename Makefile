# The two commands of the README: `make demo` and `make check`. Both install what is missing
# (scripts/deps.sh), build with Meson/Ninja, then run. See README.md.
BUILD      ?= build
ASAN_BUILD ?= build-asan
MESON_OPTS ?= -Dwerror=true

.PHONY: all deps test-deps build asan demo check unit e2e clean

all: build

deps:
	@scripts/deps.sh build

test-deps:
	@scripts/deps.sh test

$(BUILD)/build.ninja:
	@meson setup $(MESON_OPTS) $(BUILD) >/dev/null

$(ASAN_BUILD)/build.ninja:
	@meson setup $(MESON_OPTS) -Db_sanitize=address,undefined -Db_lundef=false $(ASAN_BUILD) >/dev/null

build: deps $(BUILD)/build.ninja
	@ninja -C $(BUILD)

asan: deps $(ASAN_BUILD)/build.ninja
	@ninja -C $(ASAN_BUILD)

demo: build
	@scripts/demo.sh $(BUILD)/lading

# Unit tests, end-to-end tests, then the whole suite again under ASan+UBSan.
check: deps test-deps build asan
	@scripts/check.sh $(BUILD) $(ASAN_BUILD)

unit: build
	@meson test -C $(BUILD) --suite unit --print-errorlogs

e2e: build
	@LADING=$(BUILD)/lading tests/e2e/run.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
