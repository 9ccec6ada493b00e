/* SPDX-License-Identifier: MIT */
/*
 * kpopd/trusted.c: matching a client address against trusted_networks
 * (trusted.h).  The list is short and read where it is needed (an
 * accept, a refused login), so it is parsed each time rather than kept:
 * a reload then needs nothing here.
 */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "kpopd/kpopd.h"
#include "kpopd/trusted.h"

/* One entry: "ADDRESS" or "ADDRESS/BITS" of n bytes. */
struct net {
	int		family;
	unsigned char	addr[16];
	unsigned int	bits;
};

/* Parse one entry of n bytes into *net.  0, or -1. */
static int
parse_net(const char *s, size_t n, struct net *net)
{
	char buf[INET6_ADDRSTRLEN + 8];
	unsigned long long bits;
	char *slash;
	size_t len;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, net->addr) == 1) {
		net->family = AF_INET;
		len = 4;
	} else if (inet_pton(AF_INET6, buf, net->addr) == 1) {
		net->family = AF_INET6;
		len = 16;
	} else
		return -1;
	if (slash == NULL)
		bits = len * 8;
	else if (util_parse_uint(slash, strlen(slash), len * 8, &bits) == -1)
		return -1;
	net->bits = (unsigned int)bits;
	return 0;
}

static int
net_has(const struct net *net, int family, const unsigned char *a)
{
	unsigned int full = net->bits / 8, rest = net->bits % 8;
	unsigned char mask;

	if (family != net->family || memcmp(a, net->addr, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (net->addr[full] & mask);
}

/*
 * Walk list: for each entry, fn(entry, n, arg); stops at the first
 * non-zero return and returns it.
 */
static int
walk(const char *list, int (*fn)(const char *, size_t, void *), void *arg)
{
	const char *p = list;
	size_t n;
	int r;

	for (;;) {
		p += strspn(p, ", \t");
		if (*p == '\0')
			return 0;
		n = strcspn(p, ", \t");
		if ((r = fn(p, n, arg)) != 0)
			return r;
		p += n;
	}
}

struct peer {
	int		family;
	unsigned char	addr[16];
};

static int
match_one(const char *s, size_t n, void *arg)
{
	const struct peer *p = arg;
	struct net net;

	return parse_net(s, n, &net) == 0 && net_has(&net, p->family,
	    p->addr);
}

int
trusted_peer(const struct kpopd_conf *c, const char *peer)
{
	struct peer p;

	if (c->trusted_networks == NULL || c->trusted_networks[0] == '\0')
		return 0;
	if (inet_pton(AF_INET, peer, p.addr) == 1)
		p.family = AF_INET;
	else if (inet_pton(AF_INET6, peer, p.addr) == 1)
		p.family = AF_INET6;
	else
		return 0;
	return walk(c->trusted_networks, match_one, &p) == 1;
}

struct check {
	char	*err;
	size_t	 errlen;
};

static int
check_one(const char *s, size_t n, void *arg)
{
	struct check *ck = arg;
	struct net net;

	if (parse_net(s, n, &net) == 0)
		return 0;
	util_snprintf(ck->err, ck->errlen, "trusted_networks: '%.*s' is not "
	    "an address or ADDRESS/BITS (IPv4 or IPv6)", n > 64 ? 64 :
	    (int)n, s);
	return -1;
}

int
trusted_check(const char *list, char *err, size_t errlen)
{
	struct check ck = { err, errlen };

	return walk(list, check_one, &ck) == 0 ? 0 : -1;
}
