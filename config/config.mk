# config/config.mk: cp-config (the config file, candlepipe.conf(5); issue
# 15), included by the top-level Makefile. It links libinih (Debian
# libinih-dev, pkg-config inih) and only the timeframe names of libcommon.
CONFIG_SRC := config/cp-config.c
BINS += config/cp-config

config/cp-config.o: CFLAGS += $(shell pkg-config --cflags inih)
config/cp-config: $(CONFIG_SRC:.c=.o) $(LIBCOMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs inih)
