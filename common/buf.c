/*
 * buf.c: the growable byte buffer (buf.h). Owns nothing but the memory of
 * each buffer it grows: growth by doubling, capped by the caller's limit,
 * a NUL kept after the bytes, and a sticky error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define BUF_INITIAL 256

/* Room for need bytes and the NUL, at most max + 1. 0 or -1 (b->err set). */
static int
buf_grow(struct buf *b, size_t need, size_t max)
{
	size_t cap = b->cap ? b->cap : BUF_INITIAL;
	char *p;

	while (cap < need + 1)
		cap *= 2;
	if (cap > max + 1)
		cap = max + 1;
	if ((p = realloc(b->data, cap)) == NULL) {
		b->err = ENOMEM;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int
buf_reserve(struct buf *b, size_t n, size_t max)
{
	if (b->err)
		return -1;
	if (max > BUF_NO_MAX)
		max = BUF_NO_MAX;
	if (b->len > max || n > max - b->len) {
		b->err = EMSGSIZE;
		return -1;
	}
	if (b->len + n + 1 > b->cap && buf_grow(b, b->len + n, max) == -1)
		return -1;
	return 0;
}

int
buf_add(struct buf *b, const void *p, size_t n, size_t max)
{
	if (buf_reserve(b, n, max) == -1)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	b->err = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void
buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
buf_puts(struct buf *b, const char *s)
{
	(void)buf_add(b, s, strlen(s), BUF_NO_MAX);
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n, BUF_NO_MAX) == -1)
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}
