/* SPDX-License-Identifier: MIT */
/*
 * kpopd/trusted.h: trusted_networks, the client addresses exempt from the
 * per-address limits (max_sessions_per_ip, max_sessions_per_user_ip, the
 * failed-login penalty): a NAT gateway or a webmail host that speaks for
 * many users.  The one place that matches an address against the list.
 */
#ifndef KPOPD_TRUSTED_H
#define KPOPD_TRUSTED_H

#include "common/util.h"

struct kpopd_conf;

/*
 * Whether peer (an address as the master writes it, inet_ntop's form) is
 * in c's trusted_networks.  0 for anything that is no address.
 */
int	trusted_peer(const struct kpopd_conf *c, const char *peer)
	    KP_NONNULL(1, 2);

#endif
