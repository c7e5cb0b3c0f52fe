# monitor/monitor.mk: cp-monitor, included by the top-level Makefile.
MONITOR_SRC := monitor/main.c monitor/state.c monitor/view.c monitor/prom.c \
               monitor/pattern.c monitor/jsonw.c monitor/ingest.c
BINS += monitor/cp-monitor

monitor/cp-monitor: $(MONITOR_SRC:.c=.o) $(LIBCOMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# tests/unit/pattern_test.c (picked up by tests/unit/unit.mk's wildcard)
# links the classifier under test.
tests/unit/pattern_test: monitor/pattern.o
tests/unit/pattern_test: UNIT_CFLAGS := -Imonitor

# Unit tests of the monitor's modules: everything but main.o.
MONITOR_LIB_OBJ := $(filter-out monitor/main.o,$(MONITOR_SRC:.c=.o))
tests/unit/jsonw_test: monitor/jsonw.o
tests/unit/jsonw_test: UNIT_CFLAGS := -Imonitor
tests/unit/state_test: $(MONITOR_LIB_OBJ)
tests/unit/state_test: UNIT_CFLAGS := -Imonitor
