/* SPDX-License-Identifier: MIT */
/*
 * common/sendauth.h: the framing of MIT krb5 sendauth/recvauth as KPOP
 * (TCP 1109) uses it, parsed with explicit bounds over an io (io.h), so a
 * confused or hostile peer fails fast instead of hanging or overrunning.
 *
 *   client: len "KRB5_SENDAUTH_V1.0\0"  len "KPOPV1.0\0"
 *   server: one byte: 0 accepted, 1 sendauth version, 2 application
 *           version mismatch (then the server closes)
 *   client: len AP-REQ
 *   server: len 0 (accepted) or len KRB-ERROR; then, if the client asked
 *           for mutual authentication, len AP-REP
 *
 * Lengths are 4 bytes, big-endian.  Only the framing is here; the
 * Kerberos checks are the caller's (kpopd's monitor).
 */
#ifndef KPOP_SENDAUTH_H
#define KPOP_SENDAUTH_H

#include <stddef.h>

#include "common/io.h"

#define SENDAUTH_VERSION	"KRB5_SENDAUTH_V1.0"
#define KPOP_APPL_VERSION	"KPOPV1.0"

enum sendauth_status {
	SA_OK = 0,
	SA_KRB4 = -1,		/* a Kerberos 4 client ("AUTHV0.1") */
	SA_VERSION = -2,	/* sendauth or application version mismatch
				   (the refusal byte has been sent) */
	SA_BAD = -3,		/* malformed framing: a length out of bounds,
				   text where a length belongs */
	SA_IO = -4		/* EOF, timeout or I/O error (io_error()) */
};

/*
 * Server: read the client's two version strings, check them against
 * SENDAUTH_VERSION and appl_version, and answer with the status byte.
 * Returns an enum sendauth_status, with a message in err.
 */
int	sendauth_accept(struct io *, const char *appl_version, char *err,
	    size_t errlen) KP_NONNULL(1, 2, 3) KP_WUR;

/*
 * Read one length-prefixed block of at most max bytes into buf (*lenp
 * its length).  Returns SA_OK, SA_BAD (over max) or SA_IO.
 */
int	sendauth_read_block(struct io *, void *buf, size_t max, size_t *lenp,
	    char *err, size_t errlen) KP_NONNULL(1, 2, 4, 5) KP_WUR;

/*
 * Queue one length-prefixed block (a zero length for none).  Returns an
 * io_status.
 */
int	sendauth_write_block(struct io *, const void *, size_t) KP_NONNULL(1);

/*
 * Client: send both version strings and read the server's status byte.
 * Returns SA_OK, SA_VERSION (the server refused a version), SA_BAD (an
 * unknown status byte: not a KPOP server) or SA_IO, with err set.
 */
int	sendauth_hello(struct io *, const char *appl_version, char *err,
	    size_t errlen) KP_NONNULL(1, 2, 3) KP_WUR;

#endif
