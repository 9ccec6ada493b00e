/* SPDX-License-Identifier: MIT */
/*
 * kpopd/mon-fuzz.h: the session monitor's request dispatch, reachable
 * in-process for tests/fuzz/fuzz-monitor.c.  Built only with -DKPOP_FUZZ
 * (never into kpopd): a monitor without the net process it would fork,
 * answering on a socket the caller holds.
 */
#ifndef KPOPD_MON_FUZZ_H
#define KPOPD_MON_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "kpopd/kpopd.h"

struct mon;

/*
 * A monitor in the pre-authentication state for session s, sending its
 * replies on sock.  principal, if not NULL, is taken as proved by a good
 * KPOP AP-REQ (what M_KPOP_APREQ would record; checking a real one needs
 * a KDC).  Returns it (free with mon_fuzz_free), or NULL.
 */
struct mon *mon_fuzz_new(const struct session_start *s, int sock,
	    const char *principal) KP_NONNULL(1);

/*
 * Answer one request of type with the len bytes at body, as if the net
 * process had sent it.  Returns 0, or -1: the monitor ends the session.
 */
int	mon_fuzz_request(struct mon *, uint32_t type, const void *body,
	    size_t len) KP_NONNULL(1);

/*
 * The state: 0 before a login, 1 logged in as *userp (with the maildrop
 * open), 2 after QUIT.
 */
int	mon_fuzz_state(const struct mon *, const char **userp)
	    KP_NONNULL(1, 2);

/* What the monitor holds (maildrop, SASL) released; NULL is allowed. */
void	mon_fuzz_free(struct mon *);

#endif
