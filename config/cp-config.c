/*
 * cp-config: the config file, candlepipe.conf(5). It owns the file's format:
 * its sections and keys (the table keys[] below, mirroring the command-line
 * options), what each value may be, and the two ways it is read:
 *
 *   cp-config --check FILE   every error as "FILE:LINE: message", all of them;
 *                            exit 0 valid, 2 invalid, 3 unreadable
 *   cp-config --shell FILE   the same check, then one shell assignment a key,
 *                            CP_CFG_db='...', every value single-quoted (run.sh)
 *   cp-config --keys         every section.key it knows, one a line (man-check)
 *
 * The INI syntax is libinih's: this program never splits a line itself. It
 * gives inih a reader that counts lines, so that each key's handler call has
 * its line, and asks inih about every line that made no call (a section
 * header, a comment or blank, or a syntax error) by parsing that line alone
 * with a probe key after it. [follow] and [follow "NAME"] may repeat: each is
 * one subscription.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include <ini.h>

#include "exitcodes.h"
#include "tf.h"

#define CFG_PROBE "cp-config-probe"
#define CFG_MAX_FOLLOWS 1000
#define CFG_NAME_MAX 64
#define CFG_WHY_MAX 256

enum cfg_sect { SECT_COLLECTOR, SECT_SERVICE, SECT_FEATURES, SECT_FOLLOW, SECT_COUNT };

enum cfg_kind { V_PATH, V_INT, V_NUM, V_URL, V_IPS, V_LISTEN, V_ONOFF, V_MARKETS, V_QUOTE, V_TFS };

struct cfg_key {
	enum cfg_sect sect;
	const char *name;
	enum cfg_kind kind;
	double min, max; /* V_INT, V_NUM */
};

static const char *const sect_names[SECT_COUNT] = { "collector", "service", "features", "follow" };

/* Every key; [features] holds the planner's flags (planner/flags.c). */
static const struct cfg_key keys[] = {
	{ SECT_COLLECTOR, "db", V_PATH, 0, 0 },
	{ SECT_COLLECTOR, "api_url", V_URL, 0, 0 },
	{ SECT_COLLECTOR, "cacert", V_PATH, 0, 0 },
	{ SECT_COLLECTOR, "fetchers", V_INT, 1, 64 },
	{ SECT_COLLECTOR, "inflight", V_INT, 1, 64 },
	{ SECT_COLLECTOR, "source_ip", V_IPS, 0, 0 },
	{ SECT_COLLECTOR, "rate", V_NUM, 0, 10000 },
	{ SECT_SERVICE, "listen", V_LISTEN, 0, 0 },
	{ SECT_SERVICE, "token_file", V_PATH, 0, 0 },
	{ SECT_SERVICE, "run_dir", V_PATH, 0, 0 },
	{ SECT_FEATURES, "split", V_ONOFF, 0, 0 },
	{ SECT_FEATURES, "hedge", V_ONOFF, 0, 0 },
	{ SECT_FEATURES, "lookahead", V_ONOFF, 0, 0 },
	{ SECT_FOLLOW, "market", V_MARKETS, 0, 0 },
	{ SECT_FOLLOW, "quote", V_QUOTE, 0, 0 },
	{ SECT_FOLLOW, "timeframe", V_TFS, 0, 0 },
	{ SECT_FOLLOW, "backfill", V_INT, 0, 100000000 },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* One section: [collector], [service] and [features] once each (repeats
 * add to it), a [follow] per subscription. A value is kept normalised. */
struct cfg_sec {
	enum cfg_sect sect;
	char name[CFG_NAME_MAX]; /* [follow "NAME"] */
	int line;                /* of its header; 0: not in the file */
	char *val[NKEYS];
	int vline[NKEYS];
};

struct cfg_err {
	int line;
	size_t seq; /* the order found, within a line */
	char *msg;
};

struct cfg {
	const char *file;
	struct cfg_err *errs;
	size_t nerr;
	struct cfg_sec fixed[SECT_FOLLOW];
	struct cfg_sec *follows;
	size_t nfollow;
	struct cfg_sec *cur; /* the section the next key is in; NULL: none or unknown */
	int in_unknown;      /* the current section is unknown (reported at its header) */
	int errors;
	/* the reader */
	FILE *f;
	int line, handled, read_error;
	char *text;
	size_t cap;
	ssize_t len;
};

static void cfg_error(struct cfg *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An error of line: kept, to be printed in line order (cfg_print_errors). */
static void
cfg_error(struct cfg *c, int line, const char *fmt, ...)
{
	struct cfg_err *e = realloc(c->errs, (c->nerr + 1) * sizeof(*e));
	va_list ap;

	c->errors++;
	if (e == NULL)
		return;
	c->errs = e;
	e = &c->errs[c->nerr++];
	e->line = line;
	e->seq = c->nerr;
	va_start(ap, fmt);
	if (vasprintf(&e->msg, fmt, ap) == -1)
		e->msg = NULL;
	va_end(ap);
}

static int
err_order(const void *a, const void *b)
{
	const struct cfg_err *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
cfg_print_errors(struct cfg *c)
{
	if (c->nerr > 0)
		qsort(c->errs, c->nerr, sizeof(*c->errs), err_order);
	for (size_t i = 0; i < c->nerr; i++) {
		fprintf(stderr, "%s:%d: %s\n", c->file, c->errs[i].line,
		        c->errs[i].msg != NULL ? c->errs[i].msg : "(out of memory)");
		free(c->errs[i].msg);
	}
	free(c->errs);
	c->errs = NULL;
	c->nerr = 0;
}

/* ---- the values ----------------------------------------------------------- */

static int
check_int(const struct cfg_key *k, const char *v, char *why)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || n < (long long)k->min ||
	    n > (long long)k->max) {
		snprintf(why, CFG_WHY_MAX, "must be a whole number from %.0f to %.0f, not '%s'",
		         k->min, k->max, v);
		return -1;
	}
	return 0;
}

static int
check_num(const struct cfg_key *k, const char *v, char *why)
{
	char *end;
	double n;

	errno = 0;
	n = strtod(v, &end);
	if (*v == '\0' || *end != '\0' || errno != 0 || !isfinite(n) || n < k->min || n > k->max) {
		snprintf(why, CFG_WHY_MAX, "must be a number from %.0f to %.0f, not '%s'", k->min,
		         k->max, v);
		return -1;
	}
	return 0;
}

/* http:// or https://, a host, and nothing a URL cannot hold unescaped */
static int
check_url(const char *v, char *why)
{
	const char *host = NULL;

	if (strncmp(v, "http://", 7) == 0)
		host = v + 7;
	else if (strncmp(v, "https://", 8) == 0)
		host = v + 8;
	if (host == NULL || strcspn(host, "/?#") == 0 || strpbrk(v, " \t\"'<>\\`") != NULL) {
		snprintf(why, CFG_WHY_MAX,
		         "must be an http:// or https:// URL with a host, not '%s'", v);
		return -1;
	}
	return 0;
}

static int
is_ip(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* a port: 0 to 65535, digits only */
static int
is_port(const char *s)
{
	char *end;
	unsigned long p;

	if (*s < '0' || *s > '9' || strlen(s) > 5)
		return 0;
	p = strtoul(s, &end, 10);
	return *end == '\0' && p <= 65535;
}

/* ADDR:PORT, a numeric address ([...] for IPv6), as cp-serve --listen */
static int
check_listen(const char *v, char *why)
{
	char host[64];
	const char *colon = strrchr(v, ':');
	size_t hlen = colon != NULL ? (size_t)(colon - v) : 0;
	unsigned char a[16];
	int ok = 0;

	if (colon != NULL && hlen > 0 && hlen < sizeof(host) && is_port(colon + 1)) {
		memcpy(host, v, hlen);
		host[hlen] = '\0';
		if (host[0] == '[' && host[hlen - 1] == ']') {
			host[hlen - 1] = '\0';
			ok = inet_pton(AF_INET6, host + 1, a) == 1;
		} else {
			ok = inet_pton(AF_INET, host, a) == 1;
		}
	}
	if (!ok)
		snprintf(why, CFG_WHY_MAX,
		         "must be a numeric ADDR:PORT (127.0.0.1:8765, [::1]:8765), not '%s'", v);
	return ok ? 0 : -1;
}

/* a market code as the planner takes it: KRW-BTC */
static int
is_market(const char *m)
{
	size_t len = strlen(m);
	const char *dash = strchr(m, '-');

	return len >= 3 && len < 16 && dash != NULL && dash != m && dash[1] != '\0' &&
	       strchr(dash + 1, '-') == NULL &&
	       strspn(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == len;
}

/* One item of a list; into why on failure. */
static int
check_item(enum cfg_kind kind, const char *item, char *norm, size_t n, char *why)
{
	enum tf tf;

	switch (kind) {
	case V_IPS:
		if (is_ip(item))
			break;
		snprintf(why, CFG_WHY_MAX, "'%s' is not a numeric IPv4 or IPv6 address", item);
		return -1;
	case V_MARKETS:
		if (is_market(item))
			break;
		snprintf(why, CFG_WHY_MAX, "bad market code '%s' (like KRW-BTC, upper case)", item);
		return -1;
	default:
		if (tf_parse(item, &tf) == -1) {
			snprintf(
			    why, CFG_WHY_MAX,
			    "unknown timeframe '%s' (1s 1m 3m 5m 10m 15m 30m 1h 4h 1d 1w 1M 1y)",
			    item);
			return -1;
		}
		item = tf_name(tf);
	}
	snprintf(norm, n, "%s", item);
	return 0;
}

/* A comma list (blanks around items allowed), each item checked and
 * normalised; the normalised list replaces v. */
static int
check_list(enum cfg_kind kind, char **v, char *why)
{
	char *copy = strdup(*v), *out = calloc(1, strlen(*v) + 64), *save = NULL, *tok;
	size_t n = 0;
	int rc = -1;

	if (copy == NULL || out == NULL)
		goto fail;
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char item[64];

		tok += strspn(tok, " \t");
		tok[strcspn(tok, " \t")] = '\0';
		if (check_item(kind, tok, item, sizeof(item), why) == -1)
			goto fail;
		n += (size_t)sprintf(out + n, "%s%s", n > 0 ? "," : "", item);
	}
	if (n == 0) {
		snprintf(why, CFG_WHY_MAX, "is an empty list");
		goto fail;
	}
	free(*v);
	*v = out;
	out = NULL;
	rc = 0;
fail:
	free(copy);
	free(out);
	return rc;
}

/* on|off (true|false, 1|0, as --feature), normalised to on or off */
static int
check_onoff(char **v, char *why)
{
	static const char *const on[] = { "on", "true", "1" }, *const off[] = { "off", "false",
		                                                                "0" };
	const char *to = NULL;

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(*v, on[i]) == 0)
			to = "on";
		if (strcasecmp(*v, off[i]) == 0)
			to = "off";
	}
	if (to == NULL) {
		snprintf(why, CFG_WHY_MAX, "must be on or off, not '%s'", *v);
		return -1;
	}
	free(*v);
	*v = strdup(to);
	return *v != NULL ? 0 : -1;
}

static int
check_quote(char **v, char *why)
{
	for (char *p = *v; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	if (strcmp(*v, "KRW") == 0 || strcmp(*v, "BTC") == 0 || strcmp(*v, "USDT") == 0)
		return 0;
	snprintf(why, CFG_WHY_MAX, "must be KRW, BTC or USDT, not '%s'", *v);
	return -1;
}

/* Checks (and normalises) the value *v of key k: 0, or -1 with why. */
static int
check_value(const struct cfg_key *k, char **v, char *why)
{
	if (**v == '\0') {
		snprintf(why, CFG_WHY_MAX, "has no value");
		return -1;
	}
	switch (k->kind) {
	case V_PATH: return 0;
	case V_INT: return check_int(k, *v, why);
	case V_NUM: return check_num(k, *v, why);
	case V_URL: return check_url(*v, why);
	case V_LISTEN: return check_listen(*v, why);
	case V_ONOFF: return check_onoff(v, why);
	case V_QUOTE: return check_quote(v, why);
	case V_MARKETS:
		if (strcmp(*v, "all") == 0)
			return 0;
		return check_list(k->kind, v, why);
	default: return check_list(k->kind, v, why);
	}
}

/* ---- sections and keys ------------------------------------------------------ */

static int
key_index(enum cfg_sect sect, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].sect == sect && strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* "follow" or follow "NAME": 1 (name into out), 0 another section, -1 a
 * follow with a bad name */
static int
follow_name(const char *s, char *out)
{
	size_t n;

	if (strncmp(s, "follow", 6) != 0)
		return 0;
	s += 6;
	out[0] = '\0';
	if (*s == '\0')
		return 1;
	if (*s != ' ' && *s != '\t')
		return 0;
	s += strspn(s, " \t");
	n = strlen(s);
	if (n < 3 || s[0] != '"' || s[n - 1] != '"' || n - 2 >= CFG_NAME_MAX ||
	    memchr(s + 1, '"', n - 2) != NULL)
		return -1;
	memcpy(out, s + 1, n - 2);
	out[n - 2] = '\0';
	return 1;
}

static struct cfg_sec *
new_follow(struct cfg *c, const char *name, int line)
{
	struct cfg_sec *s;

	for (size_t i = 0; name[0] != '\0' && i < c->nfollow; i++)
		if (strcmp(c->follows[i].name, name) == 0) {
			cfg_error(c, line, "[follow \"%s\"] is given twice (first on line %d)",
			          name, c->follows[i].line);
			return NULL;
		}
	if (c->nfollow == CFG_MAX_FOLLOWS) {
		cfg_error(c, line, "more than %d [follow] sections", CFG_MAX_FOLLOWS);
		return NULL;
	}
	s = realloc(c->follows, (c->nfollow + 1) * sizeof(*s));
	if (s == NULL) {
		cfg_error(c, line, "out of memory");
		return NULL;
	}
	c->follows = s;
	s = &c->follows[c->nfollow++];
	memset(s, 0, sizeof(*s));
	s->sect = SECT_FOLLOW;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->line = line;
	return s;
}

/* A [section] header on line: the section the next keys are in. */
static void
begin_section(struct cfg *c, const char *name, int line)
{
	char fname[CFG_NAME_MAX];
	int f = follow_name(name, fname);

	c->cur = NULL;
	c->in_unknown = 1;
	if (f == -1) {
		cfg_error(c, line,
		          "bad section [%s]: a subscription is [follow] or [follow \"NAME\"]",
		          name);
		return;
	}
	if (f == 1) {
		c->cur = new_follow(c, fname, line);
		c->in_unknown = c->cur == NULL;
		return;
	}
	for (int i = 0; i < SECT_FOLLOW; i++)
		if (strcmp(name, sect_names[i]) == 0) {
			c->cur = &c->fixed[i];
			if (c->cur->line == 0)
				c->cur->line = line;
			c->in_unknown = 0;
			return;
		}
	cfg_error(c, line,
	          "unknown section [%s] (collector, service, features, follow, follow \"NAME\")",
	          name);
}

static int
is_list(enum cfg_kind kind)
{
	return kind == V_MARKETS || kind == V_TFS || kind == V_IPS;
}

/* Sets (or, for a list, extends) key k of s to value, checked; a bad value
 * is reported and kept as it is, so that the key counts as given. */
static int
add_value(struct cfg *c, struct cfg_sec *s, int k, const char *value)
{
	char why[CFG_WHY_MAX];
	char *v;
	size_t n = strlen(value) + (s->val[k] != NULL ? strlen(s->val[k]) + 1 : 0) + 1;

	v = malloc(n);
	if (v == NULL)
		return 0;
	if (s->val[k] != NULL)
		snprintf(v, n, "%s,%s", s->val[k], value);
	else
		snprintf(v, n, "%s", value);
	if (check_value(&keys[k], &v, why) == -1)
		cfg_error(c, c->line, "%s: %s", keys[k].name, why);
	free(s->val[k]);
	s->val[k] = v;
	if (s->vline[k] == 0)
		s->vline[k] = c->line;
	return 1;
}

/* inih's handler: one key = value of the current line */
static int
on_key(void *user, const char *section, const char *name, const char *value)
{
	struct cfg *c = user;
	struct cfg_sec *s = c->cur;
	int k;

	(void)section;
	c->handled = 1;
	if (s == NULL) {
		if (!c->in_unknown)
			cfg_error(c, c->line,
			          "%s: outside a section (put it under [collector], ...)", name);
		return 1;
	}
	k = key_index(s->sect, name);
	if (k == -1) {
		cfg_error(c, c->line, "unknown key '%s' in [%s]", name, sect_names[s->sect]);
		return 1;
	}
	if (s->val[k] != NULL && !is_list(keys[k].kind)) {
		cfg_error(c, c->line, "%s is given twice (first on line %d)", name, s->vline[k]);
		return 1;
	}
	return add_value(c, s, k, value);
}

/* ---- the lines ------------------------------------------------------------- */

struct probe {
	char section[CFG_NAME_MAX * 2];
	int calls;
};

static int
on_probe(void *user, const char *section, const char *name, const char *value)
{
	struct probe *p = user;

	(void)value;
	p->calls++;
	if (strcmp(name, CFG_PROBE) == 0)
		snprintf(p->section, sizeof(p->section), "%s", section);
	return 1;
}

/* The line just read made no key call: inih, given the line alone with a
 * probe key after it, says whether it is a section header (the probe's
 * section), a comment or blank, or not INI at all (an error on line 1). */
static void
classify_line(struct cfg *c)
{
	struct probe p = { "", 0 };
	size_t n = (size_t)c->len + sizeof(CFG_PROBE "=1\n") + 1;
	char *text = malloc(n);

	if (text == NULL)
		return;
	snprintf(text, n, "%.*s\n" CFG_PROBE "=1\n", (int)strcspn(c->text, "\r\n"), c->text);
	if (ini_parse_string(text, on_probe, &p) == 1)
		cfg_error(c, c->line, "not a 'key = value' line, a [section] or a comment");
	else if (p.section[0] != '\0')
		begin_section(c, p.section, c->line);
	free(text);
}

/* inih's reader: the next line, counted. A line longer than inih takes is
 * an error and is given to inih as an empty line. */
static char *
read_line(char *str, int num, void *stream)
{
	struct cfg *c = stream;

	if (c->line > 0 && !c->handled)
		classify_line(c);
	c->handled = 1; /* nothing left to classify at the end */
	c->len = getline(&c->text, &c->cap, c->f);
	if (c->len < 0) {
		c->read_error = ferror(c->f) ? errno : 0;
		return NULL;
	}
	c->line++;
	c->handled = 0;
	if (strlen(c->text) != (size_t)c->len) {
		cfg_error(c, c->line, "a NUL byte: not a text file");
		c->handled = 1;
		snprintf(str, (size_t)num, "\n");
	} else if (c->len > num - 1) {
		cfg_error(c, c->line, "longer than %d characters", num - 2);
		c->handled = 1;
		snprintf(str, (size_t)num, "\n");
	} else {
		memcpy(str, c->text, (size_t)c->len + 1);
	}
	return str;
}

/* ---- the whole file ------------------------------------------------------------ */

/* What a subscription needs: market or quote (one), and timeframes. */
static void
check_follow(struct cfg *c, const struct cfg_sec *s)
{
	int m = key_index(SECT_FOLLOW, "market"), q = key_index(SECT_FOLLOW, "quote");
	int t = key_index(SECT_FOLLOW, "timeframe");
	const char *what = s->name[0] != '\0' ? s->name : "";

	if (s->val[m] == NULL && s->val[q] == NULL)
		cfg_error(c, s->line,
		          "[follow%s%s%s] needs market = M[,M...] (or all) or quote = KRW",
		          *what ? " \"" : "", what, *what ? "\"" : "");
	if (s->val[m] != NULL && s->val[q] != NULL)
		cfg_error(c, s->vline[q], "quote and market (line %d) cannot be combined",
		          s->vline[m]);
	if (s->val[t] == NULL)
		cfg_error(c, s->line, "[follow%s%s%s] needs timeframe = TF[,TF...]",
		          *what ? " \"" : "", what, *what ? "\"" : "");
}

/* Reads and checks file into c: 0 read (c->errors says if valid), -1
 * unreadable (said why). */
static int
cfg_load(struct cfg *c, const char *file)
{
	memset(c, 0, sizeof(*c));
	c->file = file;
	for (int i = 0; i < SECT_FOLLOW; i++)
		c->fixed[i].sect = (enum cfg_sect)i;
	c->f = fopen(file, "r");
	if (c->f == NULL) {
		fprintf(stderr, "%s: cannot read: %s\n", file, strerror(errno));
		return -1;
	}
	if (ini_parse_stream(read_line, c, on_key, c) == -2)
		cfg_error(c, c->line, "out of memory");
	fclose(c->f);
	free(c->text);
	if (c->read_error != 0) {
		cfg_print_errors(c);
		fprintf(stderr, "%s: cannot read: %s\n", file, strerror(c->read_error));
		return -1;
	}
	for (size_t i = 0; i < c->nfollow; i++)
		check_follow(c, &c->follows[i]);
	cfg_print_errors(c);
	return 0;
}

static void
sec_free(struct cfg_sec *s)
{
	for (size_t k = 0; k < NKEYS; k++)
		free(s->val[k]);
}

static void
cfg_free(struct cfg *c)
{
	for (int i = 0; i < SECT_FOLLOW; i++)
		sec_free(&c->fixed[i]);
	for (size_t i = 0; i < c->nfollow; i++)
		sec_free(&c->follows[i]);
	free(c->follows);
}

/* ---- output ----------------------------------------------------------------- */

/* NAME='VALUE' with every ' in VALUE as '\'' */
static void
put_assignment(const char *name, const char *value)
{
	printf("CP_CFG_%s='", name);
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*p);
	}
	puts("'");
}

static void
put_section(const struct cfg_sec *s, const char *prefix)
{
	char name[128];

	for (size_t k = 0; k < NKEYS; k++) {
		if (keys[k].sect != s->sect || s->val[k] == NULL)
			continue;
		snprintf(name, sizeof(name), "%s%s", prefix, keys[k].name);
		put_assignment(name, s->val[k]);
	}
}

/* a subscription: PREFIXline, PREFIXname, then its keys */
static void
put_follow(const struct cfg_sec *s, const char *prefix)
{
	char name[128], line[16];

	snprintf(name, sizeof(name), "%sline", prefix);
	snprintf(line, sizeof(line), "%d", s->line);
	put_assignment(name, line);
	snprintf(name, sizeof(name), "%sname", prefix);
	put_assignment(name, s->name);
	put_section(s, prefix);
}

static void
put_shell(const struct cfg *c)
{
	char prefix[64], n[16];

	put_section(&c->fixed[SECT_COLLECTOR], "");
	put_section(&c->fixed[SECT_SERVICE], "");
	put_section(&c->fixed[SECT_FEATURES], "feature_");
	snprintf(n, sizeof(n), "%zu", c->nfollow);
	put_assignment("follows", n);
	for (size_t i = 0; i < c->nfollow; i++) {
		snprintf(prefix, sizeof(prefix), "follow_%zu_", i + 1);
		put_follow(&c->follows[i], prefix);
	}
}

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: cp-config --check FILE | --shell FILE | --keys\n"
	    "  --check FILE  check FILE (candlepipe.conf(5)): every error as FILE:LINE: message\n"
	    "  --shell FILE  check FILE, then print its values as shell assignments\n"
	    "                (CP_CFG_KEY='VALUE', single-quoted) for run.sh\n"
	    "  --keys        every section.key this version knows\n"
	    "  -h, --help    this text\n"
	    "exit status: 0 valid, 2 invalid (or a usage error), 3 unreadable\n");
}

int
main(int argc, char **argv)
{
	struct cfg c;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return EXIT_OK;
	}
	if (argc == 2 && strcmp(argv[1], "--keys") == 0) {
		for (size_t k = 0; k < NKEYS; k++)
			printf("%s.%s\n", sect_names[keys[k].sect], keys[k].name);
		return EXIT_OK;
	}
	if (argc != 3 || (strcmp(argv[1], "--check") != 0 && strcmp(argv[1], "--shell") != 0)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (cfg_load(&c, argv[2]) == -1) {
		cfg_free(&c);
		return EXIT_PERMFAIL;
	}
	if (c.errors > 0) {
		fprintf(stderr, "%s: %d error%s\n", argv[2], c.errors, c.errors == 1 ? "" : "s");
		cfg_free(&c);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--shell") == 0)
		put_shell(&c);
	else
		printf("%s: valid (%zu follow subscription%s)\n", argv[2], c.nfollow,
		       c.nfollow == 1 ? "" : "s");
	cfg_free(&c);
	return EXIT_OK;
}
