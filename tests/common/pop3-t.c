/* SPDX-License-Identifier: MIT */
/*
 * tests/common/pop3-t.c: tests for common/pop3.c, the POP3 grammar: command
 * and response parsing, and the multi-line encoder and decoder, fed whole,
 * one byte at a time and in random splits, against an independent
 * byte-by-byte reference.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pop3.h"
#include "tap/basic.h"

struct buf {
	unsigned char	*p;
	size_t		 len, cap;
	size_t		 fail_after;	/* make the sink fail past this */
};

static int
buf_sink(void *arg, const void *data, size_t n)
{
	struct buf *b = arg;

	if (b->fail_after != 0 && b->len + n > b->fail_after)
		return -1;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			bail("out of memory");
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- commands ---- */

static void
test_commands(void)
{
	struct pop3_cmd c;
	char line[400];
	unsigned long long v;

	is_int(pop3_parse_cmd("USER alice", 10, &c), POP3_CMD_OK, "USER");
	is_string(c.keyword, "USER", "keyword");
	is_int(c.argc, 1, "one argument");
	is_string(c.argv[0], "alice", "argument");
	is_int(pop3_parse_cmd("list", 4, &c), POP3_CMD_OK, "lower case");
	is_string(c.keyword, "LIST", "keyword upper-cased");
	is_int(c.argc, 0, "no arguments");
	is_int(pop3_parse_cmd("TOP 1 10", 8, &c), POP3_CMD_OK, "TOP");
	ok(c.argc == 2 && strcmp(c.argv[0], "1") == 0 &&
	    strcmp(c.argv[1], "10") == 0, "TOP arguments");
	is_int(pop3_parse_cmd("TOP  1\t 10 ", 11, &c), POP3_CMD_OK,
	    "runs of blanks");
	ok(c.argc == 2 && c.arglen[0] == 1 && c.arglen[1] == 2,
	    "blanks separate, trailing blank ignored");
	is_int(pop3_parse_cmd("PASS my secret pass ", 20, &c), POP3_CMD_OK,
	    "PASS with spaces");
	is_blob(c.rest, c.restlen, "my secret pass ", 15, "rest verbatim");
	is_int(c.argc, 3, "and split too");
	is_int(pop3_parse_cmd("UTF8", 4, &c), POP3_CMD_OK, "digit keyword");
	is_string(c.keyword, "UTF8", "UTF8");
	is_int(pop3_parse_cmd("", 0, &c), POP3_CMD_EMPTY, "empty");
	is_int(pop3_parse_cmd("   ", 3, &c), POP3_CMD_EMPTY, "blanks");
	is_int(pop3_parse_cmd(" LIST", 5, &c), POP3_CMD_KEYWORD,
	    "leading blank");
	is_int(pop3_parse_cmd("LISTS", 5, &c), POP3_CMD_KEYWORD,
	    "five letters");
	is_int(pop3_parse_cmd("LI$T", 4, &c), POP3_CMD_KEYWORD, "punctuation");
	is_int(pop3_parse_cmd("US\0R x", 6, &c), POP3_CMD_NUL, "NUL");
	is_int(pop3_parse_cmd("USER a\rb", 8, &c), POP3_CMD_CTRL, "bare CR");
	is_int(pop3_parse_cmd("USER a\x7f", 7, &c), POP3_CMD_CTRL, "DEL");
	is_int(pop3_parse_cmd("A 1 2 3 4 5", 11, &c), POP3_CMD_ARGS,
	    "five arguments");
	is_int(pop3_parse_cmd("A 1 2 3 4", 9, &c), POP3_CMD_OK,
	    "four arguments");

	/* 253 bytes and CRLF make 255: the longest allowed. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "NOOP ", 5);
	is_int(pop3_parse_cmd(line, 253, &c), POP3_CMD_OK, "253 bytes");
	is_int(c.restlen, 248, "rest of a long line");
	is_int(pop3_parse_cmd(line, 254, &c), POP3_CMD_TOOLONG, "254 bytes");
	is_int(pop3_parse_cmd(line, 400, &c), POP3_CMD_TOOLONG, "400 bytes");
	is_int(pop3_parse_cmd_max(line, 398, 400, &c), POP3_CMD_OK,
	    "398 bytes with a limit of 400");
	is_int(c.restlen, 393, "rest of a line over 255");
	is_int(pop3_parse_cmd_max(line, 399, 400, &c), POP3_CMD_TOOLONG,
	    "399 bytes with a limit of 400");
	{
		char huge[POP3_CMD_LIMIT + 10];

		memset(huge, 'y', sizeof(huge));
		memcpy(huge, "NOOP ", 5);
		is_int(pop3_parse_cmd_max(huge, POP3_CMD_LIMIT - 1, 99999,
		    &c), POP3_CMD_TOOLONG, "a limit over POP3_CMD_LIMIT is "
		    "POP3_CMD_LIMIT");
		is_int(pop3_parse_cmd_max(huge, POP3_CMD_LIMIT - 2, 99999,
		    &c), POP3_CMD_OK, "POP3_CMD_LIMIT with CRLF fits");
	}

	is_int(pop3_parse_cmd("DELE 1", 6, &c), 0, "DELE 1");
	ok(pop3_cmd_args_ok(&c, 1, 1), "one argument wanted");
	ok(!pop3_cmd_args_ok(&c, 0, 0), "none wanted");
	ok(!pop3_cmd_args_ok(&c, 2, 2), "two wanted");
	ok(pop3_cmd_num(&c, 0, 0, 100, &v) == 0 && v == 1, "number 1");
	ok(pop3_cmd_num(&c, 1, 0, 100, &v) == -1, "missing argument");
	if (pop3_parse_cmd("DELE 0", 6, &c) != 0)
		bail("cannot parse a test line");
	ok(pop3_cmd_num(&c, 0, 0, 100, &v) == -1, "0 refused");
	ok(pop3_cmd_num(&c, 0, 1, 100, &v) == 0 && v == 0, "0 when allowed");
	if (pop3_parse_cmd("DELE -1", 7, &c) != 0)
		bail("cannot parse a test line");
	ok(pop3_cmd_num(&c, 0, 1, 100, &v) == -1, "negative");
	if (pop3_parse_cmd("DELE +1", 7, &c) != 0)
		bail("cannot parse a test line");
	ok(pop3_cmd_num(&c, 0, 1, 100, &v) == -1, "plus sign");
	if (pop3_parse_cmd("DELE 1a", 7, &c) != 0)
		bail("cannot parse a test line");
	ok(pop3_cmd_num(&c, 0, 1, 100, &v) == -1, "trailing letter");
	if (pop3_parse_cmd("DELE 0x1", 8, &c) != 0)
		bail("cannot parse a test line");
	ok(pop3_cmd_num(&c, 0, 1, 100, &v) == -1, "hex");
	if (pop3_parse_cmd("DELE 101", 8, &c) != 0)
		bail("cannot parse a test line");
	ok(pop3_cmd_num(&c, 0, 1, 100, &v) == -1, "over the maximum");
	if (pop3_parse_cmd("DELE 99999999999999999999999", 28, &c) != 0)
		bail("cannot parse a test line");
	ok(pop3_cmd_num(&c, 0, 1, ~0ULL, &v) == -1, "overflow");
	if (pop3_parse_cmd("DELE 18446744073709551615", 25, &c) != 0)
		bail("cannot parse a test line");
	ok(pop3_cmd_num(&c, 0, 1, ~0ULL, &v) == 0 && v == ~0ULL,
	    "the largest number");
	memset(line, '1', sizeof(line));
	memcpy(line, "RETR ", 5);
	if (pop3_parse_cmd(line, 46, &c) != 0)
		bail("cannot parse a test line");
	ok(!pop3_cmd_args_ok(&c, 1, 1), "41-character argument");
	if (pop3_parse_cmd(line, 45, &c) != 0)
		bail("cannot parse a test line");
	ok(pop3_cmd_args_ok(&c, 1, 1), "40-character argument");
	is_string(pop3_cmd_strerror(POP3_CMD_TOOLONG), "command line too long",
	    "strerror");
}

/* ---- responses ---- */

static void
test_responses(void)
{
	struct pop3_resp r;

	is_int(pop3_parse_resp("+OK", 3, &r), 0, "+OK alone");
	ok(r.status == POP3_OK && r.textlen == 0 && r.code[0] == '\0',
	    "+OK alone parsed");
	is_int(pop3_parse_resp("+OK 2 320", 9, &r), 0, "+OK with text");
	is_blob(r.text, r.textlen, "2 320", 5, "text");
	is_int(pop3_parse_resp("-ERR [IN-USE] locked", 20, &r), 0, "code");
	ok(r.status == POP3_ERR, "-ERR");
	is_string(r.code, "IN-USE", "code IN-USE");
	is_blob(r.text, r.textlen, "locked", 6, "text after code");
	if (pop3_parse_resp("-ERR [SYS/TEMP] try later", 25, &r) != 0)
		bail("cannot parse a test line");
	is_string(r.code, "SYS/TEMP", "hierarchical code");
	if (pop3_parse_resp("-ERR [SYS//TEMP] x", 18, &r) != 0)
		bail("cannot parse a test line");
	is_string(r.code, "", "empty level is no code");
	is_blob(r.text, r.textlen, "[SYS//TEMP] x", 13, "left as text");
	if (pop3_parse_resp("-ERR [AUTH", 10, &r) != 0)
		bail("cannot parse a test line");
	is_string(r.code, "", "unclosed bracket");
	if (pop3_parse_resp("-ERR [] x", 9, &r) != 0)
		bail("cannot parse a test line");
	is_string(r.code, "", "empty brackets");
	if (pop3_parse_resp("-ERR [A B] x", 12, &r) != 0)
		bail("cannot parse a test line");
	is_string(r.code, "", "blank in code");
	if (pop3_parse_resp("-err lower", 10, &r) != 0)
		bail("cannot parse a test line");
	ok(r.status == POP3_ERR, "-err in lower case");
	is_int(pop3_parse_resp("+ dGVzdA==", 10, &r), 0, "continuation");
	ok(r.status == POP3_CONT, "CONT");
	is_blob(r.text, r.textlen, "dGVzdA==", 8, "challenge");
	is_int(pop3_parse_resp("+", 1, &r), 0, "bare +");
	ok(r.status == POP3_CONT && r.textlen == 0, "empty challenge");
	is_int(pop3_parse_resp("+OKAY", 5, &r), -1, "+OKAY");
	is_int(pop3_parse_resp("OK", 2, &r), -1, "OK without +");
	is_int(pop3_parse_resp("", 0, &r), -1, "empty line");
	is_int(pop3_parse_resp("-ERRx", 5, &r), -1, "-ERRx");
	is_int(pop3_parse_resp("+x", 2, &r), -1, "+x");
}

static void
test_ml_line(void)
{
	const char *l;
	size_t n;

	l = ".";
	n = 1;
	is_int(pop3_ml_line(&l, &n), 1, "lone dot ends");
	l = "..";
	n = 2;
	ok(pop3_ml_line(&l, &n) == 0 && n == 1 && l[0] == '.',
	    "stuffed dot removed");
	l = "1 200";
	n = 5;
	ok(pop3_ml_line(&l, &n) == 0 && n == 5, "plain line kept");
	l = "";
	n = 0;
	ok(pop3_ml_line(&l, &n) == 0 && n == 0, "empty line kept");
}

/* ---- the encoder ---- */

/*
 * The reference: what a message of len bytes looks like as POP3 sends
 * it, computed byte by byte.  unstuffed gets the message in CRLF form,
 * wire the stuffed lines and the closing dot.
 */
static void
reference(const unsigned char *m, size_t len, long long body_lines,
    struct buf *unstuffed, struct buf *wire)
{
	size_t i, start;
	int in_body = 0;
	long long left = body_lines;

	i = 0;
	while (i < len) {
		size_t end, content;
		int has_nl;

		if (in_body && left == 0)
			break;
		start = i;
		while (i < len && m[i] != '\n')
			i++;
		end = i;
		has_nl = (i < len);
		if (has_nl)
			i++;
		content = end - start;
		if (m[start] == '.')
			buf_sink(wire, ".", 1);
		buf_sink(wire, m + start, content);
		buf_sink(unstuffed, m + start, content);
		if (content > 0 && m[end - 1] == '\r') {
			buf_sink(wire, "\n", 1);
			buf_sink(unstuffed, "\n", 1);
		} else {
			buf_sink(wire, "\r\n", 2);
			buf_sink(unstuffed, "\r\n", 2);
		}
		if (!in_body) {
			if (has_nl && (content == 0 ||
			    (content == 1 && m[start] == '\r')))
				in_body = 1;
		} else if (left > 0) {
			left--;
		}
	}
	buf_sink(wire, ".\r\n", 3);
}

/* Encode m in pieces: split 0 whole, 1 byte at a time, 2 random. */
static void
encode(const unsigned char *m, size_t len, long long body_lines, int split,
    struct buf *out, unsigned long long *octets)
{
	struct pop3_enc e;
	size_t i = 0, n;

	pop3_enc_init(&e, body_lines);
	while (i < len) {
		if (split == 0)
			n = len;
		else if (split == 1)
			n = 1;
		else
			n = 1 + (size_t)rand() % 17;
		if (n > len - i)
			n = len - i;
		if (pop3_enc_feed(&e, m + i, n, buf_sink, out) == -1)
			bail("encoder sink failed");
		i += n;
	}
	if (pop3_enc_end(&e, buf_sink, out) == -1)
		bail("encoder end failed");
	*octets = e.octets;
}

struct enc_case {
	const char	*in;
	long long	 lines;
	const char	*out;
	const char	*what;
};

static const struct enc_case enc_cases[] = {
	{ "a\nb\n", -1, "a\r\nb\r\n.\r\n", "LF lines" },
	{ "a\r\nb\r\n", -1, "a\r\nb\r\n.\r\n", "CRLF lines" },
	{ "a\r\nb\n", -1, "a\r\nb\r\n.\r\n", "mixed line ends" },
	{ ".a\n..b\n.\n", -1, "..a\r\n...b\r\n..\r\n.\r\n",
	    "lines starting with dots" },
	{ ".", -1, "..\r\n.\r\n", "a lone dot without newline" },
	{ "no newline", -1, "no newline\r\n.\r\n", "no final newline" },
	{ "", -1, ".\r\n", "empty message" },
	{ "\n", -1, "\r\n.\r\n", "one empty line" },
	{ "x\r", -1, "x\r\n.\r\n", "ends in a bare CR" },
	{ "a\rb\n", -1, "a\rb\r\n.\r\n", "bare CR inside a line" },
	{ "H: 1\nH: 2\n\nb1\nb2\nb3\n", 0, "H: 1\r\nH: 2\r\n\r\n.\r\n",
	    "TOP n 0" },
	{ "H: 1\nH: 2\n\nb1\nb2\nb3\n", 2,
	    "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\n.\r\n", "TOP n 2" },
	{ "H: 1\r\n\r\n.b1\r\nb2\r\n", 1, "H: 1\r\n\r\n..b1\r\n.\r\n",
	    "TOP over CRLF with a dot line" },
	{ "H: 1\nH: 2\n\nb1\nb2\nb3\n", 99999999,
	    "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n.\r\n", "TOP n huge" },
	{ "H: 1\nH: 2\n", 0, "H: 1\r\nH: 2\r\n.\r\n", "TOP without body" },
	{ "H: 1\n\nb1", 5, "H: 1\r\n\r\nb1\r\n.\r\n",
	    "TOP, body without final newline" },
};

static void
test_encoder(void)
{
	struct buf out = { 0 }, ref = { 0 }, refwire = { 0 };
	unsigned long long octets;
	unsigned char *big;
	size_t i, n;
	int split;

	for (i = 0; i < KP_NELEM(enc_cases); i++) {
		const struct enc_case *c = &enc_cases[i];

		for (split = 0; split < 3; split++) {
			out.len = 0;
			encode((const unsigned char *)c->in, strlen(c->in),
			    c->lines, split, &out, &octets);
			is_blob(out.p, out.len, c->out, strlen(c->out),
			    "encode %s (%s)", c->what,
			    split == 0 ? "whole" : split == 1 ? "bytewise" :
			    "random splits");
		}
		ref.len = refwire.len = 0;
		reference((const unsigned char *)c->in, strlen(c->in),
		    c->lines, &ref, &refwire);
		is_blob(refwire.p, refwire.len, c->out, strlen(c->out),
		    "reference agrees: %s", c->what);
	}

	/* Sizes: the octets count is the unstuffed CRLF form. */
	{
		struct pop3_enc s;
		const char *m = ".a\nb\r\nno end";

		pop3_size_init(&s);
		pop3_size_feed(&s, m, 4);
		pop3_size_feed(&s, m + 4, strlen(m) - 4);
		is_int((long long)pop3_size_end(&s),
		    (long long)strlen(".a\r\nb\r\nno end\r\n"),
		    "LIST size of LF, CRLF and unfinished lines");
	}

	/* A 1 MiB line, then a dot line. */
	n = 1024 * 1024;
	if ((big = malloc(n + 3)) == NULL)
		bail("out of memory");
	memset(big, 'x', n);
	memcpy(big + n, "\n.\n", 3);
	for (split = 0; split < 3; split += 2) {
		out.len = 0;
		encode(big, n + 3, -1, split, &out, &octets);
		ok(out.len == n + 2 + 4 + 3 &&
		    memcmp(out.p + n, "\r\n..\r\n.\r\n", 9) == 0 &&
		    out.p[0] == 'x' && out.p[n - 1] == 'x',
		    "1 MiB line encoded (%s)", split ? "random" : "whole");
		is_int((long long)octets, (long long)(n + 2 + 3),
		    "1 MiB line size");
	}
	free(big);

	/* A failing sink stops the encoder. */
	{
		struct buf small = { 0 };
		struct pop3_enc e;

		small.fail_after = 3;
		pop3_enc_init(&e, -1);
		is_int(pop3_enc_feed(&e, "abcdef\n", 7, buf_sink, &small), -1,
		    "sink failure reported");
		buf_free(&small);
	}
	buf_free(&out);
	buf_free(&ref);
	buf_free(&refwire);
}

/* Random messages over a small alphabet hit every corner. */
static void
random_message(unsigned char *m, size_t len)
{
	static const char alpha[] = "a.\r\n\n.x";
	size_t i;

	for (i = 0; i < len; i++)
		m[i] = (unsigned char)alpha[rand() % (sizeof(alpha) - 1)];
}

/* Decode wire in pieces (split as for encode) into out. */
static long long
decode(const unsigned char *w, size_t len, int crlf_to_lf, int split,
    struct buf *out, int *done)
{
	struct pop3_dec d;
	size_t i = 0, n;
	long long used = 0, r;

	pop3_dec_init(&d, crlf_to_lf);
	while (i < len && !d.done) {
		if (split == 0)
			n = len;
		else if (split == 1)
			n = 1;
		else
			n = 1 + (size_t)rand() % 13;
		if (n > len - i)
			n = len - i;
		if ((r = pop3_dec_feed(&d, w + i, n, buf_sink, out)) < 0)
			bail("decoder sink failed");
		used += r;
		i += n;
	}
	*done = d.done;
	return used;
}

/* CRLF to LF, byte by byte. */
static void
to_lf(const struct buf *in, struct buf *out)
{
	size_t i;

	for (i = 0; i < in->len; i++) {
		if (in->p[i] == '\r' && i + 1 < in->len && in->p[i + 1] == '\n')
			continue;
		buf_sink(out, in->p + i, 1);
	}
}

static void
test_round_trip(void)
{
	struct buf wire = { 0 }, ref = { 0 }, refwire = { 0 }, dec = { 0 };
	struct buf lf = { 0 };
	unsigned char m[300];
	unsigned long long octets;
	int i, split, done, bad_enc = 0, bad_dec = 0, bad_lf = 0, bad_oct = 0;
	int bad_used = 0;
	long long used;
	size_t len;

	for (i = 0; i < 3000; i++) {
		len = (size_t)rand() % sizeof(m);
		random_message(m, len);
		ref.len = refwire.len = 0;
		reference(m, len, i % 3 == 0 ? (long long)(i % 5) : -1, &ref,
		    &refwire);
		split = i % 3;
		wire.len = 0;
		encode(m, len, i % 3 == 0 ? (long long)(i % 5) : -1, split,
		    &wire, &octets);
		if (wire.len != refwire.len ||
		    memcmp(wire.p, refwire.p, wire.len) != 0)
			bad_enc++;
		if (octets != ref.len)
			bad_oct++;
		/* Something after the body must be left for the next reply. */
		buf_sink(&wire, "+OK\r\n", 5);
		dec.len = 0;
		used = decode(wire.p, wire.len, 0, (i / 3) % 3, &dec, &done);
		if (!done || used != (long long)wire.len - 5)
			bad_used++;
		if (dec.len != ref.len || memcmp(dec.p, ref.p, dec.len) != 0)
			bad_dec++;
		dec.len = lf.len = 0;
		(void)decode(wire.p, wire.len, 1, split, &dec, &done);
		to_lf(&ref, &lf);
		if (dec.len != lf.len || memcmp(dec.p, lf.p, dec.len) != 0)
			bad_lf++;
	}
	is_int(bad_enc, 0, "3000 random messages encode as the reference");
	is_int(bad_oct, 0, "and their octet counts match");
	is_int(bad_used, 0, "the decoder stops right after the closing dot");
	is_int(bad_dec, 0, "decoding gives the CRLF message back");
	is_int(bad_lf, 0, "decoding to LF gives the LF message");

	/* A server that forgot its CRs. */
	dec.len = 0;
	used = decode((const unsigned char *)"a\n..b\n.\nX", 9, 1, 1, &dec,
	    &done);
	ok(done && used == 8, "bare LF closing line found");
	is_blob(dec.p, dec.len, "a\n.b\n", 5, "bare LF body unstuffed");

	/* CRLF.CRLF split at every point. */
	for (i = 0, bad_dec = 0; i < 12; i++) {
		const char *w = "ab\r\n.\r\n+OK\r\n";
		struct pop3_dec d;
		long long r1, r2;

		dec.len = 0;
		pop3_dec_init(&d, 0);
		r1 = pop3_dec_feed(&d, w, (size_t)i, buf_sink, &dec);
		r2 = d.done ? 0 : pop3_dec_feed(&d, w + i, 12 - (size_t)i,
		    buf_sink, &dec);
		if (!d.done || r1 + r2 + (d.done && r1 < i ? i - r1 : 0) < 7 ||
		    dec.len != 4 || memcmp(dec.p, "ab\r\n", 4) != 0)
			bad_dec++;
	}
	is_int(bad_dec, 0, "closing line split at every offset");

	/* Unstuffed ".x" (a broken server): the dot is dropped. */
	dec.len = 0;
	(void)decode((const unsigned char *)".x\r\n.\r\n", 7, 0, 0, &dec,
	    &done);
	is_blob(dec.p, dec.len, "x\r\n", 3, "unstuffed dot line");

	{
		struct buf small = { 0 };
		struct pop3_dec d;

		small.fail_after = 2;
		pop3_dec_init(&d, 0);
		is_int(pop3_dec_feed(&d, "abcdef\r\n", 8, buf_sink, &small), -1,
		    "decoder sink failure reported");
		buf_free(&small);
	}
	buf_free(&wire);
	buf_free(&ref);
	buf_free(&refwire);
	buf_free(&dec);
	buf_free(&lf);
}

/* Long AUTH lines: only AUTH, mechanism, response, within the SASL bound. */
static void
test_auth_line(void)
{
	static char line[POP3_SASL_LINE_MAX + 16];
	struct pop3_cmd cmd;
	size_t n;

	/* A 12 KiB response: "AUTH GSSAPI " + 12288 base64 characters. */
	n = (size_t)snprintf(line, sizeof(line), "auth GSSAPI ");
	memset(line + n, 'Q', 12288);
	n += 12288;
	ok(pop3_parse_auth_line(line, n, &cmd) == POP3_CMD_OK &&
	    strcmp(cmd.keyword, "AUTH") == 0 && cmd.argc == 2 &&
	    strcmp(cmd.argv[0], "GSSAPI") == 0 && cmd.arglen[1] == 12288 &&
	    cmd.argv[1] == line + 12 && cmd.argv[1][12288] == '\0',
	    "AUTH line: a 12 KiB initial response, any case of AUTH");
	memset(line, 'Q', sizeof(line));
	memcpy(line, "AUTH X ", 7);
	is_int(pop3_parse_auth_line(line, POP3_SASL_LINE_MAX - 2, &cmd),
	    POP3_CMD_OK, "AUTH line: exactly the bound with CRLF");
	is_int(pop3_parse_auth_line(line, POP3_SASL_LINE_MAX - 1, &cmd),
	    POP3_CMD_TOOLONG, "AUTH line: one past it");
	memcpy(line, "USER ", 5);
	is_int(pop3_parse_auth_line(line, 300, &cmd), POP3_CMD_TOOLONG,
	    "a long line of any other command");
	memcpy(line, "AUTHX GSSAPI ", 13);
	is_int(pop3_parse_auth_line(line, 300, &cmd), POP3_CMD_TOOLONG,
	    "a longer keyword is not AUTH");
	memcpy(line, "AUTH\tGSSAPI ", 12);
	is_int(pop3_parse_auth_line(line, 300, &cmd), POP3_CMD_TOOLONG,
	    "AUTH, a tab: not the form");
	memset(line, 'M', 300);
	memcpy(line, "AUTH ", 5);
	is_int(pop3_parse_auth_line(line, 300, &cmd), POP3_CMD_TOOLONG,
	    "AUTH and a 295-octet mechanism, no response");
	memcpy(line, "AUTH GSSAPI ", 12);
	line[100] = ' ';
	is_int(pop3_parse_auth_line(line, 300, &cmd), POP3_CMD_ARGS,
	    "a blank inside the response: a third argument");
	line[100] = '\r';
	is_int(pop3_parse_auth_line(line, 300, &cmd), POP3_CMD_CTRL,
	    "a CR inside the response");
	line[100] = '\0';
	is_int(pop3_parse_auth_line(line, 300, &cmd), POP3_CMD_NUL,
	    "a NUL inside the response");
	memcpy(line, "AUTH  GSSAPI", 12);
	is_int(pop3_parse_auth_line(line, 300, &cmd), POP3_CMD_TOOLONG,
	    "two blanks after AUTH");
	memcpy(line, "AUTH GSSAPI ", 12);
	is_int(pop3_parse_auth_line(line, 12, &cmd), POP3_CMD_TOOLONG,
	    "an empty response");
	/* Found by fuzz-cmd: blanks as the mechanism left argv[0] NULL. */
	memcpy(line, "AUTH \t\t\t\t\t\t\t \xb0", 14);
	is_int(pop3_parse_auth_line(line, 14, &cmd), POP3_CMD_TOOLONG,
	    "tabs for a mechanism");
	memcpy(line, "AUTH a\tb QQ", 12);
	is_int(pop3_parse_auth_line(line, 12, &cmd), POP3_CMD_TOOLONG,
	    "a tab inside the mechanism");
}

/* UIDLs: 1 to 70 characters 0x21-0x7E, counted, not NUL-ended. */
static void
test_uidl(void)
{
	char u[POP3_UIDL_MAX + 1];

	memset(u, 'u', sizeof(u));
	ok(pop3_uidl_ok("a", 1) && pop3_uidl_ok("!~", 2) &&
	    pop3_uidl_ok(u, POP3_UIDL_MAX), "UIDL: 1, the edges, 70");
	ok(!pop3_uidl_ok(u, POP3_UIDL_MAX + 1), "UIDL: 71 is too long");
	ok(!pop3_uidl_ok("", 0), "UIDL: empty");
	ok(!pop3_uidl_ok("a b", 3) && !pop3_uidl_ok("a\x7f", 2) &&
	    !pop3_uidl_ok("\xc3\xa9", 2) && !pop3_uidl_ok("a\tb", 3),
	    "UIDL: blank, DEL, 8-bit, control");
	ok(!pop3_uidl_ok("ab\0cd", 5) && pop3_uidl_ok("ab\0cd", 2),
	    "UIDL: only the counted bytes, a NUL among them refused");
}

int
main(void)
{
	srand(1939);
	plan_lazy();
	test_commands();
	test_responses();
	test_ml_line();
	test_encoder();
	test_round_trip();
	test_uidl();
	test_auth_line();
	return 0;
}
