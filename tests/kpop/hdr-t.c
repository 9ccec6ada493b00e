/* SPDX-License-Identifier: MIT */
/*
 * tests/kpop/hdr-t.c: tests for kpop/hdr.c: where a header ends; the
 * envelope sender from Return-Path, with the hostile inputs anyone on
 * the internet can write there (controls, newlines, blanks, shell
 * metacharacters, 8-bit bytes, over-long paths, unbalanced comments)
 * refused; mpop's %F; the Received: line, folded under 78 columns.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kpop/deliver.h"
#include "kpop/hdr.h"
#include "tap/basic.h"

/* A string literal as its bytes and length, without the NUL. */
#define S(x)	x, sizeof(x) - 1

struct rp {
	const char	*hdr;
	int		 want;
	const char	*addr;
};

static const struct rp rps[] = {
	{ "Return-Path: <alice@example.org>\nFrom: x\n\nbody\n",
	    HDR_SENDER_ADDR, "alice@example.org" },
	{ "return-path:alice@example.org\n\n", HDR_SENDER_ADDR,
	    "alice@example.org" },
	{ "Return-Path:\n <alice@example.org>\n\n", HDR_SENDER_ADDR,
	    "alice@example.org" },
	{ "Return-Path: (bounce) <b+x=y@example.org> (ok (nested))\n\n",
	    HDR_SENDER_ADDR, "b+x=y@example.org" },
	{ "Return-Path: <SRS0=abc=TT=ex.com=bob@fwd.example>\n\n",
	    HDR_SENDER_ADDR, "SRS0=abc=TT=ex.com=bob@fwd.example" },
	{ "Return-Path: <@relay.example,@r2.example:carol@example.org>\n\n",
	    HDR_SENDER_ADDR, "carol@example.org" },
	{ "Return-Path: <dave@[192.0.2.1]>\n\n", HDR_SENDER_ADDR,
	    "dave@[192.0.2.1]" },
	{ "Received: x\nReturn-Path: <first@example.org>\n"
	    "Return-Path: <second@example.org>\n\n", HDR_SENDER_ADDR,
	    "first@example.org" },
	{ "Return-Path: <>\n\n", HDR_SENDER_NULL, "" },
	{ "Return-Path: < alice @ example.org >\n\n", HDR_SENDER_ADDR,
	    "alice@example.org" },
	{ "Return-Path: <alice@example.org>\t \t(x)\n\n", HDR_SENDER_ADDR,
	    "alice@example.org" },
	{ "Return-Path: < > (bounce)\n\n", HDR_SENDER_NULL, "" },
	/* Only the header counts. */
	{ "From: x\n\nReturn-Path: <body@example.org>\n", HDR_SENDER_NONE,
	    "" },
	{ "From: x\n\n", HDR_SENDER_NONE, "" },
	{ "X-Return-Path: <x@example.org>\n\n", HDR_SENDER_NONE, "" },
	/* Hostile. */
	{ "Return-Path: <a;rm -rf ~@example.org>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <a b@example.org>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <alice@ex\n\tample.org>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <a@exa mple.org>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <a@example.org> x\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <a(c)b@example.org>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <$(touch /tmp/pwned)@example.org>\n\n",
	    HDR_SENDER_NONE, "" },
	{ "Return-Path: <`id`@example.org>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <a|b@example.org>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <a&b@example.org>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <'x'@example.org>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <\"a b\"@example.org>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <a\\@b@example.org>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <a@example.org\r\nFrom evil>\n\n", HDR_SENDER_NONE,
	    "" },
	{ "Return-Path: <a@example.org\001>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <a@exam\177ple.org>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <j\303\274rgen@example.org>\n\n", HDR_SENDER_NONE,
	    "" },
	{ "Return-Path: <-oQ/tmp/x@example.org>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <a@-example.org>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <a@b@example.org>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <a@exa_mple.org>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <a@example.org> <b@example.org>\n\n", HDR_SENDER_NONE,
	    "" },
	{ "Return-Path: <a@example.org\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: a@example.org>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <a@example.org> (unclosed\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <a@example.org> )\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <nobody>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <@relay.example>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <a@[1.2.3.4;id]>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <a@>\n\n", HDR_SENDER_NONE, "" },
	{ "Return-Path: <@example.org>\n\n", HDR_SENDER_NONE, "" },
};

static void
test_return_path(void)
{
	char out[DLV_SENDER_MAX], *big;
	size_t i, n;
	int r;

	for (i = 0; i < sizeof(rps) / sizeof(rps[0]); i++) {
		memset(out, 'x', sizeof(out));
		r = hdr_return_path(rps[i].hdr, strlen(rps[i].hdr), out,
		    sizeof(out));
		is_int(r, rps[i].want, "Return-Path %zu: verdict", i);
		is_string(out, rps[i].addr, "Return-Path %zu: address", i);
	}
	/* A path that does not fit the sender's room. */
	n = DLV_SENDER_MAX + 64;
	big = malloc(n + 64);
	if (big == NULL)
		bail("out of memory");
	memcpy(big, "Return-Path: <", 14);
	memset(big + 14, 'a', n);
	memcpy(big + 14 + n, "@example.org>\n\n", 16);
	r = hdr_return_path(big, strlen(big), out, sizeof(out));
	is_int(r, HDR_SENDER_NONE, "an over-long path is not used");
	/* A field past HDR_PATH_FIELD_MAX, folded many times. */
	free(big);
	n = HDR_PATH_FIELD_MAX * 2;
	big = malloc(n + 64);
	if (big == NULL)
		bail("out of memory");
	memcpy(big, "Return-Path: <a@example.org>", 28);
	for (i = 28; i < n; i += 2)
		memcpy(big + i, "\n ", 2);
	memcpy(big + i, "\n\n", 3);
	r = hdr_return_path(big, strlen(big), out, sizeof(out));
	is_int(r, HDR_SENDER_NONE, "an over-long field is not used");
	free(big);
	/* The caller's room is the bound, whatever the address. */
	r = hdr_return_path(S("Return-Path: <alice@example.org>\n\n"), out,
	    8);
	is_int(r, HDR_SENDER_NONE, "an address that does not fit out");
	/* A buffer that is cut inside the header (no blank line yet). */
	r = hdr_return_path(S("Return-Path: <alice@example.org>\nFrom: x"),
	    out, sizeof(out));
	is_int(r, HDR_SENDER_ADDR, "a header without its end");
}

static void
test_end(void)
{
	is_int((long long)hdr_end(S("From: x\n")), 0, "no end yet");
	is_int((long long)hdr_end(S("From: x\n\nbody\n")), 9, "end");
	is_int((long long)hdr_end(S("\nbody\n")), 1, "an empty header");
	is_int((long long)hdr_end(S("")), 0, "nothing");
}

static void
test_filter_sender(void)
{
	char out[64];

	hdr_filter_sender("alice@example.org", out, sizeof(out));
	is_string(out, "alice@example.org", "%%F: an address");
	hdr_filter_sender(NULL, out, sizeof(out));
	is_string(out, "MAILER-DAEMON", "%%F: none");
	hdr_filter_sender("", out, sizeof(out));
	is_string(out, "MAILER-DAEMON", "%%F: the null sender");
	hdr_filter_sender("a'$(id)`;b=c@x", out, sizeof(out));
	is_string(out, "a___id___b_c@x", "%%F: the shell's bytes go");
	hdr_filter_sender("abcdefgh", out, 4);
	is_string(out, "abc", "%%F: cut to fit");
}

/* Each line of a header under 78 columns, tabs counted as 8. */
static int
lines_fit(const char *s)
{
	size_t col = 0;

	for (; *s != '\0'; s++) {
		if (*s == '\n')
			col = 0;
		else if (++col >= (*s == '\t' ? 71 : 78))
			return 0;
		else if (*s == '\t')
			col += 7;
	}
	return 1;
}

static void
test_received(void)
{
	struct hdr_received r;
	char out[HDR_RECEIVED_MAX], host[HDR_HOST_MAX + 2];
	size_t n;

	(void)setenv("TZ", "UTC", 1);
	tzset();
	memset(&r, 0, sizeof(r));
	r.from = "pop.example.org";
	r.by = "client.example.com";
	r.with = "POP3S";
	r.login = "SASL GSSAPI";
	r.version = "1.0";
	r.id = "0123456789abcdef0123456789abcdef";
	r.when = 1764000000;
	n = hdr_received(&r, out, sizeof(out));
	ok(n > 0 && n == strlen(out), "a Received: line");
	is_string(out, "Received: from pop.example.org by client.example.com "
	    "(kpop 1.0, SASL GSSAPI)\n\twith POP3S id "
	    "0123456789abcdef0123456789abcdef;\n\tMon, 24 Nov 2025 16:00:00 "
	    "+0000\n", "its text and folds");
	ok(lines_fit(out), "no line reaches 78 columns");
	/* Hostile or odd names become "unknown"; an IPv6 address is one. */
	r.from = "evil\nhost;rm";
	r.by = "::1";
	r.login = "X\n(y) \t z ";
	n = hdr_received(&r, out, sizeof(out));
	ok(n > 0 && strstr(out, "from unknown by [IPv6:::1] (kpop 1.0, "
	    "Xy z)") != NULL, "odd names: %s", out);
	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	r.from = host;
	r.by = "a-very-long-host-name-of-sixty-characters.sub.example.com";
	n = hdr_received(&r, out, sizeof(out));
	ok(n > 0 && strstr(out, "from unknown") != NULL && lines_fit(out),
	    "a name over HDR_HOST_MAX, long ones folded: %s", out);
	host[HDR_HOST_MAX] = '\0';
	r.from = host;
	r.by = host;
	r.login = NULL;
	n = hdr_received(&r, out, sizeof(out));
	ok(n > 0 && lines_fit(out), "two names of HDR_HOST_MAX fit");
	is_int((long long)hdr_received(&r, out, 40), 0, "no room: 0");
}

int
main(void)
{
	plan_lazy();
	test_end();
	test_return_path();
	test_filter_sender();
	test_received();
	return 0;
}
