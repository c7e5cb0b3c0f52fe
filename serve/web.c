/*
 * web.c: the web page's static files (issue 16): GET / (index.html),
 * /app.js, /style.css and /vendor/lightweight-charts.js, the charting
 * library installed by `npm ci` in serve/www (or its copy in the installed
 * www/vendor/). Owns the page's directory and nothing else: only these
 * names are served (no path from the URL ever reaches the file system), each
 * read when asked so that an edited page shows at the next reload. The page
 * is plain files and ES modules with no build step; every call it makes is
 * the documented HTTP API.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "serve.h"

#define WEB_FILE_MAX (4 * 1024 * 1024)
#define LWC_DIST "lightweight-charts/dist/lightweight-charts.standalone.production.js"

static char www_dir[PATH_MAX];

struct web_file {
	const char *url;
	const char *paths[2]; /* relative to www_dir: the first that exists */
	const char *ctype;
};

static const struct web_file files[] = {
	{ "/", { "index.html", NULL }, "text/html; charset=utf-8" },
	{ "/index.html", { "index.html", NULL }, "text/html; charset=utf-8" },
	{ "/app.js", { "app.js", NULL }, "text/javascript; charset=utf-8" },
	{ "/style.css", { "style.css", NULL }, "text/css; charset=utf-8" },
	{ "/vendor/lightweight-charts.js",
	  { "vendor/lightweight-charts.standalone.production.js", "node_modules/" LWC_DIST },
	  "text/javascript; charset=utf-8" },
};

static int
is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The directory of the running binary into out: 0 or -1. */
static int
exe_dir(char *out, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", out, cap - 1);
	char *slash;

	if (n <= 0)
		return -1;
	out[n] = '\0';
	if ((slash = strrchr(out, '/')) == NULL)
		return -1;
	*slash = '\0';
	return 0;
}

int
web_set_dir(const char *dir)
{
	char exe[PATH_MAX], cand[PATH_MAX + 32];

	if (dir != NULL) {
		snprintf(www_dir, sizeof(www_dir), "%s", dir);
		return is_dir(www_dir) ? 0 : -1;
	}
	if (exe_dir(exe, sizeof(exe)) == -1)
		return -1;
	/* the tree: serve/cp-serve and serve/www; installed:
	 * PREFIX/libexec/candlepipe/cp-serve and PREFIX/share/candlepipe/www */
	snprintf(cand, sizeof(cand), "%s/www", exe);
	if (!is_dir(cand))
		snprintf(cand, sizeof(cand), "%s/../../share/candlepipe/www", exe);
	if (!is_dir(cand) || strlen(cand) >= sizeof(www_dir))
		return -1;
	memcpy(www_dir, cand, strlen(cand) + 1);
	return 0;
}

/* The whole file at path into b: 0, or -1 when it cannot be read. */
static int
read_file(const char *path, struct buf *b)
{
	FILE *f = fopen(path, "rb");
	char chunk[16384];
	size_t n;

	if (f == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b->len < WEB_FILE_MAX)
		sv_buf_put(b, chunk, n);
	fclose(f);
	return b->err ? -1 : 0;
}

int
web_static(const char *url, struct sv_reply *r)
{
	char path[PATH_MAX + 128];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (strcmp(url, files[i].url) != 0)
			continue;
		for (int k = 0; k < 2 && files[i].paths[k] != NULL; k++) {
			snprintf(path, sizeof(path), "%s/%s", www_dir, files[i].paths[k]);
			buf_reset(&r->body);
			if (www_dir[0] != '\0' && read_file(path, &r->body) == 0) {
				r->status = 200;
				r->ctype = files[i].ctype;
				return 1;
			}
		}
		log_debug("web: %s: not found under '%s'", url, www_dir);
		reply_error(r, 404, SV_ERROR,
		            files[i].url[1] == 'v'
		                ? "the chart library is not installed (npm ci in serve/www)"
		                : "the web page is not installed (cp-serve --www DIR)");
		return 1;
	}
	return 0;
}
