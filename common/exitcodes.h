/*
 * exitcodes.h: the exit codes of every candlepipe process (planner, fetcher,
 * writer, monitor, query) and of run.sh. They are an interface with run.sh,
 * deploy/supervision.conf and supervisord: change them together.
 */
#ifndef CP_EXITCODES_H
#define CP_EXITCODES_H

#define EXIT_OK 0       /* done */
#define EXIT_FAILED 1   /* done, but not all covered (or problems found) */
#define EXIT_USAGE 2    /* bad command line: nothing was started */
#define EXIT_PERMFAIL 3 /* permanent: bad config, not our database, lock held: do not restart */
#define EXIT_TEMPFAIL 4 /* temporary: restart me */

#endif
