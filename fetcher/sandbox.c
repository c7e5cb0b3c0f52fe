/*
 * sandbox.c: the fetcher's Landlock sandbox (see sandbox.h). The fetcher
 * parses text from the Internet, so once it has its sockets and its libcurl
 * handles it gives up every file-system right except reading: a ruleset
 * that handles all the write, create, remove, link and execute rights and
 * grants none of them anywhere. Reading is left unhandled, so libcurl can
 * still open CA files, resolv.conf and the NSS modules. File descriptors
 * opened before (stderr, sockets) keep working. Owns no state.
 *
 * The syscalls go through syscall(2) (glibc has no wrappers); rights the
 * running kernel's Landlock ABI does not know are dropped from the ruleset,
 * so an older kernel gets what it can enforce. Coverage builds
 * (CP_GCOV_DIR) keep the right to write the .gcda files beneath the build
 * tree, and nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/landlock.h>

#include "log.h"
#include "sandbox.h"

/* rights newer than some installed headers */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

#define FS_WRITE_ABI1                                                     \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |     \
	 LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
	 LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |     \
	 LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |     \
	 LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |   \
	 LANDLOCK_ACCESS_FS_MAKE_SYM)

#define PROBE_ENV "CP_SANDBOX_PROBE"

/* The rights the sandbox takes away, for Landlock ABI version abi. */
static uint64_t
denied_rights(long abi)
{
	uint64_t r = FS_WRITE_ABI1;

	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	return r;
}

#ifdef CP_GCOV_DIR
/* Coverage builds only: the .gcda files beneath the build tree stay
 * writable (gcov writes them at exit). */
static int
allow_gcov(int ruleset, uint64_t rights)
{
	struct landlock_path_beneath_attr pb;
	int fd, rc;

	if ((fd = open(CP_GCOV_DIR, O_PATH | O_CLOEXEC)) == -1) {
		log_warn("sandbox: %s", CP_GCOV_DIR);
		return -1;
	}
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = rights & ~(uint64_t)LANDLOCK_ACCESS_FS_EXECUTE;
	pb.parent_fd = fd;
	rc = (int)syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
	if (rc == -1)
		log_warn("sandbox: landlock_add_rule %s", CP_GCOV_DIR);
	close(fd);
	return rc;
}
#else
static int
allow_gcov(int ruleset, uint64_t rights)
{
	(void)ruleset;
	(void)rights;
	return 0;
}
#endif

/* The kernel's Landlock ABI version; 0 (logged once) when it has none. */
static long
landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	if (abi >= 1)
		return abi;
	if (errno == ENOSYS || errno == EOPNOTSUPP)
		log_info("sandbox: no Landlock in this kernel (%s); going on without: this "
		         "fetcher can still write files",
		         strerror(errno));
	else
		log_warn("sandbox: Landlock unusable; going on without: this fetcher can still "
		         "write files");
	return 0;
}

int
sandbox_enter(void)
{
	struct landlock_ruleset_attr attr;
	long abi = landlock_abi();
	int ruleset;

	if (abi == 0)
		return 0;
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = denied_rights(abi);
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset == -1) {
		log_warn("sandbox: landlock_create_ruleset");
		return -1;
	}
	if (allow_gcov(ruleset, attr.handled_access_fs) == -1)
		goto fail;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		log_warn("sandbox: PR_SET_NO_NEW_PRIVS");
		goto fail;
	}
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) == -1) {
		log_warn("sandbox: landlock_restrict_self");
		goto fail;
	}
	close(ruleset);
	log_info("sandbox: Landlock ABI %ld on: no file writes, creates, removes or executes", abi);
	return 0;
fail:
	close(ruleset);
	return -1;
}

void
sandbox_probe(void)
{
	const char *path = getenv(PROBE_ENV);
	int fd;

	if (path == NULL || *path == '\0')
		return;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		log_info("sandbox probe: %s refused (%s)", path, strerror(errno));
		return;
	}
	close(fd);
	log_info("sandbox probe: %s opened for writing", path);
}
