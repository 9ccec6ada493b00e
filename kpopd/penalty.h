/* SPDX-License-Identifier: MIT */
/*
 * kpopd/penalty.h: the master's memory of failed logins per client
 * address, for the failed-login penalty (limits.c): a bounded table that
 * survives sessions (not reloads' business: it lives in the master) and
 * forgets an address PENALTY_FORGET seconds after its last failure.
 */
#ifndef KPOPD_PENALTY_H
#define KPOPD_PENALTY_H

#include <stdint.h>

#include "common/util.h"

/*
 * A login from peer failed at now_ms (util_now_ms): returns how many
 * failures peer has had in a row (1 for the first one remembered).
 */
unsigned int penalty_fail(const char *peer, int64_t now_ms) KP_NONNULL(1);
/* A login from peer succeeded: forget its failures. */
void	penalty_clear(const char *peer) KP_NONNULL(1);
/*
 * The delay in ms after the fails-th failure in a row: base_s seconds
 * doubled for each earlier one, at most max_s (or base_s, if larger).
 */
unsigned int penalty_delay_ms(unsigned int base_s, unsigned int max_s,
	    unsigned int fails);

#endif
