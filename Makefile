# zchat - multi-user chat on ZeroMQ. `make help` lists the targets.

PKGS     = libczmq libzmq libcjson sqlite3 libsodium
STD      = -std=c11 -D_DEFAULT_SOURCE
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wundef -Wvla
WERROR   = -Werror
CFLAGS  ?= -O2 -g
SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=

# pkg-config runs once, when the first compile or link needs it: after `make deps` has installed
# the packages, and never for clean, help or lint. If a package is missing, pkg-config says which
# on stderr and make stops there.
pkg_config  = $(shell pkg-config $1 $(PKGS))$(if $(filter 0,$(.SHELLSTATUS)),,$(error \
    pkg-config cannot find the packages above (of: $(PKGS)); run `make deps` or \
    scripts/install-deps.sh, or set PKG_CONFIG_PATH))
PKG_CFLAGS  = $(eval PKG_CFLAGS := $(call pkg_config,--cflags))$(PKG_CFLAGS)
PKG_LIBS    = $(eval PKG_LIBS := $(call pkg_config,--libs))$(PKG_LIBS)
# CPPFLAGS and LDFLAGS are the user's or the packager's: the project's own flags come first.
ALL_CFLAGS  = $(STD) $(WARN) $(WERROR) $(CFLAGS) $(EXTRA) -MMD -MP -Ishared -Ibroker -Iclient \
              $(CPPFLAGS) $(PKG_CFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(LDEXTRA)
LDLIBS      = $(PKG_LIBS)
READLINE    = -lreadline

SHARED_SRC = $(wildcard shared/*.c)
BROKER_SRC = $(filter-out broker/main.c,$(wildcard broker/*.c))
CLIENT_SRC = $(filter-out client/zchat_main.c client/logger_main.c,$(wildcard client/*.c))
E2E_SRC    = $(wildcard tests/e2e/*.c)
BENCH_SRC  = $(wildcard bench/*.c)

SHARED_OBJ = $(SHARED_SRC:%.c=$(BUILD)/%.o)
BROKER_OBJ = $(BROKER_SRC:%.c=$(BUILD)/%.o)
CLIENT_OBJ = $(CLIENT_SRC:%.c=$(BUILD)/%.o)
E2E_OBJ    = $(E2E_SRC:%.c=$(BUILD)/%.o)
BENCH_OBJ  = $(BENCH_SRC:%.c=$(BUILD)/%.o)

LIBZCHAT   = $(BUILD)/libzchat.a
LIBBROKER  = $(BUILD)/libbroker.a
LIBCLIENT  = $(BUILD)/libclient.a
PROGRAMS   = $(BUILD)/zchat-broker $(BUILD)/zchat \
             $(BUILD)/zchat-logger
FUZZ_TARGETS = request text diff
FUZZ_CORPUS  = tests/fuzz/corpus
FUZZ_TIME   ?= 60
FUZZ_FLAGS  ?= -max_len=70000 -timeout=10 -dict=tests/fuzz/zchat.dict
FUZZ_OBJ     = $(BUILD)/tests/fuzz/fuzz.o
REPLAYS      = $(FUZZ_TARGETS:%=$(BUILD)/replay-%)
TESTPROGS  = $(BUILD)/selftest $(BUILD)/e2e $(BUILD)/zchat-bench $(REPLAYS)

.PHONY: all run test check memcheck bench soak fuzz fuzz-run install uninstall clean deps format lint help

all: $(PROGRAMS)

help:
	@echo "make            build the programs into $(BUILD)/"
	@echo "make run        install missing packages, build, start the broker on its defaults"
	@echo "make test       install missing packages, build with sanitizers, run every test"
	@echo "make memcheck   run the selftest under valgrind"
	@echo "make fuzz       fuzz JSON in and out and the text rules, FUZZ_TIME=$(FUZZ_TIME) s each"
	@echo "make bench      build and run the benchmark (broker against a ROUTER->PUB relay)"
	@echo "make soak       build and run the logger soak test, 3 min (SOAK_ARGS=\"--minutes 10\")"
	@echo "make install    install programs and man pages (PREFIX=$(PREFIX) DESTDIR=)"
	@echo "make lint       citations of the spec, clang-format check and cppcheck"
	@echo "make clean      remove $(BUILD)/ (the test and fuzz builds are inside it)"

deps:
	@./scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	./$(BUILD)/zchat-broker

# The test build lives in $(BUILD)/test with its own flags, so objects never mix.
test: deps
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/test CFLAGS="-O1 -g" EXTRA="$(SANITIZE)" \
	    LDEXTRA="$(SANITIZE)" check

check: $(PROGRAMS) $(TESTPROGS)
	@for t in $(FUZZ_TARGETS); do ./$(BUILD)/replay-$$t $(FUZZ_CORPUS) || exit 1; done
	@./tests/run.sh $(BUILD)

# libFuzzer needs clang: its own build in $(BUILD)/fuzz. New inputs go to $(BUILD)/fuzz/corpus-*,
# crashes to $(BUILD)/fuzz/crashes/; the committed corpus only seeds them.
fuzz:
	@./scripts/install-deps.sh fuzz
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/fuzz CC=clang CFLAGS="-O1 -g" \
	    EXTRA="-fsanitize=fuzzer-no-link $(SANITIZE)" LDEXTRA="-fsanitize=fuzzer $(SANITIZE)" fuzz-run

fuzz-run: $(FUZZ_TARGETS:%=$(BUILD)/fuzz-%)
	@mkdir -p $(BUILD)/crashes
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(BUILD)/corpus-$$t && echo "fuzz-$$t: $(FUZZ_TIME) s" && \
	    ./$(BUILD)/fuzz-$$t -max_total_time=$(FUZZ_TIME) $(FUZZ_FLAGS) \
	        -artifact_prefix=$(BUILD)/crashes/$$t- $(BUILD)/corpus-$$t $(FUZZ_CORPUS) || exit 1; \
	done

memcheck: $(BUILD)/selftest
	valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
	    ./$(BUILD)/selftest

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBZCHAT): $(SHARED_OBJ)
	$(AR) rcs $@ $^

$(LIBBROKER): $(BROKER_OBJ)
	$(AR) rcs $@ $^

$(LIBCLIENT): $(CLIENT_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/zchat-broker: $(BUILD)/broker/main.o $(LIBBROKER) $(LIBZCHAT)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/zchat: $(BUILD)/client/zchat_main.o $(LIBCLIENT) $(LIBZCHAT)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) $(READLINE)

$(BUILD)/zchat-logger: $(BUILD)/client/logger_main.o $(LIBCLIENT) $(LIBZCHAT)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/selftest: $(BUILD)/tests/selftest.o $(LIBBROKER) $(LIBCLIENT) $(LIBZCHAT)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) $(READLINE)

$(BUILD)/e2e: $(E2E_OBJ) $(LIBZCHAT)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

# The fuzz objects are made through the patterns below only: keep them, or make deletes them.
.SECONDARY: $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/fuzz/*.c))

$(BUILD)/replay-%: $(BUILD)/tests/fuzz/replay.o $(BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_OBJ) $(LIBZCHAT)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/fuzz-%: $(BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_OBJ) $(LIBZCHAT)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

# The relay's --durable mode stores frames with the broker's own store module; the servers and
# the workers are child processes started with the e2e harness's hproc.
HPROC_OBJ = $(BUILD)/tests/e2e/hproc.o $(BUILD)/tests/e2e/hfile.o
$(BENCH_OBJ): ALL_CFLAGS += -Itests/e2e
$(BUILD)/zchat-bench: $(BENCH_OBJ) $(BUILD)/broker/store.o $(BUILD)/broker/store_sqlite.o $(HPROC_OBJ) $(LIBZCHAT)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

# The benchmark (bench/README.md): always the plain build, never the sanitizer one.
bench: deps
	@$(MAKE) --no-print-directory $(BUILD)/zchat-broker $(BUILD)/zchat-bench
	./$(BUILD)/zchat-bench $(BENCH_ARGS)

# The logger soak test (bench/README.md): faults for minutes, so never part of make test.
soak: deps
	@./scripts/install-deps.sh soak
	@$(MAKE) --no-print-directory all
	./bench/soak-logger --build $(BUILD) $(SOAK_ARGS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/*.7 $(DESTDIR)$(PREFIX)/share/man/man7/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/bin/,$(notdir $(PROGRAMS)))
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/man/man1/,$(notdir $(wildcard man/*.1)))
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/man/man7/,$(notdir $(wildcard man/*.7)))

# $(BUILD)/test and $(BUILD)/fuzz are inside $(BUILD): one rm takes every build.
clean:
	rm -rf $(BUILD)

format:
	clang-format -i shared/*.[ch] broker/*.[ch] client/*.[ch] tests/*.c tests/e2e/*.[ch] bench/*.[ch] \
	    tests/fuzz/*.[ch]

# check-citations: every section of man/zchat-protocol.7 that a file cites exists
lint:
	@./scripts/install-deps.sh lint
	./scripts/check-citations
	clang-format --dry-run -Werror shared/*.[ch] broker/*.[ch] client/*.[ch] tests/*.c tests/e2e/*.[ch] \
	    bench/*.[ch] tests/fuzz/*.[ch]
	@# asserts stay on in zchat (NDEBUG is an error), so a call inside one is fine
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	    --suppress=assertWithSideEffect \
	    --suppress=missingIncludeSystem -Ishared -Ibroker -Iclient -Itests/e2e shared broker client tests bench

# The header dependencies of this build's objects (-MMD), once they have been compiled
-include $(wildcard $(patsubst %.o,%.d,$(SHARED_OBJ) $(BROKER_OBJ) $(CLIENT_OBJ) $(E2E_OBJ) \
    $(BENCH_OBJ) $(FUZZ_OBJ) $(BUILD)/broker/main.o $(BUILD)/client/zchat_main.o \
    $(BUILD)/client/logger_main.o $(BUILD)/tests/selftest.o $(BUILD)/tests/fuzz/replay.o \
    $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz/fuzz_%.o)))
