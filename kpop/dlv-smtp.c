/* SPDX-License-Identifier: MIT */
/*
 * kpop/dlv-smtp.c: delivery to an LMTP (RFC 2033) or SMTP (RFC 5321)
 * server (deliver.h, dlv-int.h): one client for both, LHLO or EHLO, one
 * command at a time (PIPELINING is not needed), multi-line replies read
 * within bounds (common/limits.h), the message dot-stuffed with CRLF line
 * ends by common/pop3.c's encoder (DATA's format is POP3's multi-line
 * body), and a deadline on every read and write (common/io.c).  One
 * connection per message: opened with the envelope by dlv_open, judged
 * by the reply to the final "." in dlv_commit, which returns as soon as
 * that reply is read (QUIT is sent, its answer not waited for), so that
 * the caller journals the delivery at once.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/dial.h"
#include "common/io.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/pop3.h"
#include "common/util.h"
#include "kpop/deliver.h"
#include "kpop/dlv-int.h"

/* A host name or address in a target, as getaddrinfo takes it. */
#define SMTP_HOST_MAX		256
/* The SMTP port when smtp:HOST names none. */
#define SMTP_PORT		25

struct dlv_smtp {
	struct io	*io;
	struct pop3_enc	 enc;
	int		 lmtp;
	int		 eightbit;	/* the server offers 8BITMIME */
	char		 peer[DLV_ARG_MAX + 8];	/* "lmtp HOST:PORT" */
	char		 line[SMTP_REPLY_MAX];	/* the last reply's text */
	char		*reply;		/* dlv_info's: a refusal's line */
	size_t		 replylen;
};

/* ---- the server's address ---- */

int
dlv_smtp_addr(enum dlv_kind kind, const char *arg, char *host,
    size_t hostlen, unsigned int *port, char *err, size_t errlen)
{
	const char *name = kind == DLV_LMTP ? "lmtp" : "smtp", *end, *p;
	unsigned long long n;
	size_t hl;

	*port = 0;
	if (kind == DLV_LMTP && arg[0] == '/') {
		if (util_strlcpy(host, arg, hostlen) == -1) {
			(void)util_snprintf(err, errlen, "%s:%.64s...: socket "
			    "path too long", name, arg);
			return KP_PERM;
		}
		return KP_OK;
	}
	if (arg[0] == '[') {
		if ((end = strchr(arg, ']')) == NULL) {
			(void)util_snprintf(err, errlen, "%s:%s: no ']' after "
			    "the IPv6 address", name, arg);
			return KP_PERM;
		}
		p = arg + 1;
		hl = (size_t)(end - p);
		end++;
	} else {
		p = arg;
		end = strchr(arg, ':');
		if (end != NULL && strchr(end + 1, ':') != NULL) {
			(void)util_snprintf(err, errlen, "%s:%s: put an IPv6 "
			    "address in brackets: %s:[ADDRESS]:PORT", name, arg,
			    name);
			return KP_PERM;
		}
		if (end == NULL)
			end = arg + strlen(arg);
		hl = (size_t)(end - p);
	}
	if (hl == 0 || hl >= hostlen || memchr(p, '/', hl) != NULL) {
		(void)util_snprintf(err, errlen, "%s:%s: %s", name, arg,
		    hl == 0 ? "no host" : hl >= hostlen ? "host name too long" :
		    "not a host name");
		return KP_PERM;
	}
	memcpy(host, p, hl);
	host[hl] = '\0';
	if (*end == '\0' && kind == DLV_SMTP) {
		*port = SMTP_PORT;
		return KP_OK;
	}
	if (*end != ':' || util_parse_uint(end + 1, strlen(end + 1), 65535,
	    &n) == -1 || n == 0) {
		(void)util_snprintf(err, errlen, "%s:%s: %s", name, arg,
		    kind == DLV_LMTP ? "say lmtp:HOST:PORT or lmtp:/SOCKET "
		    "(LMTP has no default port)" : "say smtp:HOST or "
		    "smtp:HOST:PORT, a port 1-65535");
		return KP_PERM;
	}
	*port = (unsigned int)n;
	return KP_OK;
}

/* ---- replies ---- */

/*
 * What a reply code means for the message: a 5xx is KP_PERM only where
 * it judges the message (MAIL FROM, DATA, its end).  One to the
 * greeting, LHLO/EHLO or RCPT TO refuses the session or the recipient,
 * every message alike: KP_TEMP, so the fetch stops and nothing is
 * deleted by on_permanent_failure = delete or bounce.
 */
static int
smtp_class(int code)
{
	return code >= 500 ? KP_PERM : KP_TEMP;
}

/* A reply that refuses the message for good: its line to the caller. */
static int
smtp_refusal(struct dlv *h, int code)
{
	struct dlv_smtp *s = h->smtp;

	if (code >= 500 && s->reply != NULL && s->replylen > 0)
		(void)util_strlcpy(s->reply, s->line, s->replylen);
	return smtp_class(code);
}

/*
 * Read one reply, every line of it (at most SMTP_REPLY_LINES_MAX, each
 * under SMTP_REPLY_MAX): its code (200-599, the same on every line), or
 * -1 with the handle's failure set (KP_TEMP: the server hung up, timed
 * out or broke the protocol).  The first line's text, printable, is kept
 * in s->line; with ext, 8BITMIME in an EHLO's lines is noted.
 */
static int
smtp_reply(struct dlv *h, const char *after, int ext)
{
	struct dlv_smtp *s = h->smtp;
	char buf[SMTP_REPLY_MAX];
	unsigned long long c;
	size_t len, i;
	int code = -1, st;

	for (i = 0; i < SMTP_REPLY_LINES_MAX; i++) {
		st = io_readline(s->io, buf, sizeof(buf), &len);
		if (st == IO_TOOLONG)
			return dlv_io_fail(h, KP_TEMP, "%s: a reply line %s "
			    "longer than %d bytes", s->peer, after,
			    SMTP_REPLY_MAX), -1;
		if (st != IO_OK)
			return dlv_io_fail(h, KP_TEMP, "%s: no reply %s: %s",
			    s->peer, after, st == IO_EOF ? "the server closed "
			    "the connection" : io_error(s->io)), -1;
		if (len < 3 || util_parse_uint(buf, 3, 599, &c) == -1 ||
		    c < 200 || (len > 3 && buf[3] != ' ' && buf[3] != '-') ||
		    (code != -1 && (int)c != code)) {
			(void)log_printable(s->line, sizeof(s->line), buf, len);
			return dlv_io_fail(h, KP_TEMP, "%s: not an SMTP reply "
			    "%s: \"%s\"", s->peer, after, s->line), -1;
		}
		if (code == -1)
			(void)log_printable(s->line, sizeof(s->line), buf, len);
		code = (int)c;
		if (ext && len >= 12 && strncasecmp(buf + 4, "8BITMIME", 8) ==
		    0 && (len == 12 || buf[12] == ' '))
			s->eightbit = 1;
		if (len == 3 || buf[3] == ' ')
			return code;
	}
	return dlv_io_fail(h, KP_TEMP, "%s: a reply %s of more than %d lines",
	    s->peer, after, SMTP_REPLY_LINES_MAX), -1;
}

/* Send one command; KP_OK, or the handle's failure. */
static int
smtp_send(struct dlv *h, const char *what, const char *arg)
{
	struct dlv_smtp *s = h->smtp;

	if (io_printf(s->io, "%s%s\r\n", what, arg) != IO_OK ||
	    io_flush(s->io) != IO_OK)
		return dlv_io_fail(h, KP_TEMP, "%s: cannot send %s: %s",
		    s->peer, what, io_error(s->io));
	return KP_OK;
}

/*
 * Send a command and read its reply, which must be want (or, with want
 * 250, any 2xx).  KP_OK, or the failure: 4xx KP_TEMP, 5xx KP_PERM if
 * perm (the reply judges the message), else KP_TEMP.
 */
static int
smtp_cmd(struct dlv *h, const char *what, const char *arg, int want,
    int perm)
{
	struct dlv_smtp *s = h->smtp;
	char after[64];
	int code;

	if (smtp_send(h, what, arg) != KP_OK)
		return h->status;
	(void)util_snprintf(after, sizeof(after), "to %s", what);
	if ((code = smtp_reply(h, after, 0)) == -1)
		return h->status;
	if (code == want || (want == 250 && code / 100 == 2))
		return KP_OK;
	return dlv_io_fail(h, perm ? smtp_refusal(h, code) : KP_TEMP,
	    "%s: %s%s refused: %s%s", s->peer, what, arg, s->line,
	    !perm && code >= 500 ? " (for every message: kpop stops)" : "");
}

/* ---- the target ---- */

int
dlv_smtp_address_ok(const char *a)
{
	size_t i;

	for (i = 0; a[i] != '\0'; i++)
		if (a[i] <= ' ' || a[i] > '~' || a[i] == '<' || a[i] == '>' ||
		    i >= DLV_SENDER_MAX)
			return 0;
	return 1;
}

/* The name we give in LHLO/EHLO. */
static void
smtp_helo_name(char *out, size_t outlen)
{
	/* POSIX leaves a truncated name without its NUL. */
	if (gethostname(out, outlen) == -1 || memchr(out, '\0', outlen) ==
	    NULL || out[0] == '\0' || !dlv_smtp_address_ok(out))
		(void)util_strlcpy(out, "localhost", outlen);
}

static int
dlv_smtp_open(struct dlv *h, const struct dlv_info *info)
{
	struct dlv_smtp *s;
	char host[SMTP_HOST_MAX], err[DLV_ERR_MAX], arg[DLV_SENDER_MAX + 32];
	char helo[SMTP_HELO_MAX];
	const char *sender = info->sender != NULL &&
	    dlv_smtp_address_ok(info->sender) ? info->sender : "";
	unsigned int port, timeout = info->timeout ? info->timeout :
	    DLV_SMTP_TIMEOUT;
	int fd, code, lmtp = h->w.kind == DLV_LMTP;

	/* Checked with the settings (account.c): only a server's 5xx may
	   be KP_PERM, which on_permanent_failure = delete acts on. */
	if (info->recipient == NULL || info->recipient[0] == '\0' ||
	    !dlv_smtp_address_ok(info->recipient))
		return dlv_io_fail(h, KP_TEMP, "%s:%s: the recipient \"%s\" "
		    "is not a usable address", lmtp ? "lmtp" : "smtp",
		    h->w.arg, info->recipient != NULL ? info->recipient : "");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return dlv_io_fail(h, KP_TEMP, "out of memory");
	h->smtp = s;
	s->lmtp = lmtp;
	s->reply = info->reply;
	s->replylen = info->replylen;
	(void)util_snprintf(s->peer, sizeof(s->peer), "%s %s",
	    lmtp ? "lmtp" : "smtp", h->w.arg);
	if (dlv_smtp_addr(h->w.kind, h->w.arg, host, sizeof(host), &port,
	    err, sizeof(err)) != KP_OK)
		return dlv_io_fail(h, KP_TEMP, "%s", err);
	fd = port == 0 ? dial_unix(host, err, sizeof(err)) :
	    dial_tcp(host, port, (int)timeout * 1000, err, sizeof(err));
	if (fd == -1)
		return dlv_io_fail(h, KP_TEMP, "%s: %s", s->peer, err);
	if ((s->io = io_new(fd)) == NULL) {
		(void)close(fd);
		return dlv_io_fail(h, KP_TEMP, "out of memory");
	}
	io_set_timeout(s->io, (int)timeout * 1000);
	if ((code = smtp_reply(h, "for a greeting", 0)) == -1)
		return h->status;
	if (code != 220)
		return dlv_io_fail(h, KP_TEMP, "%s: the server "
		    "refused the connection: %s", s->peer, s->line);
	smtp_helo_name(helo, sizeof(helo));
	if (smtp_send(h, lmtp ? "LHLO " : "EHLO ", helo) != KP_OK ||
	    (code = smtp_reply(h, lmtp ? "to LHLO" : "to EHLO", 1)) == -1)
		return h->status;
	/* An SMTP server from before RFC 1869 knows only HELO. */
	if (code / 100 == 5 && !lmtp && smtp_cmd(h, "HELO ", helo, 250, 0) !=
	    KP_OK)
		return h->status;
	if (code / 100 != 2 && (lmtp || code / 100 != 5))
		return dlv_io_fail(h, KP_TEMP, "%s: %s refused: %s",
		    s->peer, lmtp ? "LHLO" : "EHLO", s->line);
	(void)util_snprintf(arg, sizeof(arg), "<%s>%s", sender, s->eightbit ?
	    " BODY=8BITMIME" : "");
	if (smtp_cmd(h, "MAIL FROM:", arg, 250, 1) != KP_OK)
		return h->status;
	(void)util_snprintf(arg, sizeof(arg), "<%s>", info->recipient);
	if (smtp_cmd(h, "RCPT TO:", arg, 250, 0) != KP_OK ||
	    smtp_cmd(h, "DATA", "", 354, 1) != KP_OK)
		return h->status;
	pop3_enc_init(&s->enc, -1);
	return KP_OK;
}

/* The encoder's sink: the connection. */
static int
smtp_put(void *arg, const void *buf, size_t len)
{
	struct dlv *h = arg;

	if (io_write(h->smtp->io, buf, len) != IO_OK) {
		(void)dlv_io_fail(h, KP_TEMP, "%s: cannot send the message: "
		    "%s", h->smtp->peer, io_error(h->smtp->io));
		return -1;
	}
	h->out += len;
	return 0;
}

/* The message, dot-stuffed with CRLF line ends. */
static void
dlv_smtp_write(struct dlv *h, const unsigned char *buf, size_t len)
{
	(void)pop3_enc_feed(&h->smtp->enc, buf, len, smtp_put, h);
}

/* All but the final ".": written, not yet delivered. */
static int
dlv_smtp_prepare(struct dlv *h)
{
	struct dlv_smtp *s = h->smtp;

	if (io_flush(s->io) != IO_OK)
		return dlv_io_fail(h, KP_TEMP, "%s: cannot send the message: "
		    "%s", s->peer, io_error(s->io));
	return KP_OK;
}

/*
 * The final "." and its reply (LMTP: the one recipient's).  A reply that
 * never comes may follow a delivery: the message says so.
 */
static int
dlv_smtp_commit(struct dlv *h, int status)
{
	struct dlv_smtp *s = h->smtp;
	int code;

	if (status != KP_OK)
		return status;
	if (pop3_enc_end(&s->enc, smtp_put, h) == -1 ||
	    io_flush(s->io) != IO_OK)
		return dlv_io_fail(h, KP_TEMP, "%s: cannot send the message's "
		    "end: %s", s->peer, io_error(s->io));
	if ((code = smtp_reply(h, "to the message's end (the server may "
	    "have it; it will be delivered again)", 0)) == -1)
		return h->status;
	if (code / 100 != 2)
		return dlv_io_fail(h, smtp_refusal(h, code), "%s: the "
		    "message was refused: %s", s->peer, s->line);
	/* Delivered: say goodbye, but wait for nothing. */
	io_set_timeout(s->io, 0);
	(void)io_puts(s->io, "QUIT\r\n");
	(void)io_flush(s->io);
	return KP_OK;
}

/* Hang up: a message without its final "." is dropped by the server. */
static void
dlv_smtp_release(struct dlv *h)
{
	if (h->smtp == NULL)
		return;
	if (h->smtp->io != NULL)
		io_free(h->smtp->io);
	free(h->smtp);
	h->smtp = NULL;
}

const struct dlv_ops dlv_smtp_ops = {
	.kind = DLV_SMTP,
	.label = "LMTP/SMTP server",
	.pipe = 0,
	.open = dlv_smtp_open,
	.write = dlv_smtp_write,
	.prepare = dlv_smtp_prepare,
	.commit = dlv_smtp_commit,
	.release = dlv_smtp_release,
};
