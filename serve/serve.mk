# serve/serve.mk: cp-serve (the HTTP API over a database, issue 13),
# included by the top-level Makefile.
SERVE_SRC := serve/main.c serve/http.c serve/upbit.c serve/extra.c serve/sdb.c serve/cache.c \
             serve/metrics.c serve/buf.c serve/candle.c \
             serve/readthru.c serve/forming.c serve/gaps.c
# PostgreSQL (issue 14)
SERVE_SRC += serve/sdb_pg.c
# the web page and its API (issue 16)
SERVE_SRC += serve/web.c serve/jobs.c serve/map.c serve/events.c
BINS += serve/cp-serve

serve/cp-serve: $(SERVE_SRC:.c=.o) $(LIBCOMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(SERVE_SRC:.c=.o): serve/serve.h serve/sdb.h serve/cache.h serve/readthru.h
