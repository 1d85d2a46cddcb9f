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

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS  = $(STD) $(WARN) $(WERROR) $(CFLAGS) $(EXTRA) -MMD -MP -Ishared -Ibroker -Iclient $(PKG_CFLAGS)
LDLIBS      = $(PKG_LIBS)
READLINE    = -lreadline

SHARED_SRC = $(wildcard shared/*.c)
BROKER_SRC = $(filter-out broker/main.c,$(wildcard broker/*.c))
CLIENT_SRC = $(filter-out client/zchat.c client/zchat_logger.c,$(wildcard client/*.c))
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
PROGRAMS   = $(BUILD)/zchat-broker $(if $(wildcard client/zchat.c),$(BUILD)/zchat) \
             $(if $(wildcard client/zchat_logger.c),$(BUILD)/zchat-logger)
TESTPROGS  = $(BUILD)/selftest $(BUILD)/e2e $(BUILD)/zchat-bench

.PHONY: all run test check memcheck bench install uninstall clean deps format lint help

all: $(PROGRAMS)

help:
	@echo "make            build the programs into $(BUILD)/"
	@echo "make run        install missing packages, build, start the broker on its defaults"
	@echo "make test       install missing packages, build with sanitizers, run every test"
	@echo "make memcheck   run the selftest under valgrind"
	@echo "make bench      build and run the benchmark (broker against a ROUTER->PUB relay)"
	@echo "make install    install programs and man pages (PREFIX=$(PREFIX) DESTDIR=)"
	@echo "make lint       clang-format check and cppcheck"
	@echo "make clean      remove build/"

deps:
	@./scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	./$(BUILD)/zchat-broker

# The test build lives in build/test with its own flags, so objects never mix.
test: deps
	@$(MAKE) --no-print-directory BUILD=build/test CFLAGS="-O1 -g" EXTRA="$(SANITIZE)" \
	    LDEXTRA="$(SANITIZE)" check

check: $(PROGRAMS) $(TESTPROGS)
	@./tests/run.sh $(BUILD)

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
	$(CC) $(LDEXTRA) -o $@ $^ $(LDLIBS)

$(BUILD)/zchat: $(BUILD)/client/zchat.o $(LIBCLIENT) $(LIBZCHAT)
	$(CC) $(LDEXTRA) -o $@ $^ $(LDLIBS) $(READLINE)

$(BUILD)/zchat-logger: $(BUILD)/client/zchat_logger.o $(LIBCLIENT) $(LIBZCHAT)
	$(CC) $(LDEXTRA) -o $@ $^ $(LDLIBS)

$(BUILD)/selftest: $(BUILD)/tests/selftest.o $(LIBBROKER) $(LIBCLIENT) $(LIBZCHAT)
	$(CC) $(LDEXTRA) -o $@ $^ $(LDLIBS) $(READLINE)

$(BUILD)/e2e: $(E2E_OBJ) $(LIBZCHAT)
	$(CC) $(LDEXTRA) -o $@ $^ $(LDLIBS)

$(BUILD)/zchat-bench: $(BENCH_OBJ)
	$(CC) $(LDEXTRA) -o $@ $^ $(LDLIBS)

# The benchmark (bench/README.md): always the plain build, never the sanitizer one.
bench: deps
	@$(MAKE) --no-print-directory $(BUILD)/zchat-broker $(BUILD)/zchat-bench
	./$(BUILD)/zchat-bench $(BENCH_ARGS)

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

clean:
	rm -rf build

format:
	clang-format -i shared/*.[ch] broker/*.[ch] client/*.[ch] tests/*.c tests/e2e/*.[ch] bench/*.[ch]

lint:
	clang-format --dry-run -Werror shared/*.[ch] broker/*.[ch] client/*.[ch] tests/*.c tests/e2e/*.[ch] \
	    bench/*.[ch]
	@# asserts stay on in zchat (NDEBUG is an error), so a call inside one is fine
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	    --suppress=assertWithSideEffect \
	    --suppress=missingIncludeSystem -Ishared -Ibroker -Iclient shared broker client tests bench

-include $(shell find build -name '*.d' 2>/dev/null)
