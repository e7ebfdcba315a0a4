# loopguard. `make` builds the two libraries and the launcher into $(BUILD)/;
# `make check` runs every test (plain, then ASan+UBSan); `make demo` runs the
# examples under the preload; `make bench`; `make stress` (long channel
# runs); `make fuzz` (clang's libFuzzer); `make install PREFIX=...`.
# `make deps` installs missing Debian packages; check and demo pull it in.

PREFIX ?= /usr/local
BUILD ?= build
SAN ?=
CC = cc

# `make V=1` shows the full commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

OPT ?= -O2 -g
WARN := -Wall -Wextra -Werror
CPPFLAGS_ALL := -D_GNU_SOURCE -Iinclude -Isrc $(CPPFLAGS)
ifneq ($(SAN),)
SANFLAGS := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
NOUNDEF :=
else
SANFLAGS :=
NOUNDEF := -Wl,--no-undefined
endif
CFLAGS_ALL := -std=gnu11 $(OPT) $(WARN) $(SANFLAGS) $(CFLAGS)
LIBFLAGS := -fPIC -fvisibility=hidden -ftls-model=initial-exec

UV_CFLAGS := $(shell pkg-config --cflags libuv 2>/dev/null)
UV_LIBS := $(shell pkg-config --libs libuv 2>/dev/null || echo -luv)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

CORE_SRC := $(sort $(wildcard src/*.c))
CORE_OBJ := $(CORE_SRC:src/%.c=$(BUILD)/obj/src/%.o)
PRELOAD_SRC := $(sort $(wildcard preload/*.c))
PRELOAD_OBJ := $(PRELOAD_SRC:preload/%.c=$(BUILD)/obj/preload/%.o)
HDRS := $(wildcard include/*.h src/*.h)
PRELOAD_HDRS := $(HDRS) $(wildcard preload/*.h preload/*.def)

CORE_LIB := $(BUILD)/libloopguard.so
PRELOAD_LIB := $(BUILD)/libloopguard-preload.so
LAUNCHER := $(BUILD)/loopguard
SYMBOLIZER := $(BUILD)/loopguard-symbolizer

UNIT_SRC := $(sort $(wildcard tests/unit/test-*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# The JSON parser is shared by the tests and `loopguard report`, whose
# reader (REPORT_SRC) the report-read tests and fuzzer link too.
SUPPORT_SRC := $(sort $(wildcard tests/support/*.c)) tools/json.c
REPORT_SRC := tools/report-read.c tools/report.c tools/report-print.c \
              tools/report-sym.c tools/report-time.c tools/report-html.c
TOOL_HDRS := $(wildcard tools/*.h)
PROG_SRC := $(sort $(wildcard tests/integration/prog-*.c))
PROG_BIN := $(PROG_SRC:tests/integration/%.c=$(BUILD)/tests/%)
EXAMPLE_DIRS := $(sort $(dir $(wildcard examples/*/main.c)))
EXAMPLE_BIN := $(patsubst examples/%/,$(BUILD)/examples/%,$(EXAMPLE_DIRS))
BENCH_SRC := $(sort $(wildcard bench/bench-*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
REPLAY_BIN := $(patsubst fuzz/fuzz-%.c,$(BUILD)/tests/replay-%,\
                  $(wildcard fuzz/fuzz-*.c))

.PHONY: all deps check check-unit check-integration check-asan demo bench \
        install clean test-bins stress

all: $(CORE_LIB) $(PRELOAD_LIB) $(LAUNCHER) $(SYMBOLIZER)

deps:
	@sh tools/deps.sh

$(BUILD)/obj/src/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(UV_CFLAGS) $(CFLAGS_ALL) $(LIBFLAGS) -c $< -o $@

$(BUILD)/obj/preload/%.o: preload/%.c $(PRELOAD_HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) -Ipreload $(CFLAGS_ALL) $(LIBFLAGS) -c $< -o $@

# The soname carries the ABI version; the unversioned name is what -l finds.
$(CORE_LIB): $(CORE_OBJ)
	@echo "  CC      $@"
	$(Q)$(CC) -shared $(CFLAGS_ALL) -Wl,-soname,libloopguard.so.0 $(NOUNDEF) \
	    -o $@ $^ -ldl -lpthread
	$(Q)ln -sf libloopguard.so $(BUILD)/libloopguard.so.0

# The version script is generated from the table (preload/symbols.def), so a
# symbol is listed in one place only.
$(BUILD)/preload.map: preload/symbols.def preload/gen-map.sh
	@mkdir -p $(@D)
	$(Q)sh preload/gen-map.sh $(CC) preload/symbols.def > $@

$(PRELOAD_LIB): $(PRELOAD_OBJ) $(CORE_LIB) $(BUILD)/preload.map
	@echo "  CC      $@"
	$(Q)$(CC) -shared $(CFLAGS_ALL) -Wl,-soname,libloopguard-preload.so \
	    -Wl,--version-script=$(BUILD)/preload.map $(NOUNDEF) \
	    -o $@ $(PRELOAD_OBJ) -L$(BUILD) -lloopguard -Wl,-rpath,'$$ORIGIN' \
	    -ldl -lpthread

$(LAUNCHER): tools/loopguard.c tools/json.c $(REPORT_SRC) $(CORE_LIB) \
             $(HDRS) $(TOOL_HDRS)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) -Itools $(CFLAGS_ALL) -o $@ $< tools/json.c \
	    $(REPORT_SRC) -L$(BUILD) -lloopguard \
	    -Wl,-rpath,'$$ORIGIN:$$ORIGIN/../lib'

# The process that reads DWARF for report frames, installed beside
# libloopguard.so: libdw is linked here, never into a host.
$(SYMBOLIZER): tools/loopguard-symbolizer.c tools/symbolizer-dwarf.c \
               src/symbolizer-proto.c $(HDRS) $(TOOL_HDRS)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) -Itools $(CFLAGS_ALL) -o $@ \
	    tools/loopguard-symbolizer.c tools/symbolizer-dwarf.c \
	    src/symbolizer-proto.c -ldw -lelf

# ---- tests -----------------------------------------------------------------
$(BUILD)/tests/test-%: tests/unit/test-%.c $(SUPPORT_SRC) $(CORE_LIB) $(HDRS) \
                       $(TOOL_HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) -Itests/support -Itools $(UV_CFLAGS) \
	    $(EXTRA_CFLAGS) $(CFLAGS_ALL) -o $@ $< $(SUPPORT_SRC) $(EXTRA_SRC) -L$(BUILD) -lloopguard -Wl,-rpath,'$$ORIGIN/..' \
	    $(CMOCKA_LIBS) $(UV_LIBS) $(EXTRA_LIBS) -ldl -lpthread -lrt

$(BUILD)/tests/prog-%: tests/integration/prog-%.c $(HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(UV_CFLAGS) $(CFLAGS_ALL) -o $@ $< \
	    $(UV_LIBS) -ldl -lpthread -lrt

# The cmocka test docs/guide.md quotes: the public API and cmocka.
$(BUILD)/tests/prog-cmocka-guide: tests/integration/prog-cmocka-guide.c \
                                  $(CORE_LIB) $(HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(UV_CFLAGS) $(CFLAGS_ALL) -o $@ $< \
	    -L$(BUILD) -lloopguard -Wl,-rpath,'$$ORIGIN/..' $(CMOCKA_LIBS) \
	    $(UV_LIBS) -lpthread

# A library whose constructor runs before the preload's (test-early-calls).
$(BUILD)/tests/libearly.so: tests/integration/early-lib.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -fPIC -shared -o $@ $< -lpthread

# Preloaded after the detector by tests that expect no record, to prove it
# saw the loop (loop-probe.c says how).
$(BUILD)/tests/libloop-probe.so: tests/integration/loop-probe.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(UV_CFLAGS) $(CFLAGS_ALL) -fPIC -shared -o $@ $< \
	    -ldl

# prog-chan-deadlock and prog-control call the public API, so they link
# libloopguard (prog-% does not).
$(BUILD)/tests/prog-chan-deadlock $(BUILD)/tests/prog-control: \
$(BUILD)/tests/prog-%: tests/integration/prog-%.c $(CORE_LIB) $(HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(UV_CFLAGS) $(CFLAGS_ALL) -o $@ $< \
	    -L$(BUILD) -lloopguard -Wl,-rpath,'$$ORIGIN/..' $(UV_LIBS) -lpthread

$(BUILD)/tests/prog-early: tests/integration/prog-early.c \
                           $(BUILD)/tests/libearly.so
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(UV_CFLAGS) $(CFLAGS_ALL) -o $@ $< \
	    -L$(BUILD)/tests -learly -Wl,-rpath,'$$ORIGIN' $(UV_LIBS) -lpthread

# A module of its own, for module: rules (test-suppressions).
$(BUILD)/tests/libsupp-mod.so: tests/integration/supp-mod.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -fPIC -shared -o $@ $<

$(BUILD)/tests/prog-supp: tests/integration/prog-supp.c \
                          $(BUILD)/tests/libsupp-mod.so
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(UV_CFLAGS) $(CFLAGS_ALL) -o $@ $< \
	    -L$(BUILD)/tests -lsupp-mod -Wl,-rpath,'$$ORIGIN' $(UV_LIBS) \
	    -lpthread

# Examples use lg_chan; the rpath finds $(BUILD)/libloopguard.so uninstalled.
$(BUILD)/tests/prog-hostile: tests/integration/prog-hostile.c $(CORE_LIB)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ $< -L$(BUILD) -lloopguard \
	    -Wl,-rpath,'$$ORIGIN/..' -lpthread

# A libuv plugin the test program loads with RTLD_LOCAL (test-hostile-hosts).
$(BUILD)/tests/uv-plugin.so: tests/integration/uv-plugin.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(UV_CFLAGS) $(CFLAGS_ALL) -fPIC -shared -o $@ $< \
	    $(UV_LIBS)

$(BUILD)/tests/prog-plugin: tests/integration/prog-plugin.c \
                            $(BUILD)/tests/uv-plugin.so
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ $< -ldl

$(BUILD)/examples/%: examples/%/main.c $(CORE_LIB) $(HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(UV_CFLAGS) $(CFLAGS_ALL) -o $@ $< \
	    -L$(BUILD) -lloopguard -Wl,-rpath,'$$ORIGIN/..' $(UV_LIBS) -lpthread

# ---- named-loop test programs (test-named-loops) ---------------------------
# libevent, libev and GLib are test-only dependencies (make deps installs
# them); the preload links none of them. libev has no .pc on Debian.
HAVE_LIBEVENT := $(shell pkg-config --exists libevent libevent_pthreads && echo 1)
HAVE_LIBEV := $(shell printf '\043include <ev.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo 1)
HAVE_GLIB := $(shell pkg-config --exists glib-2.0 && echo 1)
EVENT_CFLAGS := $(shell pkg-config --cflags libevent libevent_pthreads 2>/dev/null)
EVENT_LIBS := $(shell pkg-config --libs libevent libevent_pthreads 2>/dev/null)
GLIB_CFLAGS := $(shell pkg-config --cflags glib-2.0 2>/dev/null)
GLIB_LIBS := $(shell pkg-config --libs glib-2.0 2>/dev/null)
LOOPS := tests/integration/loops
LIBEVENT_BIN := $(BUILD)/tests/loops/libevent-clean $(BUILD)/tests/loops/libevent-block
LIBEV_BIN := $(BUILD)/tests/loops/libev-clean $(BUILD)/tests/loops/libev-block
GLIB_BIN := $(BUILD)/tests/loops/glib-clean $(BUILD)/tests/loops/glib-block
LOOP_BIN := $(if $(HAVE_LIBEVENT),$(LIBEVENT_BIN)) \
            $(if $(HAVE_LIBEV),$(LIBEV_BIN)) $(if $(HAVE_GLIB),$(GLIB_BIN))

# The examples that receive on libevent and GLib loops (lg_chan_fd).
$(BUILD)/examples/thread-to-libevent: examples/thread-to-libevent/main.c \
                                      $(CORE_LIB) $(HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(EVENT_CFLAGS) $(CFLAGS_ALL) -o $@ $< \
	    -L$(BUILD) -lloopguard -Wl,-rpath,'$$ORIGIN/..' $(EVENT_LIBS) -lpthread
$(BUILD)/examples/thread-to-glib: examples/thread-to-glib/main.c \
                                  $(CORE_LIB) $(HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(GLIB_CFLAGS) $(CFLAGS_ALL) -o $@ $< \
	    -L$(BUILD) -lloopguard -Wl,-rpath,'$$ORIGIN/..' $(GLIB_LIBS) -lpthread

$(LIBEVENT_BIN): $(BUILD)/tests/loops/%: $(LOOPS)/%.c $(LOOPS)/libevent-clean.c \
                   $(LOOPS)/common.h
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(EVENT_CFLAGS) $(CFLAGS_ALL) -o $@ $< \
	    $(EVENT_LIBS) -lpthread

$(LIBEV_BIN): $(BUILD)/tests/loops/%: $(LOOPS)/%.c $(LOOPS)/libev-clean.c \
                $(LOOPS)/common.h
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ $< -lev -lpthread

$(GLIB_BIN): $(BUILD)/tests/loops/%: $(LOOPS)/%.c $(LOOPS)/glib-clean.c \
               $(LOOPS)/common.h
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(GLIB_CFLAGS) $(CFLAGS_ALL) -o $@ $< \
	    $(GLIB_LIBS) -lpthread

# lg_chan_fd watched by libevent and GLib loops, those that are installed.
$(BUILD)/tests/test-chan-fd-loops: EXTRA_CFLAGS = \
    $(if $(HAVE_LIBEVENT),-DLG_HAVE_LIBEVENT $(EVENT_CFLAGS)) \
    $(if $(HAVE_GLIB),-DLG_HAVE_GLIB $(GLIB_CFLAGS))
$(BUILD)/tests/test-chan-fd-loops: EXTRA_LIBS = \
    $(if $(HAVE_LIBEVENT),$(EVENT_LIBS)) $(if $(HAVE_GLIB),$(GLIB_LIBS))

# libuv linked in from libuv1-dev's static archive (test-static-uv).
UV_STATIC_LIBS := $(shell pkg-config --libs --static libuv-static 2>/dev/null)
UV_STATIC_BIN := $(BUILD)/tests/loops/uv-static-clean \
                 $(BUILD)/tests/loops/uv-static-block \
                 $(BUILD)/tests/loops/uv-static-sync-fs

$(BUILD)/tests/loops/uv-static-clean: tests/integration/prog-uv-clean.c
$(BUILD)/tests/loops/uv-static-block: $(LOOPS)/uv-static-block.c
$(BUILD)/tests/loops/uv-static-sync-fs: tests/integration/prog-uv-sync-fs.c
$(UV_STATIC_BIN):
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(UV_CFLAGS) $(CFLAGS_ALL) -o $@ $< \
	    $(UV_STATIC_LIBS)

# prog-chan-deadlock on a libuv linked in: lg_chan (libloopguard.so, on the
# system libuv) must find the program's own uv_run on the stack.
$(BUILD)/tests/loops/uv-static-chan-deadlock: \
        tests/integration/prog-chan-deadlock.c $(CORE_LIB) $(HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(UV_CFLAGS) $(CFLAGS_ALL) -o $@ $< \
	    $(UV_STATIC_LIBS) -L$(BUILD) -lloopguard -Wl,-rpath,'$$ORIGIN/../..'

# C++ blocking in libuv callbacks (test-cxx): the host program only, so
# no sanitizer flags.
CXX = c++
$(BUILD)/tests/prog-cxx-uv: tests/integration/prog-cxx-uv.cc
	@mkdir -p $(@D)
	@echo "  CXX     $@"
	$(Q)$(CXX) -std=c++17 $(OPT) $(WARN) $(UV_CFLAGS) $(CXXFLAGS) -o $@ $< \
	    $(UV_LIBS) -lpthread

# A program that exports _PyRuntime as CPython does (test-lock-order).
$(BUILD)/tests/prog-pyruntime: tests/integration/prog-pyruntime.c $(HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ $< \
	    -Wl,--export-dynamic-symbol=_PyRuntime -lpthread

# C++ objects whose std::mutex dies with them (test-lock-lifetimes).
$(BUILD)/tests/prog-locks-reuse: tests/integration/prog-locks-reuse.cc
	@mkdir -p $(@D)
	@echo "  CXX     $@"
	$(Q)$(CXX) -std=c++17 $(OPT) $(WARN) $(CXXFLAGS) -o $@ $< -lpthread

test-bins: all $(UNIT_BIN) $(PROG_BIN) $(EXAMPLE_BIN) $(LOOP_BIN) \
           $(UV_STATIC_BIN) $(BUILD)/tests/loops/uv-static-chan-deadlock \
           $(BUILD)/tests/prog-cxx-uv $(REPLAY_BIN) \
           $(BUILD)/tests/prog-locks-reuse \
           $(BUILD)/tests/libloop-probe.so

# Every suite runs, even after one failed; tests/totals.sh then prints one
# line of totals (and fails on a skip LG_MUST_RUN forbids: .ci/run sets it).
check: export LG_TOTALS := $(CURDIR)/build/check-totals
check: deps
	@mkdir -p build && rm -f $(LG_TOTALS)
	@st=0; \
	$(MAKE) -k check-unit check-integration || st=1; \
	$(MAKE) check-asan || st=1; \
	$(MAKE) check-tsan || st=1; \
	sh tests/totals.sh $(LG_TOTALS) $$st

check-unit: test-bins
	@sh tests/run-unit.sh $(BUILD) $(UNIT_BIN)

check-integration: test-bins
	@sh tests/run-integration.sh $(BUILD)

# The same suites, rebuilt with AddressSanitizer and UBSan.
check-asan:
	$(MAKE) -k BUILD=build/asan SAN=address,undefined \
	    check-unit check-integration

# The channel's unit tests and the library they link, rebuilt with
# ThreadSanitizer (the preload is not involved). Each test runs through a
# link to tests/support/tsan-run.sh, which turns ASLR off where TSan needs.
.PHONY: check-tsan
CHAN_TESTS := $(patsubst tests/unit/%.c,%,$(sort \
                  $(wildcard tests/unit/test-chan-*.c)))
check-tsan:
	$(MAKE) BUILD=build/tsan SAN=thread $(CHAN_TESTS:%=build/tsan/tests/%)
	@mkdir -p build/tsan/wrap
	@for t in $(CHAN_TESTS); do \
	    ln -sf $(CURDIR)/tests/support/tsan-run.sh build/tsan/wrap/$$t; \
	done
	@sh tests/run-unit.sh build/tsan $(CHAN_TESTS:%=build/tsan/wrap/%)

# The fuzzers' targets without libFuzzer, replaying fuzz/seeds in `make
# check` (test-fuzz-replay): the core's objects are linked in, since the
# ELF readers are not exported from libloopguard.so.
$(BUILD)/tests/replay-%: fuzz/fuzz-%.c fuzz/replay.c fuzz/fuzz-input.h \
                         $(SUPPORT_SRC) $(CORE_OBJ) $(HDRS) $(TOOL_HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) -Itests/support -Itools $(CFLAGS_ALL) -o $@ $< \
	    fuzz/replay.c $(SUPPORT_SRC) $(EXTRA_SRC) $(CORE_OBJ) $(EXTRA_LIBS) \
	    -ldl -lpthread

# Only these link the report reader.
REPORT_USERS := $(BUILD)/tests/test-report-read \
                $(BUILD)/tests/replay-report-read build/fuzz/fuzz-report-read
$(REPORT_USERS): EXTRA_SRC = $(REPORT_SRC)
$(REPORT_USERS): $(REPORT_SRC)

# Only these link libdw: the symbolizer's DWARF side, fuzzed (a host never
# links it).
DWARF_USERS := $(BUILD)/tests/replay-dwarf build/fuzz/fuzz-dwarf
$(DWARF_USERS): EXTRA_SRC = tools/symbolizer-dwarf.c
$(DWARF_USERS): EXTRA_LIBS = -ldw -lelf
$(DWARF_USERS): tools/symbolizer-dwarf.c

# ---- fuzzing: `make fuzz` ----------------------------------------------------
# The parsers of what the host hands the detector (options, symbol names,
# ELF files) and the report formatters, under clang's libFuzzer with ASan
# and UBSan; fuzz/run.sh runs each for FUZZ_SECONDS. The core is compiled
# again with clang, instrumented, and linked into each fuzzer.
FUZZ_CC ?= clang
FUZZ_CFLAGS := -std=gnu11 -O1 -g $(WARN) -fsanitize=address,undefined \
               -fno-sanitize-recover=all
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz-*.c))
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)
FUZZ_OBJ := $(CORE_SRC:src/%.c=build/fuzz/obj/%.o)
.PHONY: fuzz fuzz-bins
.SECONDARY: $(FUZZ_OBJ)   # kept: make would delete them as intermediates
build/fuzz/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS_ALL) $(UV_CFLAGS) $(FUZZ_CFLAGS) \
	    -fsanitize=fuzzer-no-link -c $< -o $@
build/fuzz/fuzz-%: fuzz/fuzz-%.c fuzz/fuzz-input.h $(SUPPORT_SRC) $(FUZZ_OBJ) \
                   $(TOOL_HDRS)
	@echo "  CC      $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS_ALL) -Itests/support -Itools $(FUZZ_CFLAGS) \
	    -fsanitize=fuzzer -o $@ $< $(SUPPORT_SRC) $(EXTRA_SRC) $(FUZZ_OBJ) \
	    $(EXTRA_LIBS) -ldl -lpthread
fuzz-bins: $(FUZZ_BIN)
fuzz:
	@sh tools/deps.sh fuzz
	$(MAKE) fuzz-bins
	@sh fuzz/run.sh

# Long runs of the channel tests and of concurrent reports
# (tests/run-stress.sh says which), in the builds `make check` makes;
# check-tsan builds the TSan one (and runs its tests once).
stress: deps
	$(MAKE) check-tsan
	$(MAKE) all $(BUILD)/tests/test-chan-stress $(BUILD)/tests/prog-many-loops
	$(MAKE) BUILD=build/asan SAN=address,undefined \
	    build/asan/tests/test-chan-stress
	@sh tests/run-stress.sh $(BUILD)

# demo and bench build in a make of their own, after deps: this one's
# pkg-config lines ran before deps installed what they ask about (on a
# fresh machine, bench-futexwait linked without libuv).
demo: deps
	@$(MAKE) --no-print-directory all $(EXAMPLE_BIN)
	@sh examples/run-demo.sh $(BUILD)

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN) \
	    $(BUILD)/bench/bench-locks-tsan $(THREAD_ONLY_LIB)
	@sh tools/deps.sh bench
	@sh bench/all.sh $(BUILD)

# A thread and nothing else, for bench/server-modes.py: glibc's, and one
# glibc never learns of.
THREAD_ONLY_LIB := $(BUILD)/bench/libthread-glibc.so \
                   $(BUILD)/bench/libthread-raw.so
$(BUILD)/bench/libthread-glibc.so: bench/thread-only.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS_ALL) -fPIC -shared -o $@ $< -lpthread
$(BUILD)/bench/libthread-raw.so: bench/thread-only.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS_ALL) -DTHREAD_RAW -fPIC -shared -o $@ $< -lpthread

# The lock workload built with ThreadSanitizer, to compare against.
$(BUILD)/bench/bench-locks-tsan: bench/bench-locks.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) -O2 -g -fsanitize=thread -o $@ $< -lpthread

# bench-chan and bench-chanrate measure lg_chan, so they link libloopguard
# (bench-% does not).
$(BUILD)/bench/bench-chan $(BUILD)/bench/bench-chanrate: \
$(BUILD)/bench/bench-%: bench/bench-%.c $(CORE_LIB) $(HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(UV_CFLAGS) $(CFLAGS_ALL) -o $@ $< \
	    -L$(BUILD) -lloopguard -Wl,-rpath,'$$ORIGIN/..' $(UV_LIBS) -lpthread

# bench-futexwait links libuv statically: the catalog must find a runner.
$(BUILD)/bench/bench-futexwait: bench/bench-futexwait.c $(HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(UV_CFLAGS) $(CFLAGS_ALL) -o $@ $< \
	    $(UV_STATIC_LIBS) -ldl

$(BUILD)/bench/%: bench/%.c $(HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(UV_CFLAGS) $(CFLAGS_ALL) -o $@ $< \
	    $(UV_LIBS) -lpthread -lrt

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
	    $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(CORE_LIB) $(DESTDIR)$(PREFIX)/lib/libloopguard.so.0
	ln -sf libloopguard.so.0 $(DESTDIR)$(PREFIX)/lib/libloopguard.so
	install -m 755 $(PRELOAD_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(SYMBOLIZER) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LAUNCHER) $(DESTDIR)$(PREFIX)/bin/loopguard
	install -m 644 include/loopguard.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 docs/loopguard.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|0.1.0|' loopguard.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/loopguard.pc

clean:
	rm -rf build
