/* SPDX-License-Identifier: MIT */
/*
 * kpopd/limits.h: the master's NAT-safe limits, as sessions.c applies
 * them to what a session's monitor asks (report.h): the failed-login
 * penalty per client address, the password-check cache, the per
 * user+address session limit, each with trusted_networks exempt; and the
 * master's descriptor limit, raised to fit max_sessions.
 */
#ifndef KPOPD_LIMITS_H
#define KPOPD_LIMITS_H

#include <stddef.h>

#include "common/util.h"

struct kpopd_conf;

/*
 * The configuration in effect (the master's; it is updated in place on
 * a reload, so the pointer stays good).  Called at start and after each
 * reload: a reload forgets the password cache.
 */
void	limits_conf(const struct kpopd_conf *) KP_NONNULL(1);
/*
 * Raise the master's RLIMIT_NOFILE (soft, up to the hard limit) to fit
 * max_sessions: one descriptor per session above MASTER_FD_HIGH, and
 * spare.  Logs a warning
 * when the hard limit is too low.
 */
void	limits_nofile(void);
/* A login from peer was refused: the delay, in ms, to answer it after. */
unsigned int limits_failed(const char *peer) KP_NONNULL(1);
/*
 * A login from peer succeeded: its penalty is forgotten, and key (keylen
 * bytes, 0 if none: the password the KDC just accepted) is cached.
 */
void	limits_login_ok(const char *peer, const void *key, size_t keylen)
	    KP_NONNULL(1);
/* A cache look-up (PWC_NONE without a cache or a key that fits). */
int	limits_pw_lookup(const void *key, size_t keylen);
/* The KDC refused key: cached for PWCACHE_FAIL_TTL at most. */
void	limits_pw_bad(const void *key, size_t keylen);
/*
 * Whether a user may log in from peer, with others of its sessions from
 * there already (logged in or logging in).  A refusal is counted; the
 * monitor logs it.
 */
int	limits_userip_ok(const char *peer, unsigned int others) KP_NONNULL(1);
/*
 * Whether a proxied session from peer (the PROXY header's address) may be
 * counted as one of others from there (max_sessions_per_ip, trusted
 * networks exempt).
 */
int	limits_peer_ok(const char *peer, unsigned int others,
	    unsigned int per_ip) KP_NONNULL(1);

#endif
