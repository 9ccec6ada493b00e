/* SPDX-License-Identifier: MIT */
/*
 * common/proxy.c: the PROXY protocol header parser (proxy.h).  Version 1
 * is one line of at most PROXY_V1_MAX bytes: "PROXY TCP4|TCP6 SRC DST
 * SPORT DPORT" or "PROXY UNKNOWN ...", CRLF; its fields are split on
 * single spaces and each is checked whole (inet_pton of the named family,
 * ports without sign or leading zero).  Version 2 is a 16-byte head (the
 * 12-byte signature, version and command, family and protocol, a length)
 * and that many bytes of addresses and TLVs, held to PROXY_V2_MAX; every
 * TLV must fit.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "common/proxy.h"

static const unsigned char v2sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
static const char v1sig[] = "PROXY ";

/* v1's shortest header, "PROXY UNKNOWN\r\n"; v2's fixed head. */
#define V1_MIN		15
#define V2_HEAD		16
/* v2 address blocks (proxy-protocol.txt s.2.2). */
#define V2_INET		12
#define V2_INET6	36
#define V2_UNIX		216

static int
bad(char *err, size_t errlen, const char *why)
{
	util_strlcpy(err, why, errlen);
	return PROXY_BAD;
}

/* A v1 port: 0-65535, digits only, no leading zero. */
static int
v1_port(const char *s, size_t len, unsigned int *port)
{
	unsigned long long v;

	if (len > 1 && s[0] == '0')
		return -1;
	if (util_parse_uint(s, len, 65535, &v) == -1)
		return -1;
	*port = (unsigned int)v;
	return 0;
}

/* A v1 address of family in sa (port later). */
static int
v1_addr(const char *s, size_t len, int family, struct sockaddr_storage *sa)
{
	char text[INET6_ADDRSTRLEN];
	struct sockaddr_in *in = (struct sockaddr_in *)(void *)sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)sa;

	if (len == 0 || len >= sizeof(text))
		return -1;
	memcpy(text, s, len);
	text[len] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->ss_family = (sa_family_t)family;
	return inet_pton(family, text, family == AF_INET ?
	    (void *)&in->sin_addr : (void *)&in6->sin6_addr) == 1 ? 0 : -1;
}

static void
set_port(struct sockaddr_storage *sa, unsigned int port)
{
	if (sa->ss_family == AF_INET)
		((struct sockaddr_in *)(void *)sa)->sin_port =
		    htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)(void *)sa)->sin6_port =
		    htons((uint16_t)port);
}

/* The v1 line p[0..n), CRLF stripped, after "PROXY ". */
static int
v1_fields(const char *p, size_t n, struct proxy_hdr *h, char *err,
    size_t errlen)
{
	const char *f[5];
	size_t fl[5], k = 0, i, start = 0;
	unsigned int sport, dport;
	int family;

	if ((n == 7 || (n > 7 && p[7] == ' ')) &&
	    memcmp(p, "UNKNOWN", 7) == 0) {
		h->local = 1;	/* the rest is to be ignored (s.2.1) */
		return PROXY_DONE;
	}
	for (i = 0; i <= n; i++) {
		if (i < n && p[i] != ' ')
			continue;
		if (k == KP_NELEM(f))
			return bad(err, errlen, "PROXY v1: too many fields");
		f[k] = p + start;
		fl[k++] = i - start;
		start = i + 1;
	}
	if (fl[0] == 4 && memcmp(f[0], "TCP4", 4) == 0)
		family = AF_INET;
	else if (fl[0] == 4 && memcmp(f[0], "TCP6", 4) == 0)
		family = AF_INET6;
	else
		return bad(err, errlen, "PROXY v1: the protocol is not TCP4, "
		    "TCP6 or UNKNOWN");
	if (k != 5)
		return bad(err, errlen, "PROXY v1: not four fields after the "
		    "protocol");
	if (v1_addr(f[1], fl[1], family, &h->src) == -1 ||
	    v1_addr(f[2], fl[2], family, &h->dst) == -1)
		return bad(err, errlen, family == AF_INET ? "PROXY v1: an "
		    "address is not IPv4" : "PROXY v1: an address is not "
		    "IPv6");
	if (v1_port(f[3], fl[3], &sport) == -1 ||
	    v1_port(f[4], fl[4], &dport) == -1)
		return bad(err, errlen, "PROXY v1: a port is not a number "
		    "from 0 to 65535");
	set_port(&h->src, sport);
	set_port(&h->dst, dport);
	return PROXY_DONE;
}

static int
parse_v1(const unsigned char *b, size_t len, struct proxy_hdr *h,
    size_t *want, char *err, size_t errlen)
{
	const unsigned char *lf;
	size_t n;

	lf = memchr(b, '\n', len > PROXY_V1_MAX ? PROXY_V1_MAX : len);
	if (lf == NULL) {
		if (len >= PROXY_V1_MAX)
			return bad(err, errlen, "PROXY v1: no end of line in "
			    "107 bytes");
		*want = len < V1_MIN ? V1_MIN : len + 1;
		return PROXY_MORE;
	}
	n = (size_t)(lf - b);
	if (n < V1_MIN - 1 || b[n - 1] != '\r')
		return bad(err, errlen, "PROXY v1: the line does not end in "
		    "CRLF");
	if (memchr(b, '\r', n - 1) != NULL || memchr(b, '\0', n) != NULL)
		return bad(err, errlen, "PROXY v1: a control character in "
		    "the line");
	h->version = 1;
	h->len = n + 1;
	return v1_fields((const char *)b + 6, n - 1 - 6, h, err, errlen);
}

/* Every TLV in b[0..n) fits (s.2.2.x): type, 16-bit length, value. */
static int
tlvs_ok(const unsigned char *b, size_t n)
{
	size_t l;

	while (n > 0) {
		if (n < 3)
			return 0;
		l = (size_t)b[1] << 8 | b[2];
		if (l > n - 3)
			return 0;
		b += 3 + l;
		n -= 3 + l;
	}
	return 1;
}

static int
parse_v2(const unsigned char *b, size_t len, struct proxy_hdr *h,
    size_t *want, char *err, size_t errlen)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&h->src;
	struct sockaddr_in *d4 = (struct sockaddr_in *)(void *)&h->dst;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&h->src;
	struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)(void *)&h->dst;
	const unsigned char *a = b + V2_HEAD;
	size_t n, ab;

	if (len >= 13 && (b[12] >> 4) != 2)
		return bad(err, errlen, "PROXY v2: not version 2");
	if (len >= 13 && (b[12] & 0x0f) > 1)
		return bad(err, errlen, "PROXY v2: a command neither LOCAL "
		    "nor PROXY");
	if (len < V2_HEAD) {
		*want = V2_HEAD;
		return PROXY_MORE;
	}
	n = (size_t)b[14] << 8 | b[15];
	if (n > PROXY_V2_MAX - V2_HEAD)
		return bad(err, errlen, "PROXY v2: header longer than 1024 "
		    "bytes");
	if (len < V2_HEAD + n) {
		*want = V2_HEAD + n;
		return PROXY_MORE;
	}
	h->version = 2;
	h->len = V2_HEAD + n;
	if ((b[12] & 0x0f) == 0 || (b[13] >> 4) == 0) {
		/* LOCAL, or UNSPEC: the address block is to be ignored. */
		h->local = 1;
		return PROXY_DONE;
	}
	switch (b[13] >> 4) {
	case 1:
		ab = V2_INET;
		break;
	case 2:
		ab = V2_INET6;
		break;
	case 3:
		ab = V2_UNIX;
		break;
	default:
		return bad(err, errlen, "PROXY v2: an unknown address family");
	}
	if ((b[13] & 0x0f) != 1)
		return bad(err, errlen, "PROXY v2: not a TCP (STREAM) "
		    "connection");
	if (n < ab)
		return bad(err, errlen, "PROXY v2: the addresses do not fit "
		    "in the length given");
	if (!tlvs_ok(a + ab, n - ab))
		return bad(err, errlen, "PROXY v2: a TLV does not fit in the "
		    "length given");
	if (ab == V2_UNIX) {
		h->local = 1;	/* no address of any use to us */
		return PROXY_DONE;
	}
	if (ab == V2_INET) {
		s4->sin_family = d4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a, 4);
		memcpy(&d4->sin_addr, a + 4, 4);
		memcpy(&s4->sin_port, a + 8, 2);
		memcpy(&d4->sin_port, a + 10, 2);
	} else {
		s6->sin6_family = d6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a, 16);
		memcpy(&d6->sin6_addr, a + 16, 16);
		memcpy(&s6->sin6_port, a + 32, 2);
		memcpy(&d6->sin6_port, a + 34, 2);
	}
	return PROXY_DONE;
}

int
proxy_parse(const void *buf, size_t len, struct proxy_hdr *h, size_t *want,
    char *err, size_t errlen)
{
	const unsigned char *b = buf;
	size_t k;

	memset(h, 0, sizeof(*h));
	*want = 0;
	err[0] = '\0';
	k = len < sizeof(v2sig) ? len : sizeof(v2sig);
	if (memcmp(b, v2sig, k) == 0) {
		if (len < sizeof(v2sig)) {
			*want = len == 0 ? V1_MIN : V2_HEAD;
			return PROXY_MORE;
		}
		return parse_v2(b, len, h, want, err, errlen);
	}
	k = len < sizeof(v1sig) - 1 ? len : sizeof(v1sig) - 1;
	if (memcmp(b, v1sig, k) == 0) {
		if (len < sizeof(v1sig) - 1) {
			*want = V1_MIN;
			return PROXY_MORE;
		}
		return parse_v1(b, len, h, want, err, errlen);
	}
	return bad(err, errlen, "no PROXY protocol header (neither the v1 "
	    "\"PROXY \" nor the v2 signature)");
}

int
proxy_client(const struct proxy_hdr *h, char *out, size_t outlen)
{
	const void *a;
	int family = h->src.ss_family;

	if (h->local || (family != AF_INET && family != AF_INET6))
		return -1;
	a = family == AF_INET ?
	    (const void *)&((const struct sockaddr_in *)(const void *)&h->src)->
	    sin_addr : (const void *)&((const struct sockaddr_in6 *)
	    (const void *)&h->src)->sin6_addr;
	return inet_ntop(family, a, out, (socklen_t)outlen) != NULL ? 0 : -1;
}

/* Reads and parses one header from fd (proxy.h). */
int
proxy_read(int fd, int timeout_ms, struct proxy_hdr *h, char *err,
    size_t errlen)
{
	unsigned char buf[PROXY_V2_MAX];
	struct pollfd pfd;
	int64_t until = util_now_ms() + timeout_ms, left;
	size_t have = 0, want;
	ssize_t r;
	int st;

	while ((st = proxy_parse(buf, have, h, &want, err, errlen)) ==
	    PROXY_MORE) {
		if ((left = until - util_now_ms()) <= 0) {
			util_snprintf(err, errlen, "no whole PROXY header "
			    "within %d s (%zu bytes came)", timeout_ms / 1000,
			    have);
			return PROXY_BAD;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR) {
			util_snprintf(err, errlen, "poll: %s",
			    strerror(errno));
			return PROXY_BAD;
		}
		if (pfd.revents == 0)
			continue;
		/* want <= sizeof(buf): the parser's bound. */
		r = read(fd, buf + have, want - have);
		if (r == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			util_snprintf(err, errlen, "%s after %zu bytes of a "
			    "PROXY header", r == 0 ? "end of connection" :
			    strerror(errno), have);
			return PROXY_BAD;
		}
		have += (size_t)r;
	}
	return st;
}
