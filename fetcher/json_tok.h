/*
 * json_tok.h: the fetcher's hand-written, fail-closed JSON tokenizer, on
 * which upbit_json.c builds its Upbit readers. A cursor over a byte range;
 * every reader bounds-checks, never allocates, and on a defect writes one
 * line to the cursor's error buffer and returns -1. Strings are fully
 * unescaped (\uXXXX with surrogate pairs, UTF-8 checked) into the caller's
 * buffer; numbers are checked against the JSON grammar and returned as
 * their exact text.
 */
#ifndef CP_JSON_TOK_H
#define CP_JSON_TOK_H

#include <stddef.h>

#define JTOK_DEPTH_MAX 16          /* nesting of arrays and objects */
#define JTOK_STRING_MAX_BYTES 4096 /* any one string, even a skipped one */
#define JTOK_KEY_MAX 32            /* longer keys come back empty (unknown) */

/* The cursor over [base, end), and where the first error goes (err may be
 * NULL: errors are not described). */
struct jtok {
	const char *p, *end, *base;
	char *err;
	size_t errlen;
};

/* One member of an object (key: its name, klen 0 if longer than
 * JTOK_KEY_MAX - 1) or one element of an array (key NULL), the cursor at its
 * value (after whitespace). 0 or -1. */
typedef int (*jtok_item_fn)(struct jtok *j, const char *key, size_t klen, void *ctx);

/* Writes the formatted reason to j->err; always -1. */
int jtok_fail(struct jtok *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The cursor's byte offset from base. */
size_t jtok_pos(const struct jtok *j);
/* A syntax error at the cursor ("want" names what was expected); -1. */
int jtok_syntax(struct jtok *j, const char *want);
void jtok_skip_ws(struct jtok *j);

/* The string at the cursor (which is at its '"'). Decoded text goes to out
 * (cap bytes with the NUL; out may be NULL to validate only); *len gets the
 * decoded length and *overflow is set if it did not fit (out then holds the
 * longest prefix of whole characters that did). kept != 0 rejects \u0000
 * (the text becomes a C string). 0 or -1. */
int jtok_string(struct jtok *j, char *out, size_t cap, size_t *len, int *overflow, int kept);
/* The number at the cursor, checked against the JSON grammar; *lex and *len
 * get its text. 0 or -1. */
int jtok_number(struct jtok *j, const char **lex, size_t *len);
/* The literal word (true, false, null) at the cursor. 0 or -1. */
int jtok_literal(struct jtok *j, const char *word);
/* The object (obj != 0) or array at the cursor: fn for each member or
 * element; the keys, separators and closing bracket are checked here. */
int jtok_container(struct jtok *j, int obj, jtok_item_fn fn, void *ctx);
/* Skips one value of any type; containers entered here are at depth + 1
 * (more than JTOK_DEPTH_MAX fails). 0 or -1. */
int jtok_skip_value(struct jtok *j, int depth);

static inline int
jtok_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline int
jtok_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The cursor is at c. */
static inline int
jtok_at(const struct jtok *j, char c)
{
	return j->p < j->end && *j->p == c;
}

/* The cursor is at the start of a number. */
static inline int
jtok_at_number(const struct jtok *j)
{
	return j->p < j->end && (*j->p == '-' || jtok_is_digit(*j->p));
}

#endif
