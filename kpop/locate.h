/*
 * kpop/locate.h: finding a user's post office when no server is given,
 * as Athena sites do: the user's Hesiod "pobox" entry (hesiod_getmailhost,
 * when kpop is built with libhesiod), else DNS SRV records for the
 * host's domain (RFC 6186: _pop3s._tcp first, then _pop3._tcp), else an
 * error that says what was tried.
 */
#ifndef KPOP_LOCATE_H
#define KPOP_LOCATE_H

#include <stddef.h>

#include "common/util.h"

/*
 * The post office of user: "host" (port 110) or, from a _pop3s SRV
 * record, "pops://host:port", or from a _pop3 one "host:port".  0, or -1
 * with err set.
 */
int	locate_pobox(const char *user, char *out, size_t outlen, char *err,
	    size_t errlen) KP_NONNULL(1, 2, 4) KP_WUR;

#endif
