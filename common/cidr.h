/* SPDX-License-Identifier: MIT */
/*
 * common/cidr.h: lists of networks in CIDR notation ("127.0.0.0/8,
 * ::1/128, 10.0.0.0/8"), as kpopd.conf's proxy_trusted_networks and
 * trusted_networks name them, and whether an address is in one.  A fixed
 * array, no allocation: nothing to free.  An IPv4 client seen on an IPv6
 * socket (::ffff:a.b.c.d) matches the IPv4 networks.
 */
#ifndef KPOP_CIDR_H
#define KPOP_CIDR_H

#include <sys/socket.h>

#include <stddef.h>

#include "common/limits.h"
#include "common/util.h"

struct cidr {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned int	bits;		/* prefix length */
	unsigned char	addr[16];	/* network, host bits zero */
};

struct cidr_list {
	size_t		n;
	struct cidr	v[CIDR_LIST_MAX];
};

/*
 * Parse s, networks separated by commas and/or blanks, each an IPv4 or
 * IPv6 address with an optional /BITS (none: the one address); "" is the
 * empty list.  Host bits set below the prefix are an error (a typo as
 * often as not).  Returns 0, or -1 with err set (out is then empty).
 */
int	cidr_parse_list(const char *s, struct cidr_list *out, char *err,
	    size_t errlen) KP_NONNULL(1, 2, 3) KP_WUR;
/* 1 if sa (AF_INET or AF_INET6) is in one of l's networks, else 0. */
int	cidr_match(const struct cidr_list *l, const struct sockaddr *sa)
	    KP_NONNULL(1, 2);
/* The same for a printable address (inet_ntop's form); 0 if it is none. */
int	cidr_match_str(const struct cidr_list *l, const char *addr)
	    KP_NONNULL(1, 2);

#endif
