/* SPDX-License-Identifier: MIT */
/*
 * kpop/url.h: POP URLs (RFC 2384), "pop://user;AUTH=mech@host:port", and
 * "pops://" for implicit TLS (RFC 8314).  The user and the AUTH type are
 * %-decoded; AUTH is "*" (any), "+APOP", "+USER" (USER/PASS, kpop's own
 * spelling for what RFC 2384 leaves implicit), "+KPOP" (krb5 sendauth on
 * 1109) or a SASL mechanism name.  No path, query or fragment is allowed,
 * and no password: RFC 2384 has no place for one and kpop never takes a
 * password on the command line.
 */
#ifndef KPOP_URL_H
#define KPOP_URL_H

#include <stddef.h>

#include "common/util.h"

/* The longest URL parts kept (RFC 1035 names, RFC 4422 mechanisms). */
#define URL_HOST_MAX	255
#define URL_USER_MAX	255
#define URL_AUTH_MAX	20

struct pop_url {
	int		tls;	/* pops:// */
	char		host[URL_HOST_MAX + 1];	/* [brackets] removed */
	unsigned int	port;	/* 0: the scheme's default */
	char		user[URL_USER_MAX + 1];	/* "" when not given */
	char		auth[URL_AUTH_MAX + 1];	/* "" when not given */
};

/*
 * Parse s into u.  A bare host name ("mail.example.edu", "host:110") is
 * taken as pop://host.  Returns 0, or -1 with the reason in err.
 */
int	url_parse(const char *s, struct pop_url *u, char *err, size_t errlen)
	    KP_NONNULL(1, 2, 3) KP_WUR;

#endif
