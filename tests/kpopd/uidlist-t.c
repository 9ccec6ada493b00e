/* SPDX-License-Identifier: MIT */
/*
 * tests/kpopd/uidlist-t.c: tests for kpopd/md-uidfmt.c (uidl_format and
 * Dovecot's pop3_uidl_format, checked against UIDLs the real Dovecot
 * 2.3.19 served) and kpopd/mdir-uidlist.c (dovecot-uidlist: headers,
 * records, saved UIDLs, broken and hostile lines, fed whole and cut at
 * every byte), and a Maildir opened with uidl_format = dovecot:...:
 * Dovecot's order and UIDLs, the file name for mail Dovecot never saw,
 * the same again from the kpopd.cache listing, and a symlinked or
 * foreign uidlist refused.
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

/* ---- formats ---- */

/* Expand fmt for uid, uidvalidity, name and guid; "ERR" on refusal. */
static const char *
expand(const char *fmt, uint32_t uid, uint32_t uv, const char *name,
    const char *guid)
{
	static char out[MD_UIDFMT_OUT_MAX];
	struct md_uidvars v;
	char err[256];
	size_t len;

	v.uid = uid;
	v.uidvalidity = uv;
	v.name = name;
	v.namelen = strlen(name);
	v.guid = guid;
	v.guidlen = guid != NULL ? strlen(guid) : 0;
	if (md_uidfmt_expand(fmt, &v, out, &len, err, sizeof(err)) == -1)
		return "ERR";
	if (len != strlen(out))
		return "BADLEN";
	return out;
}

static void
test_formats(void)
{
	const char *fmt, *n = "1796316750.M975574P5556.vm,S=30,W=34";
	char err[256];

	/* What Dovecot 2.3.19 answered to UIDL (tests/kpopd/dovecot-t). */
	is_string(expand("%08Xu%08Xv", 1, 1796316750U, n, NULL),
	    "000000016b119e4e", "default format: lower-case hex, 8 wide");
	is_string(expand("%v.%u", 3, 1796316760U, n, NULL),
	    "1796316760.3", "%%v.%%u");
	is_string(expand("%08Xu%08Xv", 0x12345678, 0xffffffffU, n, NULL),
	    "12345678ffffffff", "full width: no padding");
	is_string(expand("%f", 1, 1, "a.b:2,S", NULL), "a.b:2,S",
	    "%%f: the name given");
	is_string(expand("%g", 1, 1, "base", NULL), "base",
	    "%%g without a G field: the base name");
	is_string(expand("%g", 1, 1, "base", "0123abcd"), "0123abcd",
	    "%%g: the G field");
	is_string(expand("%{uid}-%{uidvalidity}-%{filename}", 7, 9, "x",
	    NULL), "7-9-x", "long names");
	is_string(expand("%Uf%Lf", 1, 1, "aB", NULL), "ABab", "U and L");
	is_string(expand("%Rf", 1, 1, "abc", NULL), "cba", "R");
	is_string(expand("%Mu", 1, 1, "x", NULL),
	    "c4ca4238a0b923820dcc509a6f75849b", "M: MD5 of \"1\" in hex");
	is_string(expand("%3f", 1, 1, "abcdef", NULL), "abc",
	    "a width cuts");
	is_string(expand("%2.3f", 1, 1, "abcdef", NULL), "cde",
	    "an offset, then a width");
	is_string(expand("%-2.f", 1, 1, "abcdef", NULL), "ef",
	    "a negative offset counts from the end");
	is_string(expand("%.-2f", 1, 1, "abcdef", NULL), "abcd",
	    "a negative width leaves that many off");
	is_string(expand("%05u", 42, 1, "x", NULL), "00042", "zero padding");
	is_string(expand("%02u", 12345, 1, "x", NULL), "12345",
	    "zero padding never cuts");
	is_string(expand("%Xf", 1, 1, "notanumber", NULL), "0",
	    "X of a non-number: 0, as Dovecot");
	is_string(expand("a%%b", 1, 1, "x", NULL), "a%b", "%%%%");
	is_string(expand("%Ef", 1, 1, "a\"b", NULL), "a\\\"b", "E");
	is_string(expand("%m", 1, 1, "x", NULL), "ERR", "%%m refused");
	is_string(expand("%{md5}", 1, 1, "x", NULL), "ERR",
	    "%%{md5} refused");
	is_string(expand("%Hu", 1, 1, "x", NULL), "ERR", "%%H refused");
	is_string(expand("%{pid}", 1, 1, "x", NULL), "ERR",
	    "%%{pid} refused");
	is_string(expand("%q", 1, 1, "x", NULL), "ERR", "%%q refused");
	is_string(expand("ab%", 1, 1, "x", NULL), "ERR", "a final %% refused");
	is_string(expand("%01025u", 1, 1, "x", NULL), "ERR",
	    "a width over %d refused", MD_UIDFMT_OUT_MAX);
	is_string(expand("%0123456789012345678901234u", 1, 1, "x", NULL),
	    "ERR", "a width of 25 digits refused");

	is_int(md_uidfmt_setting("filename", &fmt, err, sizeof(err)),
	    MD_UIDL_FILENAME, "setting: filename");
	is_int(md_uidfmt_setting("dovecot-saved", &fmt, err, sizeof(err)),
	    MD_UIDL_DOVECOT, "setting: dovecot-saved");
	is_string(fmt, "%08Xu%08Xv", "with Dovecot's default format");
	is_int(md_uidfmt_setting("dovecot:%v.%u", &fmt, err, sizeof(err)),
	    MD_UIDL_DOVECOT, "setting: dovecot:%%v.%%u");
	is_string(fmt, "%v.%u", "its format");
	is_int(md_uidfmt_setting("dovecot:%m", &fmt, err, sizeof(err)), -1,
	    "setting: dovecot:%%m refused");
	ok(strstr(err, "mbox") != NULL, "saying why: %s", err);
	is_int(md_uidfmt_setting("dovecot:", &fmt, err, sizeof(err)), -1,
	    "setting: an empty format refused");
	is_int(md_uidfmt_setting("qpopper", &fmt, err, sizeof(err)), -1,
	    "setting: an unknown source refused");
}

/* ---- the parser ---- */

/* Parse a copy of the len bytes at s into u; bails without memory. */
static void
parse(struct mdir_uidlist *u, const char *s, size_t len)
{
	char err[256], *t;

	if ((t = malloc(len + 1)) == NULL)
		bail("out of memory");
	memcpy(t, s, len);
	if (mdir_uidlist_parse(u, t, len, err, sizeof(err)) != KP_OK)
		bail("mdir_uidlist_parse: %s", err);
}

/* The UIDL of base name name in u with format fmt, or "-" (none). */
static const char *
uidl_of(const struct mdir_uidlist *u, const char *name, const char *fmt)
{
	static char out[POP3_UIDL_MAX + 1];
	const struct mdir_urec *r;
	char err[256];

	if ((r = mdir_uidlist_find(u, name, strlen(name))) == NULL)
		return "-";
	if (mdir_uidlist_uidl(u, r, fmt, out, err, sizeof(err)) == -1)
		return "ERR";
	return out;
}

static const char v3[] =
    "3 V1796316760 N6 Gf8c3cb14589e116bdc18000083ecc375\n"
    "1 W34 P1796316760.1 :170000001.M1P1.host:2,S\n"
    "2 W34 :170000002.M1P1.host\n"
    "3 P :170000003.M1P1.host\n"
    "4 G00ff O2 :170000004.M1P1.host,S=10\n"
    "5 xbad Q9 :170000005.M1P1.host\n";

static void
test_parse(void)
{
	struct mdir_uidlist u;
	size_t cut, recs;
	char buf[MD_UIDLIST_LINE_MAX + 64];

	parse(&u, S(v3));
	is_int(u.version, 3, "v3: version");
	is_int(u.uidvalidity, 1796316760U, "v3: V");
	is_int(u.n, 5, "v3: five records");
	is_int(u.bad, 0, "v3: none bad");
	is_string(uidl_of(&u, "170000001.M1P1.host", "%u"), "1796316760.1",
	    "P: the saved UIDL, whatever the format");
	is_string(uidl_of(&u, "170000002.M1P1.host", "%08Xu%08Xv"),
	    "000000026b119e58", "no P: the format");
	is_string(uidl_of(&u, "170000003.M1P1.host", "%u"),
	    "170000003.M1P1.host", "P alone: the base name");
	is_string(uidl_of(&u, "170000004.M1P1.host,S=10", "%g"), "00ff",
	    "G for %%g");
	ok(u.recs[3].order == 2, "O read");
	is_string(uidl_of(&u, "170000005.M1P1.host", "%u"), "5",
	    "unknown fields skipped");
	is_string(uidl_of(&u, "170000009.M1P1.host", "%u"), "-",
	    "a name not listed");
	is_string(uidl_of(&u, "170000001.M1P1", "%u"), "-",
	    "a prefix of a name is not it");
	mdir_uidlist_free(&u);

	parse(&u, S("1 1234 9\n3 a.b\n7 c.d:2,\n"));
	is_int(u.version, 1, "v1: version");
	is_string(uidl_of(&u, "c.d", "%u/%v"), "7/1234", "v1: uid and V");
	mdir_uidlist_free(&u);

	parse(&u, S("3 N4 G00\n1 :a\n"));
	ok(u.unusable, "v3 without V: unusable");
	mdir_uidlist_free(&u);
	parse(&u, S("2 V1 N2\n1 :a\n"));
	ok(u.unusable, "version 2: unusable");
	mdir_uidlist_free(&u);
	parse(&u, S("3 V4294967296\n1 :a\n"));
	ok(u.unusable, "V past 32 bits: unusable");
	mdir_uidlist_free(&u);
	parse(&u, S(""));
	ok(u.unusable && u.n == 0, "empty: unusable");
	mdir_uidlist_free(&u);

	parse(&u, S("3 V9\n"
	    "2 :a\n"		/* fine */
	    "2 :b\n"		/* not above the last */
	    "1 :c\n"		/* below */
	    "x :d\n"		/* no number */
	    "0 :e\n"		/* zero */
	    "4294967295 :f\n"	/* (uint32_t)-1 */
	    "-5 :g\n"
	    "+6 :h\n"
	    "7 W1\n"		/* no file name */
	    "8 :\n"		/* an empty one */
	    "9 :x/y\n"		/* a path */
	    "10 :\0z\n"		/* a NUL */
	    "11 ::2,S\n"	/* an empty base name */
	    "12 :i\n"));
	is_int(u.n, 2, "broken lines left out, good ones kept");
	is_int(u.bad, 12, "and counted");
	is_int(u.first_bad, 3, "the first is line 3");
	is_string(uidl_of(&u, "i", "%u"), "12", "a good line after them");
	mdir_uidlist_free(&u);

	parse(&u, S("3 V9\n1 :a\n5 :b\n9 :a:2,S\n"));
	is_string(uidl_of(&u, "a", "%u"), "9",
	    "a name listed twice: the later UID, as Dovecot");
	mdir_uidlist_free(&u);

	parse(&u, S("3 V9\n1 P\x01\x7f :a\n2 P"
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "456789 :b\n"));
	ok(strchr(uidl_of(&u, "a", "%u"), '\x01') == NULL,
	    "a saved UIDL with control bytes made valid: %s",
	    uidl_of(&u, "a", "%u"));
	ok(strlen(uidl_of(&u, "b", "%u")) <= POP3_UIDL_MAX,
	    "a saved UIDL of 70+ bytes made valid");
	mdir_uidlist_free(&u);

	memset(buf, 'n', sizeof(buf));
	memcpy(buf, "3 V9\n1 :", 8);
	buf[sizeof(buf) - 1] = '\n';
	parse(&u, buf, sizeof(buf));
	is_int(u.n, 0, "a line over %d bytes left out", MD_UIDLIST_LINE_MAX);
	mdir_uidlist_free(&u);

	/* Cut anywhere: never more records than whole lines before it. */
	for (cut = 0, recs = 0; cut <= sizeof(v3) - 1; cut++) {
		parse(&u, v3, cut);
		if (u.n > 5)
			break;
		recs += u.n;
		mdir_uidlist_free(&u);
	}
	ok(cut == sizeof(v3), "cut at every byte: parsed sanely");
	ok(recs > 0, "and cuts after a record keep it");
}

/* ---- a Maildir ---- */

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
test_maildir(void)
{
	struct md_opts o = opts0;
	struct maildrop *md = NULL;
	char path[PATH_MAX], ul[PATH_MAX], *b;
	const char *want;
	size_t len;
	int st, i;

	util_snprintf(path, sizeof(path), "%s/Maildir", scratch);
	util_snprintf(ul, sizeof(ul), "%s/dovecot-uidlist", path);
	mkmaildir(path);
	/* Name order is not UID order: Dovecot's order must win. */
	put(path, "cur", "1700000002.M1P1.h:2,S", "two\n");
	put(path, "cur", "1700000001.M9P1.h:2,", "one\n");
	put(path, "new", "1700000001.M10P1.h", "three\n");
	put(path, "new", "1700000000.M5P1.h", "new after the switch\n");
	put_file(ul, S("3 V1796316750 N4 G00\n"
	    "1 W5 :1700000001.M9P1.h\n"
	    "2 :1700000002.M1P1.h:2,S\n"
	    "3 P :1700000001.M10P1.h\n"
	    "8 :1700000099.gone\n"));
	o.uidl_format = "dovecot:%08Xu%08Xv";
	want = "1:000000016b119e4e 2:000000026b119e4e "
	    "3:1700000001.M10P1.h 4:1700000000.M5P1.h";
	/*
	 * Fresh, then a tick later (the directories recorded in
	 * kpopd.cache), then from the cache's listing (maildir-t.c shows
	 * when each happens): the same every time.
	 */
	for (i = 0; i < 3; i++) {
		if (i > 0)
			usleep(100 * 1000);
		if (open_md(MD_MAILDIR, path, &o, &md) != KP_OK)
			bail("open");
		is_string(listing(md), want, "%s: Dovecot's order and UIDLs, "
		    "the file name for new mail", i == 0 ? "scanned" :
		    i == 1 ? "again" : "from kpopd.cache's listing");
		b = msg_bytes(md, 0, &len, &st);
		ok(st == KP_OK && len == 4 && memcmp(b, "one\n", 4) == 0,
		    "message 1 is UID 1's file");
		free(b);
		md_close(md);
		md = NULL;
	}
	o.uidl_format = "filename";
	if (open_md(MD_MAILDIR, path, &o, &md) != KP_OK)
		bail("open");
	is_string(listing(md), "1:1700000000.M5P1.h 2:1700000001.M10P1.h "
	    "3:1700000001.M9P1.h 4:1700000002.M1P1.h",
	    "uidl_format = filename: the names, in name order");
	md_close(md);
	md = NULL;

	o.uidl_format = "dovecot-saved";
	put_file(ul, S("3 N4\n1 :1700000001.M9P1.h\n"));
	if (open_md(MD_MAILDIR, path, &o, &md) != KP_OK)
		bail("open");
	ok(strstr(listing(md), "1700000001.M9P1.h") != NULL,
	    "a uidlist without V: the file names");
	md_close(md);
	md = NULL;

	if (unlink(ul) == -1 || symlink("/etc/passwd", ul) == -1)
		bail("symlink: %s", strerror(errno));
	is_int(md_open(MD_MAILDIR, path, &o, &md, (char [256]){ 0 }, 256),
	    KP_PERM, "a symlinked dovecot-uidlist refuses the maildrop");
	md_close(md);
	md = NULL;
	if (unlink(ul) == -1)
		bail("unlink: %s", strerror(errno));
	if (open_md(MD_MAILDIR, path, &o, &md) != KP_OK)
		bail("open");
	ok(md_count(md) == 4, "no dovecot-uidlist: served, names as UIDLs");
	md_close(md);
}

int
main(void)
{
	md_test_start("uidlist-t");
	test_formats();
	test_parse();
	test_maildir();
	md_test_end();
	return 0;
}
