/* SPDX-License-Identifier: MIT */
/*
 * kpopd/pwcache.h: the password-check cache (auth_cache_ttl, for
 * password_check = krb5).  It lives in the master, the one long-lived
 * privileged process, and holds no password and no user name: only keys,
 * an HMAC-SHA-256 of the user and the password under a random secret the
 * master draws at start (pwcache_init), and whether the KDC accepted
 * them.  Monitors, forked from the master, compute keys with the same
 * secret (pwcache_key) and ask over their report socket (report.h); the
 * net process never has the socket, and the master fills the cache only
 * from the report that ends a session's AUTHORIZATION state, so no
 * session can plant a good entry after it has logged in.
 */
#ifndef KPOPD_PWCACHE_H
#define KPOPD_PWCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
#include "common/util.h"

/* What the cache knows of a key. */
enum { PWC_NONE, PWC_GOOD, PWC_BAD };

/* Draw the secret, once, before any session is forked.  0 or -1. */
int	pwcache_init(void) KP_WUR;
/* Wipe the secret (in a process that has no business with it). */
void	pwcache_forget(void);
/*
 * The key of user and pass into key (PWCACHE_KEY_LEN bytes).  0, or -1
 * (no secret drawn: no cache).
 */
int	pwcache_key(const char *user, const char *pass,
	    unsigned char key[PWCACHE_KEY_LEN]) KP_NONNULL(1, 2, 3) KP_WUR;
/* The master's table: what it knows of key at now_ms (PWC_*). */
int	pwcache_lookup(const unsigned char *key, int64_t now_ms)
	    KP_NONNULL(1);
/* Remember key as good or bad for ttl_ms from now_ms. */
void	pwcache_put(const unsigned char *key, int good, int64_t ttl_ms,
	    int64_t now_ms) KP_NONNULL(1);
/* Forget everything (a reload may change what a password means). */
void	pwcache_flush(void);

#endif
