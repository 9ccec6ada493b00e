/* SPDX-License-Identifier: MIT */
/*
 * tests/kpopd/template-t.c: tests for kpopd/template.c and the name
 * check of kpopd/user.c, the two pieces that turn what a client sends
 * into a path: %u, %l, %d, %h and ~/ expand as kpopd.conf(5) says, the
 * trusted prefix is the administrator's part and no more, an unknown or
 * cut-off %-sequence and an overlong result are refused, and a login
 * name that could walk a path (a slash, a leading dot or dash, a '%',
 * bad UTF-8, a control character) is not a user name.
 */
#include "config.h"

#include <string.h>

#include "kpopd/template.h"
#include "kpopd/user.h"
#include "tap/basic.h"

static char out[256];
static size_t trusted;

static int
expand(const char *tmpl, const char *user)
{
	trusted = 999;
	return template_expand(tmpl, user, "/home/alice", out, sizeof(out),
	    &trusted);
}

int
main(void)
{
	char big[300];

	plan(22);
	ok(expand("/var/mail/%u", "alice") == 0 &&
	    strcmp(out, "/var/mail/alice") == 0, "%%u");
	is_int((long long)trusted, 9, "... /var/mail is trusted");
	ok(expand("~/Maildir", "alice") == 0 &&
	    strcmp(out, "/home/alice/Maildir") == 0, "~/");
	is_int((long long)trusted, 11, "... the home directory is trusted");
	ok(expand("%h/Maildir", "alice") == 0 &&
	    strcmp(out, "/home/alice/Maildir") == 0 && trusted == 11,
	    "a leading %%h: the home directory, trusted");
	ok(expand("/srv/mail/%d/%l/Maildir", "bob@example.org") == 0 &&
	    strcmp(out, "/srv/mail/example.org/bob/Maildir") == 0,
	    "%%d and %%l split at '@'");
	is_int((long long)trusted, 9, "... up to the first user-dependent "
	    "directory");
	ok(expand("/srv/%l+%d", "carol+lists") == 0 &&
	    strcmp(out, "/srv/carol+lists") == 0, "'+' splits too");
	ok(expand("/srv/%u-mail", "alice") == 0 &&
	    strcmp(out, "/srv/alice-mail") == 0 && trusted == 4,
	    "a name inside a component: its directory is the trusted part");
	ok(expand("/srv/mail/%d", "dave") == 0 &&
	    strcmp(out, "/srv/mail/") == 0, "%%d without a domain is empty");
	ok(expand("/var/mail/shared", "alice") == 0 && trusted == 0,
	    "nothing user-dependent: nothing trusted");
	ok(expand("/var/100%%/%u", "alice") == 0 &&
	    strcmp(out, "/var/100%/alice") == 0 && trusted == 9,
	    "%%%% is a percent sign, not user-dependent");
	is_int(expand("/var/mail/%x", "alice"), -1, "an unknown %%-sequence");
	is_int(expand("/var/mail/%", "alice"), -1, "a cut-off %%");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	is_int(expand("/var/mail/%u", big), -1, "too long for out");
	is_int(template_expand("/m/%u", "alice", "/h", out, 9, NULL), 0,
	    "exactly fits, no trusted wanted");

	ok(user_name_ok("alice") && user_name_ok("bob@example.org") &&
	    user_name_ok("a.b-c_d+e"), "ordinary names");
	ok(user_name_ok("j\xc3\xb6rg") && user_name_ok("\xe6\x97\xa5"),
	    "UTF-8 (RFC 6856)");
	ok(!user_name_ok("") && !user_name_ok(".alice") &&
	    !user_name_ok("-alice"), "empty, leading dot or dash");
	ok(!user_name_ok("../bob") && !user_name_ok("a/b") &&
	    !user_name_ok("a%u") && !user_name_ok("a\\b"),
	    "path separators and template characters");
	ok(!user_name_ok("j\xc3") && !user_name_ok("\xc0\xaf") &&
	    !user_name_ok("\xf5\x80\x80\x80") && !user_name_ok("a\xffz"),
	    "cut-off, overlong or impossible UTF-8");
	ok(!user_name_ok("a\tb") && !user_name_ok("a\x7f") &&
	    !user_name_ok(big), "control characters, DEL, too long");
	return 0;
}
