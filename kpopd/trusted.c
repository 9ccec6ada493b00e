/* SPDX-License-Identifier: MIT */
/*
 * kpopd/trusted.c: matching a client address against trusted_networks
 * (trusted.h), the list kconf_load parsed with common/cidr.c.
 */
#include "config.h"

#include "common/cidr.h"
#include "kpopd/kpopd.h"
#include "kpopd/trusted.h"

int
trusted_peer(const struct kpopd_conf *c, const char *peer)
{
	return cidr_match_str(&c->trusted, peer) == 1;
}
