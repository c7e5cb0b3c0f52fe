/*
 * copy.h: cp-writer --copy-from SRC (copy.c): everything of one candlepipe
 * database (SQLite or PostgreSQL) into the writer's open store, through
 * the same store calls a collection uses (store.h): the candles and the
 * coverage of every (market, timeframe) as results (the same checks, the
 * same merge, the same transactions), then history starts and markets.
 * Idempotent: a second copy inserts nothing, finds every range covered,
 * and says so.
 */
#ifndef CP_WRITER_COPY_H
#define CP_WRITER_COPY_H

#include <signal.h>

#include "store.h"

/* Copies src (a path or a PostgreSQL URI, judged like a reader's, never
 * written) into dst (opened with store_open once src is judged, so a bad
 * source leaves it untouched; a refused dst returns store_open's exit
 * code, unchanged). Progress goes to
 * the log every few seconds, one summary line to stdout. Returns the exit
 * code: EXIT_OK, EXIT_PERMFAIL (src missing, not ours, newer; a row the
 * destination refuses), EXIT_TEMPFAIL (a database failed: run it again,
 * nothing is copied twice). stop, when it becomes nonzero, ends the copy
 * after the batch in hand (EXIT_TEMPFAIL). */
int copy_run(const char *dst, const char *src, volatile const sig_atomic_t *stop);

#endif
