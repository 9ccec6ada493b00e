/* SPDX-License-Identifier: MIT */
/*
 * kpop/bounce.h: on_permanent_failure = bounce: the delivery status
 * notification (RFC 3464) kpop sends to a refused message's envelope
 * sender, from the null sender, through an SMTP server (deliver.h's
 * smtp: target, the one LMTP/SMTP client).
 */
#ifndef KPOP_BOUNCE_H
#define KPOP_BOUNCE_H

#include <stddef.h>

#include "common/util.h"

/* What a bounce says, and where it goes. */
struct bounce {
	const char	*via;		/* "smtp:HOST[:PORT]" (bounce_via) */
	const char	*sender;	/* the refused message's envelope
					   sender: the DSN's recipient */
	const char	*recipient;	/* whom it was for (Final-Recipient) */
	const char	*server;	/* the target that refused it */
	const char	*reply;		/* its reply ("550 5.7.1 ..."), or
					   NULL or "" if none came */
	const char	*pop_host;	/* the POP3 server it came from */
	const char	*header;	/* its header, LF line ends */
	size_t		 hlen;
	unsigned int	 timeout;	/* deliver.h dlv_info's */
	const char	*id;		/* its delivery token: makes the
					   Message-ID and MIME boundary */
};

/*
 * Whether a bounce to sender could not loop: NULL (unknown), "" (the
 * null sender, itself a bounce) and a MAILER-DAEMON (any case, with or
 * without a domain) get none.
 */
int	bounce_ok(const char *sender);

/*
 * Send the DSN: multipart/report (report-type=delivery-status) with a
 * text/plain part, a message/delivery-status part (Reporting-MTA,
 * Final-Recipient, Action: failed, Status from the reply's enhanced
 * code, else 5.0.0, Diagnostic-Code: smtp; the reply) and a
 * text/rfc822-headers part with b->header, by MAIL FROM:<> to
 * b->sender through b->via.  Returns KP_OK once the server said 250 to
 * it, else KP_TEMP or KP_PERM with err set.
 */
int	bounce_send(const struct bounce *b, char *err, size_t errlen)
	    KP_NONNULL(1, 2) KP_WUR;

#endif
