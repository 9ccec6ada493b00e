/* SPDX-License-Identifier: MIT */
/*
 * common/cidr.c: CIDR network lists (cidr.h): parsed strictly with
 * inet_pton and util_parse_uint, matched by comparing the prefix's
 * bytes and then its last bits.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "common/cidr.h"

/* One network, "ADDR" or "ADDR/BITS", len bytes of s.  0 or -1. */
static int
parse_one(const char *s, size_t len, struct cidr *c, char *err,
    size_t errlen)
{
	char text[INET6_ADDRSTRLEN + 8];
	const char *slash;
	unsigned long long bits;
	unsigned int max, i;
	size_t alen;

	if (len >= sizeof(text)) {
		util_snprintf(err, errlen, "'%.*s' is not a network "
		    "(ADDRESS/BITS)", (int)(len > 64 ? 64 : len), s);
		return -1;
	}
	memcpy(text, s, len);
	text[len] = '\0';
	slash = memchr(text, '/', len);
	alen = slash != NULL ? (size_t)(slash - text) : len;
	text[alen] = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, text, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, text, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else {
		util_snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 "
		    "address", text);
		return -1;
	}
	bits = max;
	if (slash != NULL && util_parse_uint(slash + 1, len - alen - 1, max,
	    &bits) == -1) {
		util_snprintf(err, errlen, "'%s': the prefix length after / "
		    "is not a number from 0 to %u", text, max);
		return -1;
	}
	c->bits = (unsigned int)bits;
	for (i = c->bits; i < max; i++)
		if (c->addr[i / 8] & (0x80 >> (i % 8))) {
			util_snprintf(err, errlen, "'%s/%u': host bits are "
			    "set below the prefix length", text, c->bits);
			return -1;
		}
	return 0;
}

int
cidr_parse_list(const char *s, struct cidr_list *out, char *err,
    size_t errlen)
{
	size_t len;

	out->n = 0;
	for (;;) {
		s += strspn(s, ", \t");
		if (*s == '\0')
			return 0;
		len = strcspn(s, ", \t");
		if (out->n == CIDR_LIST_MAX) {
			util_snprintf(err, errlen, "more than %d networks",
			    CIDR_LIST_MAX);
			break;
		}
		if (parse_one(s, len, &out->v[out->n], err, errlen) == -1)
			break;
		out->n++;
		s += len;
	}
	out->n = 0;
	return -1;
}

/* Whether the first bits of a and b agree. */
static int
prefix_eq(const unsigned char *a, const unsigned char *b, unsigned int bits)
{
	unsigned int whole = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (memcmp(a, b, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

/* family and 4 or 16 address bytes: in l? */
static int
match_raw(const struct cidr_list *l, int family, const unsigned char *a)
{
	static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0xff, 0xff };
	size_t i;

	if (family == AF_INET6 && memcmp(a, v4mapped, 12) == 0) {
		family = AF_INET;
		a += 12;
	}
	for (i = 0; i < l->n; i++)
		if (l->v[i].family == family &&
		    prefix_eq(l->v[i].addr, a, l->v[i].bits))
			return 1;
	return 0;
}

int
cidr_match(const struct cidr_list *l, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return match_raw(l, AF_INET, (const unsigned char *)
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6)
		return match_raw(l, AF_INET6, (const unsigned char *)
		    &((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr);
	return 0;
}

int
cidr_match_str(const struct cidr_list *l, const char *addr)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, addr, a) == 1)
		return match_raw(l, AF_INET, a);
	if (inet_pton(AF_INET6, addr, a) == 1)
		return match_raw(l, AF_INET6, a);
	return 0;
}
