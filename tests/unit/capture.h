/*
 * capture.h: a unit test's stderr captured in a temporary file, for the
 * tests that check what was logged (ledger_test, log_test, net_test).
 * cap_begin() redirects stderr; cap_end(want) restores it and returns the
 * captured text (also in cap_text, cap_len), first waiting up to 3 s for
 * want to appear when want is not NULL (another thread may still be
 * writing it). Header-only: each test is one translation unit.
 */
#ifndef CP_TEST_CAPTURE_H
#define CP_TEST_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char cap_path[128];
static int cap_saved = -1;
static char cap_text[16384];
static size_t cap_len;

static inline void
cap_begin(void)
{
	int fd;

	snprintf(cap_path, sizeof(cap_path), "/tmp/cp_unit_stderr.XXXXXX");
	fd = mkstemp(cap_path);
	assert_true(fd >= 0);
	cap_saved = dup(STDERR_FILENO);
	assert_true(cap_saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
}

static inline void
cap_read(void)
{
	FILE *f = fopen(cap_path, "r");

	assert_non_null(f);
	cap_len = fread(cap_text, 1, sizeof(cap_text) - 1, f);
	cap_text[cap_len] = '\0';
	fclose(f);
}

static inline const char *
cap_end(const char *want)
{
	for (int i = 0; i < 300; i++) {
		cap_read();
		if (want == NULL || strstr(cap_text, want) != NULL)
			break;
		usleep(10000);
	}
	assert_int_equal(dup2(cap_saved, STDERR_FILENO), STDERR_FILENO);
	close(cap_saved);
	unlink(cap_path);
	return cap_text;
}

static inline void
assert_logged(const char *text, const char *want)
{
	if (strstr(text, want) == NULL)
		fail_msg("want \"%s\" in the log, got:\n%s", want, text);
}

#endif
