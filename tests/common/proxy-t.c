/* SPDX-License-Identifier: MIT */
/*
 * tests/common/proxy-t.c: tests for common/proxy.c (the PROXY protocol
 * header, v1 and v2) and common/cidr.c (network lists): every v1 form,
 * v2 TCP4/TCP6/UNIX/LOCAL with TLVs, every truncation, the client's bytes
 * behind a header left alone, oversize, bad signatures, and the reader's
 * own loop fed in random splits.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/cidr.h"
#include "common/proxy.h"
#include "tap/basic.h"

struct hdr {
	const char	*name;
	unsigned char	 b[PROXY_V2_MAX + 64];
	size_t		 len;
};

static int
parse(const void *b, size_t len, struct proxy_hdr *h, size_t *want)
{
	char err[256];

	return proxy_parse(b, len, h, want, err, sizeof(err));
}

static void
text(struct hdr *x, const char *name, const char *s)
{
	x->name = name;
	x->len = strlen(s);
	memcpy(x->b, s, x->len);
}

/* A v2 header: ver_cmd, fam, then n bytes of body. */
static void
v2(struct hdr *x, const char *name, int vc, int fam, const void *body,
    size_t n)
{
	static const unsigned char sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00,
	    0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

	x->name = name;
	memcpy(x->b, sig, 12);
	x->b[12] = (unsigned char)vc;
	x->b[13] = (unsigned char)fam;
	x->b[14] = (unsigned char)(n >> 8);
	x->b[15] = (unsigned char)n;
	if (n > 0)
		memcpy(x->b + 16, body, n);
	x->len = 16 + n;
}

/* Whole, truncated at every byte, with client bytes after, in splits. */
static void
good(const struct hdr *x, const char *client)
{
	unsigned char buf[sizeof(x->b) + 64];
	struct proxy_hdr h;
	char addr[INET6_ADDRSTRLEN];
	size_t i, want, have;
	int r, bad = 0, runs;

	r = parse(x->b, x->len, &h, &want);
	ok(r == PROXY_DONE && h.len == x->len, "%s: parsed whole", x->name);
	if (client == NULL)
		ok(h.local && proxy_client(&h, addr, sizeof(addr)) == -1,
		    "%s: no client address", x->name);
	else
		ok(!h.local && proxy_client(&h, addr, sizeof(addr)) == 0 &&
		    strcmp(addr, client) == 0, "%s: client %s", x->name,
		    client);
	for (i = 0; i < x->len; i++) {
		r = parse(x->b, i, &h, &want);
		if (r != PROXY_MORE || want <= i || want > x->len) {
			diag("%s: at %zu: %d want %zu", x->name, i, r, want);
			bad++;
		}
	}
	ok(bad == 0, "%s: every truncation asks for more, never past the "
	    "end", x->name);
	memcpy(buf, x->b, x->len);
	memcpy(buf + x->len, "\x16\x03\x01USER x\r\n", 11);
	r = parse(buf, x->len + 11, &h, &want);
	ok(r == PROXY_DONE && h.len == x->len, "%s: the client's bytes after "
	    "it are left", x->name);
	/* The reader's loop: read at most want - have at a time. */
	bad = 0;
	for (runs = 0; runs < 200; runs++) {
		have = 0;
		while ((r = parse(x->b, have, &h, &want)) == PROXY_MORE) {
			if (want <= have || want > x->len) {
				bad++;
				break;
			}
			have += 1 + (size_t)rand() % (want - have);
		}
		if (r != PROXY_DONE || h.len != x->len)
			bad++;
	}
	ok(bad == 0, "%s: read in random splits", x->name);
}

static void
reject(const struct hdr *x)
{
	struct proxy_hdr h;
	char err[256];
	size_t want;

	ok(proxy_parse(x->b, x->len, &h, &want, err, sizeof(err)) ==
	    PROXY_BAD && err[0] != '\0', "%s: refused (%s)", x->name, err);
}

static void
test_v1(void)
{
	struct hdr x;
	char line[200];

	text(&x, "v1 TCP4", "PROXY TCP4 192.0.2.7 10.0.0.5 56324 110\r\n");
	good(&x, "192.0.2.7");
	text(&x, "v1 TCP6", "PROXY TCP6 2001:db8::7 2001:db8::1 0 65535\r\n");
	good(&x, "2001:db8::7");
	text(&x, "v1 TCP6 longest", "PROXY TCP6 "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n");
	good(&x, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	text(&x, "v1 UNKNOWN", "PROXY UNKNOWN\r\n");
	good(&x, NULL);
	text(&x, "v1 UNKNOWN with addresses",
	    "PROXY UNKNOWN ffff:f::1 ::2 1 2\r\n");
	good(&x, NULL);
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 105, "\r\n", 3);
	text(&x, "v1 of 107 bytes", line);
	good(&x, NULL);
	memcpy(line + 105, "x\r\n", 4);
	text(&x, "v1 of 108 bytes", line);
	reject(&x);
	line[106] = line[107] = line[108] = 'x';
	line[150] = '\0';
	text(&x, "v1 with no end of line", line);
	reject(&x);

	text(&x, "v1 LF alone", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n");
	reject(&x);
	text(&x, "v1 lower case", "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n");
	reject(&x);
	text(&x, "v1 TCP4 with IPv6", "PROXY TCP4 ::1 ::1 1 2\r\n");
	reject(&x);
	text(&x, "v1 TCP6 with IPv4", "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n");
	reject(&x);
	text(&x, "v1 short IPv4", "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n");
	reject(&x);
	text(&x, "v1 port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n");
	reject(&x);
	text(&x, "v1 port 010", "PROXY TCP4 1.2.3.4 5.6.7.8 010 2\r\n");
	reject(&x);
	text(&x, "v1 port +1", "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n");
	reject(&x);
	text(&x, "v1 three fields", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n");
	reject(&x);
	text(&x, "v1 five fields", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n");
	reject(&x);
	text(&x, "v1 two spaces", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n");
	reject(&x);
	text(&x, "v1 trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n");
	reject(&x);
	text(&x, "v1 CR inside", "PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n");
	reject(&x);
	text(&x, "v1 UNKNOWNX", "PROXY UNKNOWNX\r\n");
	reject(&x);
	text(&x, "v1 too short", "PROXY X\r\n");
	reject(&x);
	text(&x, "v1 bad start", "PROXX TCP4");
	reject(&x);
	text(&x, "a POP3 command", "USER alice\r\n");
	reject(&x);
	text(&x, "TLS first", "\x16\x03\x01\x02");
	reject(&x);
}

static void
test_v2(void)
{
	static const unsigned char in4[12] = { 192, 0, 2, 9, 10, 0, 0, 5,
	    0xdc, 0x04, 0, 110 };
	unsigned char body[PROXY_V2_MAX], in6[36];
	struct sockaddr_in *s4;
	struct proxy_hdr h;
	struct hdr x;
	size_t want;

	v2(&x, "v2 TCP4", 0x21, 0x11, in4, sizeof(in4));
	good(&x, "192.0.2.9");
	ok(parse(x.b, x.len, &h, &want) == PROXY_DONE &&
	    (s4 = (struct sockaddr_in *)(void *)&h.src) != NULL &&
	    ntohs(s4->sin_port) == 0xdc04 &&
	    ntohs(((struct sockaddr_in *)(void *)&h.dst)->sin_port) == 110,
	    "v2 TCP4: the ports");
	memset(in6, 0, sizeof(in6));
	in6[0] = 0x20;
	in6[1] = 0x01;
	in6[2] = 0x0d;
	in6[3] = 0xb8;
	in6[15] = 7;
	v2(&x, "v2 TCP6", 0x21, 0x21, in6, sizeof(in6));
	good(&x, "2001:db8::7");
	memset(in6, 0, 10);
	in6[10] = in6[11] = 0xff;
	in6[12] = 127;
	in6[15] = 2;
	v2(&x, "v2 TCP6 v4-mapped", 0x21, 0x21, in6, sizeof(in6));
	good(&x, "::ffff:127.0.0.2");
	/* TLVs: ALPN "pop3", a NOOP, an authority. */
	memcpy(body, in4, 12);
	memcpy(body + 12, "\x01\x00\x04pop3\x04\x00\x00\x02\x00\x03m.x", 16);
	v2(&x, "v2 TCP4 with TLVs", 0x21, 0x11, body, 28);
	good(&x, "192.0.2.9");
	v2(&x, "v2 TCP4 with a TLV past the end", 0x21, 0x11, body, 27);
	reject(&x);
	v2(&x, "v2 TCP4 with a TLV head cut", 0x21, 0x11, body, 14);
	reject(&x);
	memset(body, 0, sizeof(body));
	memcpy(body, "/run/haproxy.sock", 17);
	v2(&x, "v2 UNIX", 0x21, 0x31, body, 216);
	good(&x, NULL);
	v2(&x, "v2 LOCAL", 0x20, 0x00, NULL, 0);
	good(&x, NULL);
	v2(&x, "v2 LOCAL with addresses", 0x20, 0x11, in4, sizeof(in4));
	good(&x, NULL);
	v2(&x, "v2 PROXY UNSPEC", 0x21, 0x00, NULL, 0);
	good(&x, NULL);
	v2(&x, "v2 at the size limit", 0x21, 0x11, body, PROXY_V2_MAX - 16);
	memcpy(x.b + 16, in4, 12);
	x.b[28] = 4;	/* a NOOP TLV over the rest */
	x.b[29] = (unsigned char)((PROXY_V2_MAX - 16 - 15) >> 8);
	x.b[30] = (unsigned char)(PROXY_V2_MAX - 16 - 15);
	good(&x, "192.0.2.9");
	v2(&x, "v2 oversized", 0x21, 0x11, body, PROXY_V2_MAX - 15);
	x.len = 16;	/* refused from the length alone */
	reject(&x);
	v2(&x, "v2 length 65535", 0x21, 0x11, NULL, 0);
	x.b[14] = x.b[15] = 0xff;
	reject(&x);
	v2(&x, "v2 version 1", 0x11, 0x11, in4, sizeof(in4));
	reject(&x);
	v2(&x, "v2 version 3", 0x31, 0x11, in4, sizeof(in4));
	reject(&x);
	v2(&x, "v2 command 2", 0x22, 0x11, in4, sizeof(in4));
	reject(&x);
	x.len = 13;
	x.name = "v2 command 2, refused at byte 13";
	reject(&x);
	v2(&x, "v2 family 4", 0x21, 0x41, in4, sizeof(in4));
	reject(&x);
	v2(&x, "v2 UDP", 0x21, 0x12, in4, sizeof(in4));
	reject(&x);
	v2(&x, "v2 TCP4 short", 0x21, 0x11, in4, 11);
	reject(&x);
	v2(&x, "v2 TCP6 short", 0x21, 0x21, in6, 35);
	reject(&x);
	v2(&x, "v2 bad signature", 0x21, 0x11, in4, sizeof(in4));
	x.b[11] = 0x0b;
	reject(&x);
	x.len = 12;
	x.name = "v2 bad signature, refused at byte 12";
	reject(&x);
}

static void
test_cidr(void)
{
	struct cidr_list l;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	char err[256];

	ok(cidr_parse_list("127.0.0.0/8, ::1/128 10.0.0.0/8,192.0.2.7", &l,
	    err, sizeof(err)) == 0 && l.n == 4, "cidr: a list of four");
	ok(cidr_match_str(&l, "127.1.2.3"), "cidr: 127.1.2.3 in 127/8");
	ok(cidr_match_str(&l, "192.0.2.7"), "cidr: a lone address");
	ok(!cidr_match_str(&l, "192.0.2.8"), "cidr: its neighbour is not");
	ok(!cidr_match_str(&l, "128.0.0.1"), "cidr: 128.0.0.1 is not");
	ok(cidr_match_str(&l, "::1") && !cidr_match_str(&l, "::2"),
	    "cidr: ::1/128");
	ok(cidr_match_str(&l, "::ffff:10.9.8.7"), "cidr: v4-mapped matches "
	    "the IPv4 network");
	ok(!cidr_match_str(&l, "not-an-address"), "cidr: a name matches "
	    "nothing");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "10.200.0.1", &sin.sin_addr);
	ok(cidr_match(&l, (struct sockaddr *)&sin), "cidr: a sockaddr_in");
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6.sin6_addr);
	ok(cidr_match(&l, (struct sockaddr *)&sin6), "cidr: a v4-mapped "
	    "sockaddr_in6");
	ok(cidr_parse_list("2001:db8::/33", &l, err, sizeof(err)) == 0 &&
	    cidr_match_str(&l, "2001:db8:7fff::1") &&
	    !cidr_match_str(&l, "2001:db8:8000::1"), "cidr: an odd IPv6 "
	    "prefix");
	ok(cidr_parse_list("0.0.0.0/0", &l, err, sizeof(err)) == 0 &&
	    cidr_match_str(&l, "203.0.113.1") && !cidr_match_str(&l, "::1"),
	    "cidr: /0 is every IPv4 address");
	ok(cidr_parse_list("", &l, err, sizeof(err)) == 0 && l.n == 0 &&
	    !cidr_match_str(&l, "127.0.0.1"), "cidr: the empty list");
	ok(cidr_parse_list("10.0.0.1/8", &l, err, sizeof(err)) == -1 &&
	    strstr(err, "host bits") != NULL, "cidr: host bits: %s", err);
	ok(cidr_parse_list("10.0.0.0/33", &l, err, sizeof(err)) == -1,
	    "cidr: /33: %s", err);
	ok(cidr_parse_list("10.0.0.0/", &l, err, sizeof(err)) == -1,
	    "cidr: empty prefix: %s", err);
	ok(cidr_parse_list("10.0.0.0/-1", &l, err, sizeof(err)) == -1,
	    "cidr: negative prefix: %s", err);
	ok(cidr_parse_list("10.0.0/8", &l, err, sizeof(err)) == -1,
	    "cidr: short address: %s", err);
	ok(cidr_parse_list("127.0.0.1, localhost", &l, err, sizeof(err)) ==
	    -1 && l.n == 0 && strstr(err, "localhost") != NULL,
	    "cidr: a name: %s", err);
}

int
main(void)
{
	plan_lazy();
	srand(14);
	test_v1();
	test_v2();
	test_cidr();
	return 0;
}
