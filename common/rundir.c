/*
 * rundir.c: the one place that names a collection's run directory (its
 * sockets, logs, pid file and hub endpoint): /tmp/cp-<first 12 hex of
 * sha1(absolute db path)>, the db path made absolute like `realpath -m`
 * (symlinks of the existing prefix resolved, "." and ".." folded, the file
 * need not exist; a PostgreSQL URI as given), then SHA-1 (FIPS 180-4) of
 * that text. run.sh asks for it
 * through `cp-monitor --print-run-dir`; the monitor reads the endpoint there.
 * Owns no state.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgdb.h"
#include "rundir.h"

struct sha1 {
	uint32_t h[5];
};

static uint32_t
rol(uint32_t x, int k)
{
	return (x << k) | (x >> (32 - k));
}

static void
sha1_block(struct sha1 *s, const unsigned char *p)
{
	uint32_t w[80], a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (int i = 0; i < 80; i++) {
		uint32_t f, k, t;
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		t = rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol(b, 30);
		b = a;
		a = t;
	}
	s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d, s->h[4] += e;
}

void
rundir_sha1_hex(const char *msg, char out[41])
{
	struct sha1 s = { { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 } };
	size_t len = strlen(msg), i = 0, r;
	unsigned char pad[128];
	uint64_t bits = (uint64_t)len * 8;

	for (; i + 64 <= len; i += 64)
		sha1_block(&s, (const unsigned char *)msg + i);
	r = len - i;
	memset(pad, 0, sizeof(pad));
	memcpy(pad, msg + i, r);
	pad[r] = 0x80;
	r = r + 1 + 8 <= 64 ? 64 : 128;
	for (int k = 0; k < 8; k++)
		pad[r - 1 - k] = (unsigned char)(bits >> (8 * k));
	sha1_block(&s, pad);
	if (r == 128)
		sha1_block(&s, pad + 64);
	for (int k = 0; k < 5; k++)
		snprintf(out + 8 * k, 9, "%08x", s.h[k]);
}

/* path prefixed with the working directory unless it is absolute. */
static int
absolute(const char *path, char tmp[PATH_MAX])
{
	char cwd[PATH_MAX];

	if (path[0] == '/')
		return (size_t)snprintf(tmp, PATH_MAX, "%s", path) < PATH_MAX ? 0 : -1;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return -1;
	return (size_t)snprintf(tmp, PATH_MAX, "%s/%s", cwd, path) < PATH_MAX ? 0 : -1;
}

/* Splits tmp at "/" into comp with "." dropped and ".." folded; the count. */
static int
fold_components(char *tmp, char **comp, int max)
{
	char *save = NULL;
	int n = 0;

	for (char *c = strtok_r(tmp, "/", &save); c != NULL; c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, "..") == 0)
			n -= n > 0;
		else if (strcmp(c, ".") != 0 && n < max)
			comp[n++] = c;
	}
	return n;
}

/* Appends comp[from..to) to buf (len bytes long), each after a "/"; the new
 * length, cap or more if it did not fit. */
static size_t
join(char *buf, size_t cap, size_t len, char *const *comp, int from, int to)
{
	for (int i = from; i < to && len < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%s",
		                        len > 0 && buf[len - 1] == '/' ? "" : "/", comp[i]);
	return len;
}

/* Resolves the longest existing prefix comp[0..k) into res; returns k. */
static int
resolve_prefix(char *const *comp, int n, char res[PATH_MAX])
{
	for (int k = n; k > 0; k--) {
		char pre[PATH_MAX] = "";
		if (join(pre, sizeof(pre), 0, comp, 0, k) < sizeof(pre) &&
		    realpath(pre, res) != NULL)
			return k;
	}
	snprintf(res, PATH_MAX, "/");
	return 0;
}

int
rundir_abs_path(const char *path, char out[PATH_MAX])
{
	char tmp[PATH_MAX], res[PATH_MAX], *comp[PATH_MAX / 2];
	int n, k;
	size_t len;

	if (realpath(path, out) != NULL)
		return 0;
	if (absolute(path, tmp) == -1)
		return -1;
	n = fold_components(tmp, comp, PATH_MAX / 2);
	k = resolve_prefix(comp, n, res);
	len = join(res, sizeof(res), strlen(res), comp, k, n);
	if (len >= sizeof(res))
		return -1;
	memcpy(out, res, len + 1);
	return 0;
}

int
rundir_for(const char *db, char abs[PATH_MAX], char *dir, size_t cap)
{
	char hex[41];

	/* a PostgreSQL database is named by its connection string as given */
	if (pgdb_is_uri(db)) {
		if ((size_t)snprintf(abs, PATH_MAX, "%s", db) >= PATH_MAX)
			return -1;
	} else if (rundir_abs_path(db, abs) == -1) {
		return -1;
	}
	rundir_sha1_hex(abs, hex);
	return (size_t)snprintf(dir, cap, "/tmp/cp-%.12s", hex) < cap ? 0 : -1;
}
