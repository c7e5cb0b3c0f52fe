/*
 * jsonw.c: text on a growable buffer (common/buf.h) and the JSON writer
 * used by --json and the Prometheus exposition. Owns no memory: the buffers
 * are their callers'.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "utf8.h"

void
tb_putn(struct buf *b, const char *s, size_t n)
{
	(void)buf_add(b, s, n, BUF_NO_MAX); /* a failure is sticky in b->err */
}

static void
put_escaped(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	tb_putn(b, "\"", 1);
	while (i < n) {
		unsigned char c = p[i];
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			tb_putn(b, e, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			const char *e = c == '\n'   ? "\\n"
			                : c == '\t' ? "\\t"
			                : c == '\r' ? "\\r"
			                            : NULL;
			if (e != NULL)
				buf_puts(b, e);
			else
				buf_printf(b, "\\u%04x", c);
			i++;
		} else if ((k = utf8_seq_len(p + i, n - i)) == 0) {
			buf_puts(b, "\\ufffd");
			i++;
		} else {
			tb_putn(b, s + i, k);
			i += k;
		}
	}
	tb_putn(b, "\"", 1);
}

static void
key(struct jw *w, const char *k)
{
	if (w->comma)
		tb_putn(&w->b, ",", 1);
	w->comma = 1;
	if (k != NULL) {
		put_escaped(&w->b, k, strlen(k));
		tb_putn(&w->b, ":", 1);
	}
}

void
jw_obj(struct jw *w, const char *k)
{
	key(w, k);
	tb_putn(&w->b, "{", 1);
	w->comma = 0;
}

void
jw_obj_end(struct jw *w)
{
	tb_putn(&w->b, "}", 1);
	w->comma = 1;
}

void
jw_arr(struct jw *w, const char *k)
{
	key(w, k);
	tb_putn(&w->b, "[", 1);
	w->comma = 0;
}

void
jw_arr_end(struct jw *w)
{
	tb_putn(&w->b, "]", 1);
	w->comma = 1;
}

void
jw_strn(struct jw *w, const char *k, const char *s, size_t n)
{
	key(w, k);
	put_escaped(&w->b, s, n);
}

void
jw_str(struct jw *w, const char *k, const char *s)
{
	jw_strn(w, k, s, strlen(s));
}

void
jw_int(struct jw *w, const char *k, int64_t v)
{
	key(w, k);
	buf_printf(&w->b, "%lld", (long long)v);
}

void
tb_double(struct buf *b, double v)
{
	char s[40];

	/* the fewest digits that read back as v: 39.601, not 39.600999999999999 */
	for (int digits = 15; digits <= 17; digits++) {
		snprintf(s, sizeof(s), "%.*g", digits, v);
		if (strtod(s, NULL) == v)
			break;
	}
	buf_puts(b, s);
}

void
jw_num(struct jw *w, const char *k, double v)
{
	key(w, k);
	if (!isfinite(v))
		buf_puts(&w->b, "null");
	else
		tb_double(&w->b, v);
}

void
jw_id(struct jw *w, const char *k, uint64_t v)
{
	key(w, k);
	buf_printf(&w->b, "\"%llu\"", (unsigned long long)v);
}

void
jw_bool(struct jw *w, const char *k, int v)
{
	key(w, k);
	buf_puts(&w->b, v ? "true" : "false");
}
