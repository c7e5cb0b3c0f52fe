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
sv_buf_json_str(struct buf *b, const char *s)
{
	sv_buf_json_strn(b, s, strlen(s));
}

void
sv_buf_json_strn(struct buf *b, const char *s, size_t n)
{
	sv_buf_put(b, "\"", 1);
	for (const char *p = s; p < s + n; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			buf_printf(b, "\\u%04x", c);
		else
			sv_buf_put(b, p, 1);
	}
	sv_buf_put(b, "\"", 1);
}
