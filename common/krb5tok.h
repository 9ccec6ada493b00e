/* SPDX-License-Identifier: MIT */
/*
 * common/krb5tok.h: the service principal a client's Kerberos token asks
 * for, read straight from the DER without a key, so that kpopd can log
 * "the client asked for pop/mail.example.edu@EXAMPLE.EDU" when a GSSAPI
 * or KPOP login fails (the usual cause: the client used a host name the
 * keytab has no key for).  The ticket's sname and realm are in the clear
 * (RFC 4120 s.5.3); no public MIT API decodes an AP-REQ without the key,
 * so this is a small strict walker of its own.
 *
 * It walks a fixed schema, never recursing, so nesting is bounded by the
 * schema itself (eleven levels from the GSS-API token to a name component).
 */
#ifndef KPOP_KRB5TOK_H
#define KPOP_KRB5TOK_H

#include <stddef.h>

#include "common/util.h"

/*
 * Name components accepted: real service principals have two
 * (service/host), krbtgt and a few others three; ten is generous and
 * still bounds the work a hostile token makes us do.
 */
#define KRB5TOK_COMPONENTS_MAX	10
/*
 * Length bytes in a long-form DER length: four reach 4 GiB, far past any
 * token kpopd reads (SASL_TOKEN_MAX), and keep the value within 32 bits.
 */
#define KRB5TOK_LENLEN_MAX	4
/*
 * A buffer this size holds the name of any real service: a 253-byte DNS
 * host name and a realm as long, with room to spare for a few escapes.
 */
#define KRB5TOK_NAME_MAX	1024

/*
 * The service principal a Kerberos token was made for, as "a/b@REALM"
 * (components joined with '/', the realm after '@'), from either a raw
 * KRB_AP_REQ (RFC 4120 s.5.5.1, as KPOP sends) or a GSS-API initial
 * context token for the krb5 mechanism (RFC 1964 s.1.1, RFC 4121 s.4.1:
 * [APPLICATION 0] { OID 1.2.840.113554.1.2.2, TOK_ID 01 00, AP-REQ }) as
 * AUTH GSSAPI sends; SPNEGO is not unwrapped.  pvno, msg-type and tkt-vno
 * must be 5, 14 and 5, every length definite, minimal and within its
 * parent, and the token exactly len bytes long.
 *
 * The result is safe to log: bytes outside 0x20-0x7e, and the '/', '@'
 * and '\' that would make it ambiguous, are written as \xNN (lowercase).
 *
 * Returns 0 with the name, NUL-terminated, in out; or -1 if the bytes are
 * not such a token or the name does not fit in outlen bytes (out is then
 * "", never a partial name).  Never reads past tok + len.
 */
int	krb5tok_sname(const void *tok, size_t len, char *out, size_t outlen)
	    KP_NONNULL(1, 3) KP_WUR;

#endif
