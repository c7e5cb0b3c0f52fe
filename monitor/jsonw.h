/*
 * jsonw.h: the monitor's text on common/buf.h and a small streaming JSON writer.
 * Strings are escaped for JSON (quotes, backslashes, control characters) and
 * invalid UTF-8 from the wire becomes U+FFFD, so any payload is safe to print.
 */
#ifndef CP_MON_JSONW_H
#define CP_MON_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Text appended to a struct buf (common/buf.h): its error is sticky and
 * makes later appends no-ops; the text is always NUL-terminated. */
void tb_putn(struct buf *b, const char *s, size_t n);
/* A finite v as the shortest decimal (of 15, 16 or 17 significant digits)
 * that reads back as exactly v. */
void tb_double(struct buf *b, double v);

/* JSON writer over a buf. key is NULL inside arrays and at top level. */
struct jw {
	struct buf b;
	int comma;
};
void jw_obj(struct jw *w, const char *key);
void jw_obj_end(struct jw *w);
void jw_arr(struct jw *w, const char *key);
void jw_arr_end(struct jw *w);
void jw_str(struct jw *w, const char *key, const char *s);
void jw_strn(struct jw *w, const char *key, const char *s, size_t n);
void jw_int(struct jw *w, const char *key, int64_t v);
void jw_num(struct jw *w, const char *key, double v); /* NaN/inf: null; else tb_double */
/* An id as a decimal string: ids reach past 2^53, where a JSON number
 * stops being exact in most readers (JavaScript, jq). */
void jw_id(struct jw *w, const char *key, uint64_t v);
void jw_bool(struct jw *w, const char *key, int v);

#endif
