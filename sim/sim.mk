# sim/sim.mk - Makefile fragment for the offline Upbit simulator and its
# load generator.  Included by the top-level Makefile (which defines CC,
# CFLAGS, LDFLAGS and BINS); paths are relative to the repository root.
# Stand-alone: make -f sim/sim.mk CC=gcc CFLAGS='-O2 -g ...'

SIM_SRCS := sim/main.c sim/server.c sim/gen.c sim/simtime.c sim/files.c sim/extra.c
SIM_OBJS := $(SIM_SRCS:.c=.o)
SIM_MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd)
SIM_MHD_LIBS := $(shell pkg-config --libs libmicrohttpd)
SIMLOAD_CURL_CFLAGS := $(shell pkg-config --cflags libcurl)
SIMLOAD_CURL_LIBS := $(shell pkg-config --libs libcurl)

BINS += sim/upbit-sim bench/simload

sim/upbit-sim: $(SIM_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(SIM_OBJS) $(SIM_MHD_LIBS) -lz -lpthread -lm

sim/%.o: sim/%.c sim/sim.h
	$(CC) $(CFLAGS) $(SIM_MHD_CFLAGS) -c -o $@ $<

bench/simload: bench/simload.c
	$(CC) $(CFLAGS) $(SIMLOAD_CURL_CFLAGS) $(LDFLAGS) -o $@ bench/simload.c $(SIMLOAD_CURL_LIBS)

.PHONY: sim-clean
sim-clean:
	rm -f $(SIM_OBJS) sim/upbit-sim bench/simload
