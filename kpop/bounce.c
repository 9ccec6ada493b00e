/* SPDX-License-Identifier: MIT */
/*
 * kpop/bounce.c: on_permanent_failure = bounce (bounce.h): the delivery
 * status notification (RFC 3464, in an RFC 6522 multipart/report) for a
 * message an LMTP/SMTP server refused for good, written through
 * deliver.h's smtp: target with the null sender, as fetchmail bounces
 * what its smtphost refuses.  Which messages may be bounced at all
 * (never a bounce, never to an unknown sender) is decided here too.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "kpop/bounce.h"
#include "kpop/deliver.h"
#include "kpop/hdr.h"

/* A host name in Reporting-MTA and the From: address (DNS: 253). */
#define BOUNCE_HOST_MAX		256
/*
 * One piece of the DSN written at once: its fixed text (under 1 KiB)
 * with the longest names it holds (the sender and recipient, 256 bytes
 * each, the host names, cut to 256) and the reply (SMTP_REPLY_MAX).
 */
#define BOUNCE_CHUNK_MAX	8192
/* "MAILER-DAEMON": a sender that is itself a bounce. */
#define BOUNCE_DAEMON		"MAILER-DAEMON"

int
bounce_ok(const char *sender)
{
	size_t n = strlen(BOUNCE_DAEMON);

	if (sender == NULL || sender[0] == '\0')
		return 0;
	return !(strncasecmp(sender, BOUNCE_DAEMON, n) == 0 &&
	    (sender[n] == '\0' || sender[n] == '@'));
}

/* The DSN being written: a failure sticks. */
struct dsn {
	struct dlv	*h;
	int		 status;
};

static void KP_PRINTF(2, 3)
dsn_printf(struct dsn *d, const char *fmt, ...)
{
	char line[BOUNCE_CHUNK_MAX];
	va_list ap;
	int n;

	if (d->status != KP_OK)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Bounded by BOUNCE_CHUNK_MAX: a cut DSN is never sent. */
	if (n < 0 || (size_t)n >= sizeof(line))
		d->status = KP_PERM;
	else
		d->status = dlv_write(d->h, line, (size_t)n);
}

/*
 * The reply's enhanced status code (RFC 3463: "5.x.y" after the basic
 * code, x and y of 1-3 digits), or "5.0.0" if it has none, in out.
 */
static void
dsn_status(const char *reply, char *out, size_t outlen)
{
	size_t i = 6, n, part;

	(void)util_strlcpy(out, "5.0.0", outlen);
	if (reply == NULL || strlen(reply) < 6 || (reply[3] != ' ' &&
	    reply[3] != '-') || strncmp(reply + 4, "5.", 2) != 0)
		return;
	for (part = 0; part < 2; part++) {
		for (n = 0; reply[i + n] >= '0' && reply[i + n] <= '9'; n++)
			;
		if (n < 1 || n > 3)
			return;
		i += n;
		if (part == 0 && reply[i++] != '.')
			return;
	}
	if (reply[i] != '\0' && reply[i] != ' ')
		return;
	(void)util_snprintf(out, outlen, "%.*s", (int)(i - 4), reply + 4);
}

/* An RFC 5322 date, in English whatever the locale. */
static void
dsn_date(char *out, size_t outlen)
{
	static const char *const wday[] = { "Sun", "Mon", "Tue", "Wed",
	    "Thu", "Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	(void)util_snprintf(out, outlen, "%s, %02d %s %d %02d:%02d:%02d +0000",
	    wday[tm.tm_wday % 7], tm.tm_mday, mon[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The DSN itself: the message, LF line ends (the target makes CRLF). */
static void
dsn_write(struct dsn *d, const struct bounce *b, const char *host)
{
	char status[16], date[64], boundary[DLV_TOKEN_MAX + 16];
	const char *reply = b->reply != NULL && b->reply[0] != '\0' ?
	    b->reply : "554 5.0.0 (no reply text)";
	size_t end = hdr_end(b->header, b->hlen);
	/* The header part ends before its blank line (or is all of it). */
	size_t hl = end == 0 ? b->hlen : end - 1;

	dsn_status(b->reply, status, sizeof(status));
	dsn_date(date, sizeof(date));
	/* A token is [0-9A-Za-z_-]: fit for both. */
	(void)util_snprintf(boundary, sizeof(boundary), "=_kpop_%.*s",
	    DLV_TOKEN_MAX, b->id);
	dsn_printf(d, "From: Mail Delivery System <%s@%s>\n"
	    "To: <%s>\n"
	    "Subject: Undelivered Mail Returned to Sender\n"
	    "Date: %s\n"
	    "Message-ID: <%.*s.bounce@%s>\n"
	    "Auto-Submitted: auto-replied\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"%s\"\n"
	    "\n"
	    "This is a delivery status notification (RFC 3464) in MIME "
	    "format.\n\n", BOUNCE_DAEMON, host, b->sender, date,
	    DLV_TOKEN_MAX, b->id, host, boundary);
	dsn_printf(d, "--%s\n"
	    "Content-Type: text/plain; charset=us-ascii\n"
	    "Content-Description: Notification\n\n"
	    "kpop fetched a message for <%s> from the POP3 server %.256s\n"
	    "and could not deliver it: %.256s refused it for good.\n"
	    "Its reply was:\n\n"
	    "    %s\n\n"
	    "The message is not delivered and is deleted from the POP3 "
	    "server.\nIts header follows.\n\n", boundary, b->recipient,
	    b->pop_host, b->server, reply);
	dsn_printf(d, "--%s\n"
	    "Content-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; %s\n"
	    "Arrival-Date: %s\n\n"
	    "Final-Recipient: rfc822; %s\n"
	    "Action: failed\n"
	    "Status: %s\n"
	    "Diagnostic-Code: smtp; %s\n\n", boundary, host, date,
	    b->recipient, status, reply);
	dsn_printf(d, "--%s\n"
	    "Content-Type: text/rfc822-headers\n"
	    "Content-Description: The header of the undelivered message\n\n",
	    boundary);
	if (d->status == KP_OK && hl > 0)
		d->status = dlv_write(d->h, b->header, hl);
	dsn_printf(d, "%s\n--%s--\n", hl > 0 && b->header[hl - 1] != '\n' ?
	    "\n" : "", boundary);
}

int
bounce_send(const struct bounce *b, char *err, size_t errlen)
{
	struct dlv_target t;
	struct dlv_info info;
	struct dlv_where w;
	struct dsn d;
	char host[BOUNCE_HOST_MAX];
	int rc;

	if (!bounce_ok(b->sender)) {
		(void)util_snprintf(err, errlen, "no bounce to <%s>: it could "
		    "loop", b->sender != NULL ? b->sender : "");
		return KP_PERM;
	}
	if (b->id == NULL || !dlv_token_valid(b->id)) {
		(void)util_snprintf(err, errlen, "bad delivery token");
		return KP_PERM;
	}
	if ((rc = dlv_parse(b->via, &t, err, errlen)) != KP_OK)
		return rc;
	if (t.kind != DLV_SMTP) {
		(void)util_snprintf(err, errlen, "bounce_via %s: not "
		    "smtp:HOST[:PORT]", b->via);
		return KP_PERM;
	}
	if (gethostname(host, sizeof(host)) == -1 ||
	    memchr(host, '\0', sizeof(host)) == NULL || host[0] == '\0' ||
	    !dlv_smtp_address_ok(host))
		(void)util_strlcpy(host, "localhost", sizeof(host));
	memset(&info, 0, sizeof(info));
	info.sender = "";
	info.recipient = b->sender;
	info.timeout = b->timeout;
	if ((rc = dlv_open(&t, &info, &d.h, err, errlen)) != KP_OK)
		return rc;
	d.status = KP_OK;
	dsn_write(&d, b, host);
	if (d.status != KP_OK) {
		(void)util_snprintf(err, errlen, "%s", dlv_error(d.h)[0] !=
		    '\0' ? dlv_error(d.h) : "the DSN does not fit");
		rc = d.status;
		dlv_abort(d.h);
		return rc;
	}
	return dlv_commit(d.h, &w, err, errlen);
}
