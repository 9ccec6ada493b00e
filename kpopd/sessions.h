/* SPDX-License-Identifier: MIT */
/*
 * kpopd/sessions.h: the master's table of sessions: one record per
 * monitor it forked, with what the session's monitor reports over its
 * own socketpair (report.h): the user, the state, the login method, the
 * bytes sent.  The limits, SIGCHLD's reaping, shutdown, and kpopctl's who
 * and kick read or act on it.
 */
#ifndef KPOPD_SESSIONS_H
#define KPOPD_SESSIONS_H

#include <sys/types.h>

#include <stddef.h>
#include <stdio.h>

#include "common/util.h"

/*
 * Before forking a session: make room in the table and the session's
 * report socketpair; *childfd is the monitor's end (session_start.report).
 * 0, or -1 (logged).  Then, after the fork, exactly one of these:
 * sessions_add in the master (pid, the client's address), sessions_forked
 * in the child, sessions_cancel if the fork failed.
 */
int	sessions_prepare(int *childfd) KP_NONNULL(1) KP_WUR;
void	sessions_add(pid_t pid, const char *peer) KP_NONNULL(2);
/*
 * Right after sessions_add: the session came on a proxy listener, so its
 * address is the balancer's until its monitor reports the client's
 * (R_PEER); then it counts under that address, held to per_ip
 * (max_sessions_per_ip) sessions.
 */
void	sessions_proxied(unsigned int per_ip);
/*
 * In the child: close every descriptor of the table but its own end.
 * keep (nkeep of them) are the child's own descriptors (its client, its
 * report end), which stay open whatever their number.
 */
void	sessions_forked(const int *keep, size_t nkeep);
void	sessions_cancel(void);

/* Sessions running, and those from peer. */
size_t	sessions_count(void);
unsigned int sessions_from(const char *peer) KP_NONNULL(1);

/*
 * Reap the sessions that ended (SIGCHLD), reading their last reports.
 * Any other child of the master goes to other first (non-zero: it was
 * one of its own, a refusal or a check process).
 */
void	sessions_reap(int (*other)(pid_t pid, int status));
/* Shutdown: SIGTERM every session, wait STOP_GRACE, then SIGKILL. */
void	sessions_stop(int (*other)(pid_t pid, int status));

/*
 * At max_sessions: whether a new connection must be refused.  When
 * max sessions run (besides those being dropped) and one of them is
 * still in AUTHORIZATION with no login under way, the one idle the
 * longest is ended (SIGTERM) to make room, and 0 is returned: a flood of
 * idle connections cannot lock everyone out for login_timeout.  1 when
 * every session is logged in or logging in.
 */
int	sessions_full(unsigned int max);

/* A descriptor for the master's poll() (readable: sessions_run). */
int	sessions_fd(void);
/* Read the reports that are waiting; never blocks. */
void	sessions_run(void);

/*
 * kpopctl who: a header and one line per session, in a fixed column
 * order (kpopctl(8)).  0, or -1 if f failed.
 */
int	sessions_who(FILE *f) KP_NONNULL(1);
/*
 * kpopctl kick: end every session whose user or client address is
 * target.  Returns how many were told to end.
 */
unsigned int sessions_kick(const char *target) KP_NONNULL(1);

#endif
