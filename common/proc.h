/*
 * proc.h: process life-cycle helpers shared by every process.
 */
#ifndef CP_PROC_H
#define CP_PROC_H

/* When CP_DIE_WITH_PARENT=1 (run.sh sets it), ask the kernel to send us
 * SIGTERM when our parent dies, so that a supervisor killed with SIGKILL
 * leaves no orphan behind (an orphan writer would hold the database lock). */
void proc_die_with_parent(void);

/* SIGTERM and SIGINT (and the extra signals given, ended by 0) call
 * handler, without SA_RESTART so that a blocking zmq_poll returns EINTR;
 * SIGPIPE is ignored (a peer gone is an error return, not a death). */
void proc_catch_signals(void (*handler)(int), const int *extra);

#endif
