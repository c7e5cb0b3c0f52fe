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

/* The readiness notification of s6 (--notify-fd N): one newline written
 * to fd, then fd closed, so the supervisor reading the other end of a pipe
 * wakes at once (and sees EOF if we die before). fd < 0: none asked. A
 * failed write is logged and ignored: nobody is waiting for it. */
void proc_notify_ready(int fd);

/* The range of --notify-fd (0, 1 and 2 are the standard streams). */
#define PROC_NOTIFY_FD_MIN 3
#define PROC_NOTIFY_FD_MAX 1023

#endif
