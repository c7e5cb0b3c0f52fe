# tests/unit/unit.mk: Makefile fragment for the C unit tests (cmocka).
# Included by the top-level Makefile, which defines CC, CFLAGS, LDFLAGS,
# LDLIBS, LIBCOMMON and TESTS. Every tests/unit/<module>_test.c becomes the
# binary tests/unit/<module>_test, linked with libcommon; tests of a
# process's own modules list that process's objects below.
# `make unit` builds and runs them all.

UNIT_SRC := $(wildcard tests/unit/*_test.c)
UNIT_BIN := $(UNIT_SRC:.c=)
TESTS    += $(UNIT_BIN)

# Tests of process-private modules: extra objects and include paths.
# (overlap_test has its own rule in the top-level Makefile.)
tests/unit/store_test: writer/store.o writer/store_pg.o writer/pgcopy.o
tests/unit/store_test: UNIT_CFLAGS := -Iwriter
tests/unit/upbit_json_test: $(FETCHER_JSON_OBJ)
tests/unit/upbit_json_test: UNIT_CFLAGS := -Ifetcher
tests/unit/upbit_json_mutation_test: $(FETCHER_JSON_OBJ)
tests/unit/upbit_json_mutation_test: UNIT_CFLAGS := -Ifetcher
tests/unit/check_test: writer/check.o
tests/unit/pgcopy_test: writer/pgcopy.o
tests/unit/pgcopy_test: UNIT_CFLAGS := -Iwriter
tests/unit/check_test: UNIT_CFLAGS := -Iwriter
# the hand-driven fetcher and planner of tests/writer.bats (not a unit test)
TESTS += tests/unit/result_peer
tests/unit/result_peer: tests/unit/result_peer.c $(LIBCOMMON) $(wildcard common/*.h) tests/unit/result.h
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBCOMMON) $(LDLIBS)
# writer_test runs the writer binary
tests/unit/writer_test: | writer/cp-writer
# runs the fetcher and the simulator as children
tests/unit/fetcher_peer_test: | fetcher/cp-fetcher sim/upbit-sim

tests/unit/%_test: tests/unit/%_test.c $(LIBCOMMON) $(wildcard common/*.h) $(wildcard tests/unit/*.h)
	$(CC) $(CFLAGS) $(UNIT_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) \
		$(LIBCOMMON) $(LDLIBS) -lcmocka

unit: $(UNIT_BIN)
	@rc=0; for t in $(UNIT_BIN); do ./$$t || rc=1; done; exit $$rc

.PHONY: unit
# planner modules
tests/unit/plan_test: planner/plan.o planner/overlap.o planner/follow.o planner/claims.o
tests/unit/plan_test: UNIT_CFLAGS := -Iplanner
tests/unit/report_test: planner/report.o planner/plan.o planner/overlap.o
tests/unit/report_test: UNIT_CFLAGS := -Iplanner
tests/unit/flags_test: planner/flags.o
tests/unit/flags_test: UNIT_CFLAGS := -Iplanner
tests/unit/planner_wire_test: planner/cp-planner
# the fetcher's lease table
tests/unit/lease_test: fetcher/lease.o
tests/unit/lease_test: UNIT_CFLAGS := -Ifetcher
tests/unit/job_test: planner/job.o planner/claims.o planner/plan.o planner/overlap.o planner/follow.o
tests/unit/job_test: UNIT_CFLAGS := -Iplanner
tests/unit/control_test: planner/control.o planner/job.o planner/claims.o planner/plan.o planner/overlap.o planner/budget.o
tests/unit/control_test: UNIT_CFLAGS := -Iplanner
# cp-serve's answer cache
tests/unit/serve_cache_test: serve/cache.o
tests/unit/serve_cache_test: UNIT_CFLAGS := -Iserve
# cp-serve's candle object
tests/unit/serve_candle_test: serve/candle.o serve/buf.o
tests/unit/serve_candle_test: UNIT_CFLAGS := -Iserve
