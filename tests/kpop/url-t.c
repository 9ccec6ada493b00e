/* SPDX-License-Identifier: MIT */
/*
 * tests/kpop/url-t.c: tests for kpop/url.c: RFC 2384 POP URLs with and
 * without user, AUTH and port, pops://, IPv6 literals, %-escapes, bare host
 * names; and every refusal (a password, a path, bad escapes, bad ports).
 */
#include "config.h"

#include <string.h>

#include "kpop/url.h"
#include "tap/basic.h"

struct good {
	const char	*url;
	int		 tls;
	const char	*host;
	unsigned int	 port;
	const char	*user;
	const char	*auth;
};

static const struct good goods[] = {
	{ "pop://mail.example.edu", 0, "mail.example.edu", 0, "", "" },
	{ "pop://mail.example.edu/", 0, "mail.example.edu", 0, "", "" },
	{ "POP://alice@mail.example.edu:1110", 0, "mail.example.edu", 1110,
	    "alice", "" },
	{ "pop://alice;AUTH=GSSAPI@host", 0, "host", 0, "alice", "GSSAPI" },
	{ "pop://alice;auth=*@host", 0, "host", 0, "alice", "*" },
	{ "pop://rg;AUTH=+APOP@mail.eudora.com:8110", 0, "mail.eudora.com",
	    8110, "rg", "+APOP" },
	{ "pop://;AUTH=+KPOP@host", 0, "host", 0, "", "+KPOP" },
	{ "pops://bob@[::1]:995", 1, "::1", 995, "bob", "" },
	{ "pop://%61lice%40EXAMPLE.EDU@host", 0, "host", 0,
	    "alice@EXAMPLE.EDU", "" },
	{ "mail.example.edu", 0, "mail.example.edu", 0, "", "" },
	{ "mail.example.edu:110", 0, "mail.example.edu", 110, "", "" },
	{ "127.0.0.1:2110", 0, "127.0.0.1", 2110, "", "" },
};

static const char *const bads[] = {
	"imap://host",			/* another scheme */
	"pop://alice:secret@host",	/* a password */
	"pop://host/INBOX",		/* a path */
	"pop://host?x",			/* a query */
	"pop://host#x",			/* a fragment */
	"pop://alice;XAUTH=GSSAPI@host",	/* not AUTH= */
	"pop://alice;AUTH=@host",	/* empty AUTH */
	"pop://a%4@host",		/* a cut escape */
	"pop://a%zz@host",		/* not hex */
	"pop://a%00b@host",		/* NUL */
	"pop://a%0ab@host",		/* a control character */
	"pop://host:0",			/* port 0 */
	"pop://host:65536",		/* too large */
	"pop://host:",			/* empty port */
	"pop://host:11a",		/* not a number */
	"pop://[::1",			/* unclosed bracket */
	"pop://[::1]x",			/* junk after it */
	"pop://",			/* no host */
	"pop://alice@",			/* no host */
	"pop://ho st",			/* a blank */
	"pop://h\xc3\xa9st",		/* not ASCII */
};

int
main(void)
{
	struct pop_url u;
	char err[256], longhost[300];
	size_t i;

	plan_lazy();
	for (i = 0; i < KP_NELEM(goods); i++) {
		const struct good *g = &goods[i];

		ok(url_parse(g->url, &u, err, sizeof(err)) == 0 &&
		    u.tls == g->tls && strcmp(u.host, g->host) == 0 &&
		    u.port == g->port && strcmp(u.user, g->user) == 0 &&
		    strcmp(u.auth, g->auth) == 0, "%s", g->url);
	}
	for (i = 0; i < KP_NELEM(bads); i++) {
		err[0] = '\0';
		ok(url_parse(bads[i], &u, err, sizeof(err)) == -1 &&
		    err[0] != '\0', "refused: %s (%s)", bads[i], err);
	}
	memset(longhost, 'a', 256);
	memcpy(longhost, "pop://", 6);
	longhost[256] = '\0';
	is_int(url_parse(longhost, &u, err, sizeof(err)), 0,
	    "a 250-character host name");
	memset(longhost, 'a', sizeof(longhost) - 1);
	memcpy(longhost, "pop://", 6);
	longhost[sizeof(longhost) - 1] = '\0';
	is_int(url_parse(longhost, &u, err, sizeof(err)), -1,
	    "a 293-character host name is too long");
	ok(url_parse("pop://alice@host", &u, err, sizeof(err)) == 0 &&
	    strstr(err, "password") == NULL, "no message when it parses");
	return 0;
}
