# query/query.mk: cp-query (query, gaps, export, verify: the read side),
# included by the top-level Makefile.
QUERY_SRC := query/main.c query/args.c query/candles.c query/gaps.c query/export.c \
             query/out.c query/qdb.c query/qdb_pg.c query/verify.c
BINS += query/cp-query

query/cp-query: $(QUERY_SRC:.c=.o) $(LIBCOMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(QUERY_SRC:.c=.o): query/query.h
