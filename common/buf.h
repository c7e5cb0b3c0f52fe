/*
 * buf.h: the one growable byte buffer of the tree (message encoders, HTTP
 * bodies, the monitor's text). The bytes are always followed by a NUL, so a
 * buffer of text is a C string; a failed append is sticky.
 */
#ifndef CP_BUF_H
#define CP_BUF_H

#include <stddef.h>
#include <stdint.h>

/* No limit but memory. */
#define BUF_NO_MAX (SIZE_MAX / 4)

/* Zero-initialised it is empty; data is NULL until the first append. */
struct buf {
	char *data; /* len bytes, then a NUL (when not NULL) */
	size_t len, cap;
	int err; /* 0, or why an append failed (ENOMEM, EMSGSIZE): later ones are no-ops */
};

/* Appends n bytes of p. 0, or -1 with b->err set and b unchanged: out of
 * memory (ENOMEM), or len would pass max (EMSGSIZE). The capacity grows by
 * doubling (from 256) and never beyond max + 1. */
int buf_add(struct buf *b, const void *p, size_t n, size_t max);
/* Room for n more bytes and the NUL after them, for a caller that writes
 * into data + len itself (then adds to len and keeps the NUL). 0 or -1 as
 * buf_add. */
int buf_reserve(struct buf *b, size_t n, size_t max);
/* Text: s, or printf's output, appended with no limit but memory; a
 * failure is sticky in b->err, so builders need not check each append. */
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empties b and clears err; keeps the memory. */
void buf_reset(struct buf *b);
/* Frees the memory; b is empty again. */
void buf_free(struct buf *b);

#endif
