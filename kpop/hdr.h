/* SPDX-License-Identifier: MIT */
/*
 * kpop/hdr.h: what kpop reads from and adds to a message's header: the
 * envelope sender from its Return-Path (checked, since anyone on the
 * internet writes it), the Received: line kpop prepends, and the
 * sender as a filter command's %F.
 *
 * A header here is the bytes the POP3 decoder hands out (LF line ends)
 * up to and including the blank line that ends it, or the whole of a
 * message that has none.  Nothing here prints or exits.
 */
#ifndef KPOP_HDR_H
#define KPOP_HDR_H

#include <stddef.h>
#include <time.h>

#include "common/util.h"

/*
 * The most of a message's header kpop holds back before it opens the
 * target, to read the envelope sender in it: far more than any real
 * header needs for its Return-Path (which the delivering MTA puts
 * first); past it the message is delivered with the sender unknown.
 */
#define HDR_CAPTURE_MAX		(64 * 1024)
/*
 * A Received: line kpop writes, with its folds: four lines of at most
 * HDR_FOLD_MAX columns.
 */
#define HDR_RECEIVED_MAX	512
/* Columns a line of a header kpop writes stays under (RFC 5322 s.2.1.1). */
#define HDR_FOLD_MAX		78
/*
 * Bytes of a host name that go into a Received: line: with a tab and a
 * word before it, a name must fit a folded line (DNS allows 253; longer
 * ones are written "unknown").
 */
#define HDR_HOST_MAX		63
/* A version or login method in its comment, for the same reason. */
#define HDR_WORD_MAX		24
/* The id of a Received: line: a delivery token (DLV_TOKEN_MAX). */
#define HDR_ID_MAX		64
/* An unfolded Return-Path field kpop reads (RFC 5321: a path is 256). */
#define HDR_PATH_FIELD_MAX	1024

/* What hdr_return_path finds. */
#define HDR_SENDER_NONE	0	/* no Return-Path, or one not usable */
#define HDR_SENDER_NULL	1	/* "<>": the null sender (a bounce) */
#define HDR_SENDER_ADDR	2	/* an address, in out */

/*
 * Where the header in buf (len bytes) ends: the offset just past its
 * blank line, or 0 if buf holds none (so far).  A buffer that starts
 * with a blank line ends at 1.
 */
size_t	hdr_end(const char *buf, size_t len) KP_NONNULL(1);

/*
 * The envelope sender from the first Return-Path field of the header
 * in buf: unfolded, comments dropped, the angle brackets and any source
 * route ("@a,@b:") taken off.  An address is used only if it is
 * local@domain, the local part of [A-Za-z0-9] and "._+=/-" (enough for
 * SRS, BATV and VERP), the domain of letters, digits, '.' and '-' or a
 * [literal] of those and ':', neither starting with '-' or '.', and
 * fits out (outlen, at most DLV_SENDER_MAX).  Quoted local parts,
 * blanks, controls, 8-bit bytes and every character the shell gives a
 * meaning ($ ` ' " \ ; & | < > ( ) * ? ! # ~ { } ^ %, and [ ] outside
 * a domain literal) are refused,
 * so what comes back is safe in a From_ line, an environment variable,
 * a command line and an SMTP MAIL FROM.  Returns
 * HDR_SENDER_ADDR with the address in out, HDR_SENDER_NULL with out
 * "", or HDR_SENDER_NONE with out "".
 */
int	hdr_return_path(const char *buf, size_t len, char *out,
	    size_t outlen) KP_NONNULL(1, 3);

/*
 * s (NULL or "": "MAILER-DAEMON") with every byte but [A-Za-z0-9] and
 * ".@_+/-" written '_', cut to fit out: mpop's %F.
 */
void	hdr_filter_sender(const char *s, char *out, size_t outlen)
	    KP_NONNULL(2);

/* What a Received: line says. */
struct hdr_received {
	const char	*from;		/* the POP3 server's host */
	const char	*by;		/* this host; NULL: gethostname() */
	const char	*with;		/* "POP3", "POP3S", "KPOP" */
	const char	*login;		/* the login method, or NULL */
	const char	*version;	/* kpop's version */
	const char	*id;		/* the delivery token */
	time_t		 when;
};

/*
 * The Received: line (RFC 5321 s.4.4) for r, folded so that no line
 * reaches HDR_FOLD_MAX columns, ending in LF, in out: "from HOST by
 * HOST (kpop VERSION, LOGIN) with PROTO id TOKEN; DATE".  A host name
 * that is not [A-Za-z0-9.-] (or an IPv6 address, written [IPv6:...])
 * is written "unknown"; the login method is kept to [A-Za-z0-9._+-]
 * and single blanks ("SASL GSSAPI").
 * Returns its length, or 0 if it does not fit.
 */
size_t	hdr_received(const struct hdr_received *r, char *out, size_t outlen)
	    KP_NONNULL(1, 2);

#endif
