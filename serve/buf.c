/*
 * buf.c: the growable byte buffer every answer of cp-serve is built in.
 * Out of memory marks the buffer failed (later writes do nothing), so the
 * builders never check each write: the sender answers 500 instead.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

#define BUF_FIRST_CAP 4096

static int
grow(struct sv_buf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : BUF_FIRST_CAP;
	char *p;

	if (b->failed)
		return -1;
	if (b->len + need + 1 <= b->cap)
		return 0;
	while (cap < b->len + need + 1)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->failed = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void
sv_buf_put(struct sv_buf *b, const char *s, size_t n)
{
	if (grow(b, n) == -1)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
sv_buf_puts(struct sv_buf *b, const char *s)
{
	sv_buf_put(b, s, strlen(s));
}

void
sv_buf_printf(struct sv_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || grow(b, (size_t)n) == -1)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
sv_buf_json_str(struct sv_buf *b, const char *s)
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

void
sv_buf_free(struct sv_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->failed = 0;
}
