/* SPDX-License-Identifier: MIT */
/*
 * kpopd/stats.h: the master's counters for kpopctl stats: sessions,
 * logins by method and result, bytes sent, refusals, and a histogram of
 * session durations.  They start at 0 when kpopd starts and survive
 * SIGHUP (they live in the master, which a reload does not replace).
 */
#ifndef KPOPD_STATS_H
#define KPOPD_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/util.h"

/* Why a connection or a login was refused (stats_refused). */
enum stats_refusal {
	STATS_INUSE,		/* [IN-USE]: the maildrop was locked */
	STATS_MAX_SESSIONS,	/* max_sessions reached */
	STATS_MAX_PER_IP,	/* max_sessions_per_ip reached */
	STATS_MAX_USER_IP,	/* max_sessions_per_user_ip reached */
	STATS_IDLE_DROPPED,	/* an idle pre-login session dropped for a
				   new one at max_sessions */
	STATS_REFUSALS
};

/* A session started (forked). */
void	stats_session_start(void);
/* A session ended after ms milliseconds. */
void	stats_session_end(int64_t ms);
/*
 * A login was answered: method (as a session reported it: anything not
 * [A-Z0-9_-]{1,20} counts as "other"), result an enum kp_status.  An
 * [IN-USE] answer is a refusal too.
 */
void	stats_login(const char *method, int result) KP_NONNULL(1);
/* n more bytes were sent to clients. */
void	stats_bytes(uint64_t n);
/* A connection or login was refused for why. */
void	stats_refused(enum stats_refusal why);
/* A refused login was answered after more than auth_fail_delay. */
void	stats_penalty(void);
/* A password-cache look-up: 0 a miss, 1 a good hit, 2 a failure hit. */
void	stats_pwcache(int result);
/* Whether s is a method name as stats keeps it (see stats_login). */
int	stats_method_ok(const char *s) KP_NONNULL(1);
/*
 * Write every counter to f as OpenMetrics text, ending with "# EOF";
 * sessions is how many run now.  0, or -1 if f failed.
 */
int	stats_print(FILE *f, size_t sessions) KP_NONNULL(1);

#endif
