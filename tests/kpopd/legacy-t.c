/* SPDX-License-Identifier: MIT */
/*
 * tests/kpopd/legacy-t.c: tests for kpopd/mdir-courier.c (Courier's
 * courierpop3dsizelist: headers, records, names with spaces, broken and
 * hostile lines, fed whole and cut at every byte, the UIDLs Courier's
 * pop3d serves), kpopd/mdir-xuidl.c (the X-UIDL field scan, the MDA
 * name form) and md_uidfmt_cutoff, and Maildirs opened with uidl_format
 * = courier and x-uidl:CUTOFF: Courier's UIDLs and the file name for new
 * mail; X-UIDL honoured only before the cutoff, only once, never in the
 * MDA form, never folded; a symlinked courierpop3dsizelist refused.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kpopd/maildrop.h"
#include "kpopd/mdir-int.h"
#include "tap/basic.h"
#include "md-test.h"

/* ---- courierpop3dsizelist ---- */

static void
cparse(struct mdir_courier *c, const char *s, size_t len)
{
	char *t, err[256];

	if ((t = malloc(len + 1)) == NULL)
		bail("malloc");
	memcpy(t, s, len);
	if (mdir_courier_parse(c, t, len, err, sizeof(err)) != KP_OK)
		bail("mdir_courier_parse: %s", err);
}

/* The UIDL of base name name under c. */
static const char *
cuidl(const struct mdir_courier *c, const char *name)
{
	static char out[POP3_UIDL_MAX + 1];

	mdir_courier_uidl(mdir_courier_find(c, name, strlen(name)), name,
	    strlen(name), out);
	return out;
}

static const char v3[] =
    "/3 9 1733000000\n"
    "1733000001.M1P1.host:2,S 120 1:1733000000:0\n"
    "1733000002.M1P1.host:2, 99 2:1733000000:1\n"
    "1733000003.M1P1 with space:2, 7 3:0:0\n"
    "1733000004.M1P1.host:2, 7 0:1733000000:0\n"
    "1733000005.M1P1.host 8 18446744073709551615:18446744073709551615:0\n"
    "1733000006.M1P1.host 8 -1:5:0\n"
    "1733000007.M1P1.host 8 7:5:2\n"
    "sub/dir 8 7:5:0\n"
    " 8 7:5:0\n"
    "1733000008.M1P1.host 8 8:5\n";

static void
test_courier_parse(void)
{
	struct mdir_courier c;
	char buf[MD_COURIER_LINE_MAX + 64];
	size_t cut;

	cparse(&c, S(v3));
	is_int(c.version, 3, "/3: version");
	is_int(c.n, 6, "six records");
	is_int(c.bad, 4, "four broken lines left out");
	is_int(c.first_bad, 7, "the first broken line: a negative UID");
	is_string(cuidl(&c, "1733000001.M1P1.host"), "UID1-1733000000",
	    "UID<uid>-<uidvalidity>");
	is_string(cuidl(&c, "1733000002.M1P1.host"), "UID2-1733000000",
	    "the UTF-8 flag does not matter");
	is_string(cuidl(&c, "1733000003.M1P1 with space"), "UID3",
	    "a name with a space; UIDVALIDITY 0: UID<uid>");
	is_string(cuidl(&c, "1733000004.M1P1.host"), "1733000004.M1P1.host",
	    "UID 0: the base name");
	is_string(cuidl(&c, "1733000005.M1P1.host"),
	    "UID18446744073709551615-18446744073709551615",
	    "the largest numbers, 44 characters");
	is_string(cuidl(&c, "1733000006.M1P1.host"), "1733000006.M1P1.host",
	    "a broken line: its message gets its name");
	is_string(cuidl(&c, "1733000008.M1P1.host"), "UID8-5",
	    "version 2 form (no flag) read too");
	is_string(cuidl(&c, "1733000009.M1P1.host"), "1733000009.M1P1.host",
	    "a name not listed: the name");
	is_string(cuidl(&c, "1733000001.M1P1"), "1733000001.M1P1",
	    "a prefix of a name is not it");
	is_string(cuidl(&c, "a+b'c\"d e"), "a+2Bb+27c+22d+20e",
	    "Courier's escapes: + ' \" and space as +XX");
	is_string(cuidl(&c, "x\xff"), "x+FF", "a high byte as +FF");
	mdir_courier_free(&c);

	cparse(&c, S("/2 3 1700000000\na:2, 5 2:1700000000\n"));
	is_int(c.version, 2, "/2: version");
	is_string(cuidl(&c, "a"), "UID2-1700000000", "/2: the record");
	mdir_courier_free(&c);
	cparse(&c, S("/2 3\na 5 2:9\n"));
	ok(!c.unusable && c.n == 1, "a header without UIDVALIDITY is usable");
	mdir_courier_free(&c);

	cparse(&c, S("/1 3 5\na 5 2:9:0\n"));
	ok(c.unusable && c.n == 0, "/1: unusable, as Courier finds it");
	mdir_courier_free(&c);
	cparse(&c, S("a 5\nb 6\n"));
	ok(c.unusable, "the oldest form (no header): unusable");
	is_string(cuidl(&c, "a"), "a", "and its messages get their names");
	mdir_courier_free(&c);
	cparse(&c, S("/3 x 5\na 5 2:9:0\n"));
	ok(c.unusable, "a header with a bad number: unusable");
	mdir_courier_free(&c);
	cparse(&c, S(""));
	ok(c.unusable, "an empty file: unusable");
	mdir_courier_free(&c);

	/* A line over the bound: left out, the next one read. */
	memset(buf, 'n', sizeof(buf));
	memcpy(buf, "/3 2 9\n", 7);
	memcpy(buf + MD_COURIER_LINE_MAX + 20, " 1 1:9:0\nb 1 2:9:0\n", 19);
	cparse(&c, buf, MD_COURIER_LINE_MAX + 39);
	ok(c.n == 1 && c.bad == 1 && strcmp(cuidl(&c, "b"), "UID2-9") == 0,
	    "an over-long line left out, the next one read");
	mdir_courier_free(&c);
	memcpy(buf, "/3 2 9\na\0b 1 1:9:0\n", 19);
	cparse(&c, buf, 19);
	ok(c.n == 0 && c.bad == 1, "a line with a NUL left out");
	mdir_courier_free(&c);

	/* Cut at every byte: never a record past the cut. */
	for (cut = 0; cut <= sizeof(v3) - 1; cut++) {
		cparse(&c, v3, cut);
		if (c.n > 0 && c.recs[c.n - 1].name + c.recs[c.n - 1].namelen >
		    c.text + cut)
			break;
		mdir_courier_free(&c);
	}
	ok(cut == sizeof(v3), "cut at every byte: records within the text");
	if (cut != sizeof(v3))
		mdir_courier_free(&c);
}

/* ---- X-UIDL ---- */

static const char *
scan(const char *s, int complete)
{
	static char out[POP3_UIDL_MAX + 1];

	switch (mdir_xuidl_scan(s, strlen(s), complete, out)) {
	case 1:
		return out;
	case 0:
		return "NONE";
	default:
		return "MORE";
	}
}

static void
test_xuidl_scan(void)
{
	char err[256];
	unsigned long long t;

	is_string(scan("From: a\nX-UIDL: abc123\nSubject: x\n\nbody\n", 1),
	    "abc123", "the field");
	is_string(scan("x-uidl:\tabc123 \r\nSubject: x\r\n\r\n", 1),
	    "abc123", "any case, tabs, CRLF, trailing space");
	is_string(scan("X-UIDL: abc\n\tdef\n\n", 1), "NONE",
	    "folded: not honoured");
	is_string(scan("X-UIDL: a b\n\n", 1), "NONE", "two words: no UIDL");
	is_string(scan("X-UIDL: \n\n", 1), "NONE", "empty: no UIDL");
	is_string(scan("X-UIDL: 0123456789012345678901234567890123456789"
	    "012345678901234567890123456789x\n\n", 1), "NONE",
	    "71 characters: no UIDL");
	is_string(scan("X-UIDL: first\nX-UIDL: second\n\n", 1), "first",
	    "the first field decides");
	is_string(scan("X-UIDL: bad value\nX-UIDL: second\n\n", 1), "NONE",
	    "even when it is unusable");
	is_string(scan("Subject: x\n\nX-UIDL: inbody\n", 1), "NONE",
	    "not in the body");
	is_string(scan("X-UIDL : abc\n\n", 1), "NONE",
	    "a space before the colon: another field");
	is_string(scan("Subject: x\nX-UIDL: abc\n", 0), "MORE",
	    "the next line unseen: more needed");
	is_string(scan("Subject: x\nX-UIDL: abc\n", 1), "abc",
	    "unless that was all");
	is_string(scan("Subject: x\nX-UID", 0), "MORE",
	    "a line cut: more needed");
	ok(mdir_xuidl_mdaform("1733000001.M1P1.host") &&
	    mdir_xuidl_mdaform("1.x") && !mdir_xuidl_mdaform("abc.1") &&
	    !mdir_xuidl_mdaform("1733000001") &&
	    !mdir_xuidl_mdaform(".1") &&
	    !mdir_xuidl_mdaform("4f1e2d3c"), "the MDA name form");

	ok(md_uidfmt_cutoff("2020-02-29", &t, err, sizeof(err)) == 0 &&
	    t == 1582934400ULL, "cutoff: a date, UTC midnight");
	ok(md_uidfmt_cutoff("2020-02-29T12:00:01Z", &t, err,
	    sizeof(err)) == 0 && t == 1582977601ULL, "cutoff: date and time");
	ok(md_uidfmt_cutoff("1582934400", &t, err, sizeof(err)) == 0 &&
	    t == 1582934400ULL, "cutoff: seconds");
	ok(md_uidfmt_cutoff("2021-02-29", &t, err, sizeof(err)) == -1,
	    "no 29 February 2021");
	ok(md_uidfmt_cutoff("2020-13-01", &t, err, sizeof(err)) == -1 &&
	    md_uidfmt_cutoff("2020-1-01", &t, err, sizeof(err)) == -1 &&
	    md_uidfmt_cutoff("2020-01-01T25:00:00Z", &t, err,
	    sizeof(err)) == -1 &&
	    md_uidfmt_cutoff("", &t, err, sizeof(err)) == -1 &&
	    md_uidfmt_cutoff("0", &t, err, sizeof(err)) == -1,
	    "bad cutoffs refused");
	ok(md_uidfmt_cutoff("9999-01-01", &t, err, sizeof(err)) == -1 &&
	    strstr(err, "moment past") != NULL,
	    "a cutoff in the future refused: %s", err);
}

/* ---- Maildirs ---- */

static void
put(const char *md, const char *sub, const char *name, const char *data)
{
	char p[PATH_MAX];

	util_snprintf(p, sizeof(p), "%s/%s/%s", md, sub, name);
	put_file(p, data, strlen(data));
}

/* "n:uidl n:uidl ..." of an open maildrop. */
static const char *
listing(struct maildrop *md)
{
	static char out[4096];
	size_t i, k = 0;

	out[0] = '\0';
	for (i = 0; i < md_count(md) && k < sizeof(out) - 100; i++)
		k += (size_t)snprintf(out + k, sizeof(out) - k, "%s%zu:%s",
		    i > 0 ? " " : "", i + 1, md_msg(md, i)->uidl);
	return out;
}

static void
test_courier_maildir(void)
{
	struct md_opts o = opts0;
	struct maildrop *md = NULL;
	char path[PATH_MAX], sl[PATH_MAX];
	int i;

	util_snprintf(path, sizeof(path), "%s/Courier", scratch);
	util_snprintf(sl, sizeof(sl), "%s/courierpop3dsizelist", path);
	mkmaildir(path);
	put(path, "cur", "1733000001.M1P1.h:2,S", "one\n");
	put(path, "cur", "1733000002.M1P1.h:2,", "two\n");
	put(path, "new", "1733000003.M1P1.h", "new after the switch\n");
	put_file(sl, S("/3 3 1733000000\n"
	    "1733000001.M1P1.h:2,S 5 1:1733000000:0\n"
	    "1733000002.M1P1.h:2, 5 2:1733000000:0\n"
	    "1733000000.gone:2, 5 9:1733000000:0\n"));
	o.uidl_format = "courier";
	for (i = 0; i < 3; i++) {
		if (i > 0)
			usleep(100 * 1000);
		if (open_md(MD_MAILDIR, path, &o, &md) != KP_OK)
			bail("open");
		is_string(listing(md), "1:UID1-1733000000 2:UID2-1733000000 "
		    "3:1733000003.M1P1.h", "%s: Courier's UIDLs, the name "
		    "for new mail", i == 0 ? "scanned" : i == 1 ? "again" :
		    "from kpopd.cache's listing");
		md_close(md);
		md = NULL;
	}
	if (unlink(sl) == -1)
		bail("unlink: %s", strerror(errno));
	if (open_md(MD_MAILDIR, path, &o, &md) != KP_OK)
		bail("open");
	is_string(listing(md), "1:1733000001.M1P1.h 2:1733000002.M1P1.h "
	    "3:1733000003.M1P1.h", "no courierpop3dsizelist: the names");
	md_close(md);
	md = NULL;
	if (symlink("/etc/passwd", sl) == -1)
		bail("symlink: %s", strerror(errno));
	is_int(md_open(MD_MAILDIR, path, &o, &md, (char [256]){ 0 }, 256),
	    KP_PERM, "a symlinked courierpop3dsizelist refuses the maildrop");
	md_close(md);
}

static void
test_xuidl_maildir(void)
{
	struct md_opts o = opts0;
	struct maildrop *md = NULL;
	char path[PATH_MAX];
	int i;

	util_snprintf(path, sizeof(path), "%s/Xuidl", scratch);
	mkmaildir(path);
	/* Before the cutoff (1733000100). */
	put(path, "cur", "1733000001.M1P1.h:2,S",
	    "X-UIDL: 4f1e2d3c00000001\nSubject: old 1\n\nbody\n");
	put(path, "cur", "1733000002.M1P1.h:2,",
	    "Subject: old 2\nX-UIDL: 4f1e2d3c00000001\n\nsame as 1\n");
	put(path, "cur", "1733000003.M1P1.h:2,",
	    "Subject: old 3\nX-UIDL: 1733000099.M1P1.h\n\nMDA form\n");
	put(path, "cur", "1733000004.M1P1.h:2,",
	    "Subject: old 4\nX-UIDL: 4f1e2d3c\n 00000004\n\nfolded\n");
	put(path, "cur", "1733000005.M1P1.h:2,",
	    "Subject: old 5\n\nno X-UIDL\n");
	put(path, "cur", "1733000006.M1P1.h:2,",
	    "Subject: old 6\nX-UIDL: 4f1e2d3c00000006\n\n");
	/* After it: a forged X-UIDL, equal to an honoured one. */
	put(path, "new", "1733000200.M1P1.h",
	    "Subject: new\nX-UIDL: 4f1e2d3c00000006\n\nforged\n");
	put(path, "new", "1733000201.M1P1.h",
	    "Subject: new 2\nX-UIDL: 4f1e2d3c00000099\n\nforged\n");
	o.uidl_format = "x-uidl:1733000100";
	for (i = 0; i < 3; i++) {
		if (i > 0)
			usleep(100 * 1000);
		if (open_md(MD_MAILDIR, path, &o, &md) != KP_OK)
			bail("open");
		is_string(listing(md), "1:4f1e2d3c00000001 "
		    "2:1733000002.M1P1.h 3:1733000003.M1P1.h "
		    "4:1733000004.M1P1.h 5:1733000005.M1P1.h "
		    "6:4f1e2d3c00000006 7:1733000200.M1P1.h "
		    "8:1733000201.M1P1.h", "%s: X-UIDL before the cutoff "
		    "only: a duplicate, an MDA-form one, a folded one and new "
		    "mail's get their names", i == 0 ? "scanned" : i == 1 ?
		    "again" : "from kpopd.cache's listing");
		md_close(md);
		md = NULL;
	}
	o.uidl_format = "x-uidl:1733000002";
	if (open_md(MD_MAILDIR, path, &o, &md) != KP_OK)
		bail("open");
	is_string(listing(md), "1:4f1e2d3c00000001 2:1733000002.M1P1.h "
	    "3:1733000003.M1P1.h 4:1733000004.M1P1.h 5:1733000005.M1P1.h "
	    "6:1733000006.M1P1.h 7:1733000200.M1P1.h 8:1733000201.M1P1.h",
	    "an earlier cutoff: fewer honoured");
	md_close(md);
	md = NULL;
	o.uidl_format = "x-uidl";
	is_int(md_open(MD_MAILDIR, path, &o, &md, (char [256]){ 0 }, 256),
	    KP_PERM, "x-uidl without a cutoff refused");
	md_close(md);
}

int
main(void)
{
	md_test_start("legacy-t");
	test_courier_parse();
	test_xuidl_scan();
	test_courier_maildir();
	test_xuidl_maildir();
	md_test_end();
	return 0;
}
