/* SPDX-License-Identifier: MIT */
/*
 * kpop/locate.h: finding a user's post office when no server is given,
 * as Athena sites do: the user's Hesiod "pobox" entry (hesiod_getmailhost,
 * when kpop is built with libhesiod), else DNS SRV records for the
 * host's domain (RFC 6186: _pop3s._tcp first, then _pop3._tcp), else an
 * error that says what was tried.  It also says whom the post office's
 * TLS certificate must name, since an SRV answer is no proof of identity
 * (RFC 6186 s.6).
 */
#ifndef KPOP_LOCATE_H
#define KPOP_LOCATE_H

#include <stddef.h>

#include "common/util.h"

/* A host or domain name kept (DNS names are 253 octets at most). */
#define LOCATE_NAME_MAX		256

struct locate_po {
	char		host[LOCATE_NAME_MAX];	/* where to connect */
	unsigned int	port;		/* 0: the default (110) */
	int		implicit_tls;	/* from _pop3s._tcp: TLS from the start */
	/*
	 * The name the certificate must carry.  Hesiod: the pobox host (the
	 * Athena model trusts Hesiod for it).  SRV: the target when it is
	 * the domain the record was found in or a name inside it (the
	 * domain's owner named it, and a CA vouches for names in the
	 * domain only to that owner), or when trust_target is set; else
	 * the domain itself, as RFC 6186 s.6 says.
	 */
	char		tls_name[LOCATE_NAME_MAX];
	char		user[LOCATE_NAME_MAX];	/* Hesiod: the pobox's login
						   name; "" from SRV */
	char		source[LOCATE_NAME_MAX + 16];	/* for messages:
					"Hesiod" or the SRV record's name */
};

/*
 * The post office of user into *po.  0, or -1 with err set (nothing
 * found, or an SRV record found outside every domain, with nothing to
 * check its certificate against).
 */
int	locate_pobox(const char *user, int trust_target, struct locate_po *po,
	    char *err, size_t errlen) KP_NONNULL(1, 3, 4) KP_WUR;

/*
 * Whether name is domain or a name inside it (case-insensitive, a final
 * dot ignored on either); an empty domain contains nothing.
 */
int	locate_in_domain(const char *name, const char *domain)
	    KP_NONNULL(1, 2);

#endif
