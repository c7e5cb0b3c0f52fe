# candlepipe: one plain Makefile. `make` builds every binary, `make test` runs
# every deterministic test (C unit tests and bats), `make bench` the benchmarks.
# SANITIZE=1 builds with ASan+UBSan; COVERAGE=1 with gcov instrumentation;
# CRASHPOINTS=1 compiles the crash-point test hooks in.

CC      ?= cc
PKGS    := libzmq msgpack libcurl sqlite3 libmicrohttpd libpq
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wformat=2 -Wno-format-nonliteral -Wundef -Wvla
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) -Icommon \
           $(shell pkg-config --cflags $(PKGS))
# every compile writes its header dependencies next to its output (foo.o ->
# foo.d, tests/unit/x_test -> tests/unit/x_test.d); -MP adds an empty rule per
# header so that deleting one does not break the build
CFLAGS  += -MMD -MP
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lm -lpthread
ifeq ($(WERROR),1)
CFLAGS  += -Werror
endif
ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(COVERAGE),1)
CFLAGS  += --coverage -O0 -DCP_GCOV_DIR='"$(CURDIR)"'
LDFLAGS += --coverage
endif
ifeq ($(CRASHPOINTS),1)
CFLAGS  += -DCP_CRASHPOINTS
endif

BINS :=
TESTS :=

COMMON_SRC := common/tf.c common/timeutil.c common/log.c common/proto.c common/buf.c \
              common/net.c common/ledger.c common/crashpoint.c common/proc.c \
              common/opts.c common/utf8.c common/fsutil.c common/hub.c \
              common/keys.c common/fsm.c common/rundir.c common/pgdb.c common/ctlproto.c
COMMON_OBJ := $(COMMON_SRC:.c=.o)
LIBCOMMON  := common/libcommon.a

PLANNER_SRC := planner/main.c planner/plan.c planner/overlap.c planner/budget.c \
               planner/flags.c
PLANNER_SRC += planner/follow.c planner/report.c planner/progress.c
PLANNER_SRC += planner/job.c planner/control.c planner/ctlcli.c planner/claims.c \
               planner/subs.c
FETCHER_SRC := fetcher/main.c fetcher/http.c fetcher/json_tok.c fetcher/upbit_json.c \
               fetcher/sandbox.c fetcher/lease.c
# the Upbit reader, also linked by its unit tests and bench/json_bench
FETCHER_JSON_OBJ := fetcher/json_tok.o fetcher/upbit_json.o
WRITER_SRC  := writer/main.c writer/store.c writer/store_pg.c writer/pgcopy.c writer/copy.c writer/check.c

BINS += planner/cp-planner fetcher/cp-fetcher writer/cp-writer bench/msgsize bench/json_bench

all: bins

include sim/sim.mk
-include monitor/monitor.mk
-include query/query.mk
-include serve/serve.mk
include config/config.mk
-include tests/unit/unit.mk

bins: $(BINS)

$(LIBCOMMON): $(COMMON_OBJ)
	$(AR) rcs $@ $^

planner/cp-planner: $(PLANNER_SRC:.c=.o) $(LIBCOMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
fetcher/cp-fetcher: $(FETCHER_SRC:.c=.o) $(LIBCOMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
writer/cp-writer: $(WRITER_SRC:.c=.o) $(LIBCOMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# the wire size of the messages (make bench, make bench-check)
bench/msgsize: bench/msgsize.o $(LIBCOMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# the Upbit reader's parse speed (make bench)
bench/json_bench: bench/json_bench.o $(FETCHER_JSON_OBJ) $(LIBCOMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
bench/json_bench.o: CFLAGS += -Ifetcher

%.o: %.c
	$(CC) $(CFLAGS) -c -o $@ $<

# the header dependencies written by -MMD (tests/build.bats checks that
# touching any header rebuilds the objects that include it)
-include $(wildcard */*.d */*/*.d)

test: bins $(TESTS)
	@CP_MAKEFLAGS='$(if $(filter 1,$(SANITIZE)),SANITIZE=1) $(if $(filter 1,$(WERROR)),WERROR=1)' tests/run-all.sh

bench: bins
	@bench/run-all.sh

# quality gates (issue #8): lint = clang-format check, cppcheck, clang-tidy,
# complexity budget; coverage = instrumented build + make test + gcovr, in a
# copy of the tree (COVERAGE_DIR); bench-check = ratio/count benchmarks
# compared with bench/RESULTS.md
lint:
	@tests/lint.sh

coverage:
	@tests/coverage.sh

bench-check: bins
	@bench/check.sh

clean:
	rm -f $(BINS) $(TESTS) $(LIBCOMMON) */*.o */*/*.o */*.d */*/*.d */*.gcda */*.gcno */*/*.gcda */*/*.gcno

.PHONY: all bins test bench clean lint coverage bench-check

# planner tests link the planner's own modules
TESTS += tests/unit/overlap_test
tests/unit/overlap_test: tests/unit/overlap_test.o planner/overlap.o planner/plan.o $(LIBCOMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
tests/unit/overlap_test.o: CFLAGS += -Iplanner
TESTS += tests/unit/budget_test
tests/unit/budget_test: tests/unit/budget_test.o planner/budget.o $(LIBCOMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
tests/unit/budget_test.o: CFLAGS += -Iplanner

# ---- fuzzing and the long chaos run (separate from `make test`) ----------
# make fuzz [FUZZ_SECONDS=600]: builds the libFuzzer targets with clang and
# ASan/UBSan and runs each for FUZZ_SECONDS on a copy of its seed corpus
# (tests/fuzz/work/, not kept); crashing inputs land in tests/fuzz/crashers/
# (keep them: they are regression inputs). make chaos [CHAOS_SECONDS=300]:
# tests/chaos.sh, random kills and freezes of every process during
# collections against the simulator, each checked against its truth.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 600
CHAOS_SECONDS ?= 300
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -Icommon -Ifetcher \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZERS      := tests/fuzz/fuzz_proto tests/fuzz/fuzz_upbit_json

tests/fuzz/fuzz_proto: tests/fuzz/fuzz_proto.c common/proto.c common/buf.c $(wildcard common/*.h)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_proto.c common/proto.c common/buf.c \
		-lmsgpackc
FUZZ_JSON_SRC := fetcher/json_tok.c fetcher/upbit_json.c common/tf.c common/timeutil.c \
                 common/utf8.c
tests/fuzz/fuzz_upbit_json: tests/fuzz/fuzz_upbit_json.c $(FUZZ_JSON_SRC) fetcher/json_tok.h \
                            fetcher/upbit_json.h
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_upbit_json.c $(FUZZ_JSON_SRC) -lm

fuzz: $(FUZZERS)
	@mkdir -p tests/fuzz/crashers
	@rc=0; for f in proto:corpus:300000 upbit_json:corpus_json:80000; do \
		name=$${f%%:*}; rest=$${f#*:}; seeds=tests/fuzz/$${rest%%:*}; \
		work=tests/fuzz/work/$$name; rm -rf $$work; mkdir -p $$work; \
		echo "fuzz_$$name: $(FUZZ_SECONDS) s from $$seeds"; \
		tests/fuzz/fuzz_$$name -max_total_time=$(FUZZ_SECONDS) \
			-max_len=$${rest#*:} -print_final_stats=1 \
			-artifact_prefix=tests/fuzz/crashers/fuzz_$$name- \
			$$work $$seeds 2>tests/fuzz/work/$$name.log || rc=1; \
		grep -E "^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)|ERROR|SUMMARY" \
			tests/fuzz/work/$$name.log | sed "s/^/  /"; \
	done; \
	ls tests/fuzz/crashers 2>/dev/null | sed "s/^/  crasher: /"; exit $$rc

chaos: bins
	CHAOS_SECONDS=$(CHAOS_SECONDS) tests/chaos.sh
	CHAOS_SECONDS=$(CHAOS_SECONDS) tests/chaos.sh --service

.PHONY: fuzz chaos

# ---- install (issue 15) ------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=]: candlepipe (run.sh, marked as
# installed so it finds its programs in $PREFIX/libexec/candlepipe), the
# programs and their supervision table, upbit-sim also in bin, the man pages, the README and
# the example config (share/candlepipe/candlepipe.conf.example: /etc is the
# package's or yours, see README "Config file"). make
# uninstall with the same PREFIX and DESTDIR removes exactly those files and
# the directories they leave empty. make man-check: --help, the README's
# option tables and the man pages name the same options.
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     := $(DESTDIR)$(PREFIX)/bin
LIBEXECDIR := $(DESTDIR)$(PREFIX)/libexec/candlepipe
MAN1DIR    := $(DESTDIR)$(PREFIX)/share/man/man1
MAN5DIR    := $(DESTDIR)$(PREFIX)/share/man/man5
MAN7DIR    := $(DESTDIR)$(PREFIX)/share/man/man7
DOCDIR     := $(DESTDIR)$(PREFIX)/share/doc/candlepipe
DATADIR    := $(DESTDIR)$(PREFIX)/share/candlepipe
UNITDIR    := $(DESTDIR)$(PREFIX)/lib/systemd/system
# the web page (issue 16); its chart library, when `npm ci` in serve/www put
# it there, goes to www/vendor with its licence (else the page says it is
# missing)
WWW_FILES  := index.html app.js style.css
WWW_LWC    := serve/www/node_modules/lightweight-charts
WWW_VENDOR := $(DATADIR)/www/vendor/lightweight-charts.standalone.production.js \
              $(DATADIR)/www/vendor/LICENSE.lightweight-charts
INST_PROGS := planner/cp-planner fetcher/cp-fetcher writer/cp-writer \
              monitor/cp-monitor query/cp-query serve/cp-serve sim/upbit-sim config/cp-config
MAN1       := man/candlepipe.1 man/upbit-sim.1
MAN5       := man/candlepipe.conf.5
MAN7       := man/candlepipe.7
INST_FILES := $(BINDIR)/candlepipe $(BINDIR)/upbit-sim \
              $(addprefix $(LIBEXECDIR)/,$(notdir $(INST_PROGS))) \
              $(DATADIR)/supervision.conf $(DATADIR)/candlepipe.conf.example \
              $(addprefix $(MAN1DIR)/,$(notdir $(MAN1))) \
              $(addprefix $(MAN5DIR)/,$(notdir $(MAN5))) \
              $(addprefix $(MAN7DIR)/,$(notdir $(MAN7))) $(DOCDIR)/README.md \
              $(DATADIR)/grafana/candlepipe.json $(UNITDIR)/candlepipe.service \
              $(addprefix $(DATADIR)/www/,$(WWW_FILES))

install: $(INST_PROGS)
	@grep -qx 'CP_INSTALLED=0' run.sh || { echo "run.sh has no CP_INSTALLED=0 line" >&2; exit 1; }
	t=$$(mktemp) && sed 's/^CP_INSTALLED=0$$/CP_INSTALLED=1/' run.sh >$$t && \
		install -D -m 755 $$t $(BINDIR)/candlepipe; rc=$$?; rm -f $$t; exit $$rc
	install -D -m 755 sim/upbit-sim $(BINDIR)/upbit-sim
	for p in $(INST_PROGS); do install -D -m 755 $$p $(LIBEXECDIR)/$${p##*/} || exit 1; done
	install -D -m 644 deploy/supervision.conf $(DATADIR)/supervision.conf
	install -D -m 644 deploy/candlepipe.conf.example $(DATADIR)/candlepipe.conf.example
	for m in $(MAN1); do install -D -m 644 $$m $(MAN1DIR)/$${m##*/} || exit 1; done
	for m in $(MAN5); do install -D -m 644 $$m $(MAN5DIR)/$${m##*/} || exit 1; done
	for m in $(MAN7); do install -D -m 644 $$m $(MAN7DIR)/$${m##*/} || exit 1; done
	install -D -m 644 README.md $(DOCDIR)/README.md
	install -D -m 644 deploy/grafana/candlepipe.json $(DATADIR)/grafana/candlepipe.json
	for f in $(WWW_FILES); do install -D -m 644 serve/www/$$f $(DATADIR)/www/$$f || exit 1; done
	if [ -f $(WWW_LWC)/dist/lightweight-charts.standalone.production.js ]; then \
		install -D -m 644 $(WWW_LWC)/dist/lightweight-charts.standalone.production.js \
			$(DATADIR)/www/vendor/lightweight-charts.standalone.production.js && \
		install -D -m 644 $(WWW_LWC)/LICENSE $(DATADIR)/www/vendor/LICENSE.lightweight-charts; \
	else echo "note: serve/www/node_modules is missing (npm ci in serve/www): no chart"; fi
	t=$$(mktemp) && sed 's|@BINDIR@|$(PREFIX)/bin|g' deploy/candlepipe.service.in >$$t && \
		install -D -m 644 $$t $(UNITDIR)/candlepipe.service; rc=$$?; rm -f $$t; exit $$rc

# of the directories, only candlepipe's own (libexec/candlepipe,
# share/doc/candlepipe) go, and only when empty: bin and share/man are
# shared with other programs
uninstall:
	rm -f $(INST_FILES) $(WWW_VENDOR)
	for d in $(LIBEXECDIR) $(DOCDIR) $(DATADIR)/grafana $(DATADIR)/www/vendor $(DATADIR)/www \
		$(DATADIR); do \
		[ ! -d $$d ] || rmdir --ignore-fail-on-non-empty $$d; done

man-check: bins
	@tests/man-check.sh

.PHONY: install uninstall man-check
