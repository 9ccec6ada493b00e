/* SPDX-License-Identifier: MIT */
/*
 * tests/common/mech-t.c: tests for common/mech.c, the one parser of SASL
 * mechanism lists: blanks, tabs and commas separate, empty names do not
 * exist, names compare case-insensitively and whole, and a filtered copy
 * keeps only what fits.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "common/mech.h"
#include "tap/basic.h"

/* The names of list joined by '|', into out. */
static void
walk(const char *list, char *out, size_t outlen)
{
	const char *m;
	size_t n, used = 0;

	out[0] = '\0';
	while ((m = mech_next(&list, &n)) != NULL &&
	    used + n + 2 < outlen) {
		if (used > 0)
			out[used++] = '|';
		memcpy(out + used, m, n);
		used += n;
		out[used] = '\0';
	}
}

static int
no_plain(const char *m, size_t n, void *arg)
{
	int *calls = arg;

	(*calls)++;
	return !(n == 5 && strncasecmp(m, "PLAIN", 5) == 0);
}

int
main(void)
{
	char out[64];
	const char *p = "", *m;
	size_t n = 99;
	int calls = 0;

	plan(20);
	walk("GSSAPI SCRAM-SHA-256,PLAIN", out, sizeof(out));
	is_string("GSSAPI|SCRAM-SHA-256|PLAIN", out, "blank and comma");
	walk(" ,\tGSSAPI ,, PLAIN\t, ", out, sizeof(out));
	is_string("GSSAPI|PLAIN", out, "runs of separators, at both ends");
	walk(" , \t", out, sizeof(out));
	is_string("", out, "only separators: no names");
	m = mech_next(&p, &n);
	ok(m == NULL && n == 99 && *p == '\0', "empty list: NULL, len kept");
	p = "X";
	ok((m = mech_next(&p, &n)) != NULL && n == 1 && *p == '\0' &&
	    mech_next(&p, &n) == NULL, "one name, then the end");

	ok(mech_listed("GSSAPI PLAIN", "plain", 5), "listed, any case");
	ok(!mech_listed("GSSAPI PLAIN", "PLAI", 4), "a prefix is not a name");
	ok(!mech_listed("GSSAPI PLAINX", "PLAIN", 5), "nor a longer name");
	ok(!mech_listed("X-GSSAPI-FOO", "GSSAPI", 6), "nor a substring");
	ok(mech_listed("a,GSSAPI", "GSSAPI", 6), "after a comma");
	ok(!mech_listed("", "GSSAPI", 6), "not in an empty list");
	ok(mech_listed("SCRAM-SHA-1 X", "SCRAM-SHA-1-PLUS", 11),
	    "n bytes of mech are the name");
	ok(mech_password("plain", 5) && mech_password("LOGIN", 5),
	    "PLAIN and LOGIN send the password, any case");
	ok(!mech_password("PLAINX", 6) && !mech_password("PLAINX", 4),
	    "not a longer name, nor a prefix");
	ok(!mech_password("CRAM-MD5", 8) && !mech_password("GSSAPI", 6),
	    "CRAM-MD5 and GSSAPI do not");
	ok(!mech_password("SCRAM-SHA-256-PLUS", 18), "nor SCRAM");

	mech_filter("GSSAPI,plain SCRAM-SHA-1", no_plain, &calls, out,
	    sizeof(out));
	ok(strcmp(out, "GSSAPI SCRAM-SHA-1") == 0 && calls == 3,
	    "filtered: one blank between the kept names");
	mech_filter(" a , b ", NULL, NULL, out, sizeof(out));
	is_string("a b", out, "no filter keeps all");
	mech_filter("GSSAPI SCRAM-SHA-256 PLAIN", NULL, NULL, out, 13);
	is_string("GSSAPI PLAIN", out, "what does not fit whole is left out");
	memset(out, 'x', sizeof(out));
	mech_filter("GSSAPI", NULL, NULL, out, 6);
	is_string("", out, "nothing fits: empty, terminated");
	return 0;
}
