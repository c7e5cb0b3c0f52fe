/*
 * buf.c: the text helpers every answer of cp-serve is built with, on the
 * tree's growable buffer (common/buf.h). A failed append is sticky (later
 * writes do nothing), so the builders never check each write: the sender
 * answers 500 instead.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

void
sv_buf_put(struct buf *b, const char *s, size_t n)
{
	/* the common case, room already there: a copy without buf_add's checks */
	if (b->err == 0 && b->data != NULL && n < b->cap - b->len) {
		memcpy(b->data + b->len, s, n);
		b->len += n;
		b->data[b->len] = '\0';
		return;
	}
	(void)buf_add(b, s, n, BUF_NO_MAX);
}

void
sv_buf_puts(struct buf *b, const char *s)
{
	sv_buf_put(b, s, strlen(s));
}

void
sv_buf_printf(struct buf *b, const char *fmt, ...)
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

void
sv_buf_json_str(struct buf *b, const char *s)
{
	sv_buf_put(b, "\"", 1);
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"' || c == '\\')
			sv_buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			sv_buf_printf(b, "\\u%04x", c);
		else
			sv_buf_put(b, p, 1);
	}
	sv_buf_put(b, "\"", 1);
}
