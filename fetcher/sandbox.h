/*
 * sandbox.h: the fetcher's Landlock sandbox. After it is on, the process
 * can still read files (CA bundles, /etc/resolv.conf, /etc/hosts, NSS
 * modules) but cannot create, write, truncate, remove, rename, link or
 * execute any file. Needs no privileges.
 */
#ifndef CP_SANDBOX_H
#define CP_SANDBOX_H

/* Turns the sandbox on for this process (and any thread or child started
 * later). 0 when it is on, or when the kernel has no Landlock (one clear log
 * line, the process goes on without); -1 (logged) when the kernel has
 * Landlock but refused the ruleset: the caller should not go on. */
int sandbox_enter(void);

/* Test hook: when the environment holds CP_SANDBOX_PROBE=PATH, tries to open
 * PATH for writing (creating it if absent) and logs one line, "sandbox
 * probe: PATH refused (...)" or "sandbox probe: PATH opened for writing". */
void sandbox_probe(void);

#endif
