/* SPDX-License-Identifier: MIT */
/*
 * kpop/client.c: one POP3 session as a client (client.h): connecting,
 * TLS, the line layer (commands, responses, the -d trace), greeting and
 * CAPA, and the transactions a fetch needs.  The logins are in
 * client-auth.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/dial.h"
#include "common/log.h"
#include "common/sasl.h"
#include "common/tls.h"
#include "kpop/client.h"
#include "kpop/client-int.h"

/* Set p->err; returns st. */
int
pop_fail(struct pop *p, int st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	return st;
}

/*
 * What a server sent, as it may reach the user's terminal: printable
 * ASCII, control bytes escaped (log.h), so that no escape sequence of
 * the server's passes.  Returns buf.
 */
const char *
pop_shown(char *buf, size_t buflen, const char *s, size_t len)
{
	(void)log_printable(buf, buflen, s, len);
	return buf;
}

static void
trace(struct pop *p, const char *dir, const char *line, size_t len)
{
	char shown[POP_LINE_MAX * 4 + 1];

	if (!p->trace)
		return;
	(void)log_printable(shown, sizeof(shown), line, len);
	fprintf(stderr, "kpop: %s %s\n", dir, shown);
}

/* ---- connecting ---- */

int
pop_connect(struct pop *p, const char *host, unsigned int port)
{
	char why[sizeof(p->err)];
	int fd;

	util_strlcpy(p->host, host, sizeof(p->host));
	if ((fd = dial_tcp(host, port, POP_TIMEOUT_S * 1000, why,
	    sizeof(why))) == -1)
		return pop_fail(p, POP_UNAVAIL, "%s", why);
	if ((p->io = io_new(fd)) == NULL) {
		close(fd);
		return pop_fail(p, POP_LOCAL, "out of memory");
	}
	io_set_timeout(p->io, POP_TIMEOUT_S * 1000);
	return POP_OK;
}

int
pop_tls(struct pop *p, SSL_CTX *ctx)
{
	const char *name = p->tls_name[0] != '\0' ? p->tls_name : p->host;

	if (tls_start(p->io, ctx, TLS_CLIENT, name) != IO_OK)
		return pop_fail(p, POP_TLS, "TLS with %s failed%s%s%s: %s",
		    p->host,
		    name != p->host ? " (its certificate must name " : "",
		    name != p->host ? name : "", name != p->host ? ")" : "",
		    io_error(p->io));
	if (p->trace)
		fprintf(stderr, "kpop: TLS %s %s, certificate verified for "
		    "%s\n", tls_version(p->io), tls_cipher(p->io), name);
	return POP_OK;
}

/* ---- lines and responses ---- */

/* Queue a command line; secret ones are traced with their argument hidden. */
int
pop_send_line(struct pop *p, int secret, const char *fmt, ...)
{
	char line[POP3_SASL_LINE_MAX + 3];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		return pop_fail(p, POP_LOCAL, "command too long");
	if (p->trace) {
		const char *sp = strchr(line, ' ');

		/*
		 * "AUTH MECH [redacted]", "APOP USER [redacted]": the
		 * mechanism and the user are no secret.
		 */
		if (sp != NULL && (strncasecmp(line, "AUTH ", 5) == 0 ||
		    strncasecmp(line, "APOP ", 5) == 0) &&
		    strchr(sp + 1, ' ') != NULL)
			sp = strchr(sp + 1, ' ');

		if (secret)
			fprintf(stderr, "kpop: C: %.*s%s\n", sp != NULL ?
			    (int)(sp - line) : 0, line, sp != NULL ?
			    " [redacted]" : "[redacted]");
		else
			trace(p, "C:", line, (size_t)n);
	}
	memcpy(line + n, "\r\n", 2);
	n += 2;
	if (io_write(p->io, line, (size_t)n) != IO_OK)
		return pop_fail(p, POP_UNAVAIL, "writing to %s: %s", p->host,
		    io_error(p->io));
	util_wipe(line, sizeof(line));
	return POP_OK;
}

/*
 * Read one response line into p->line.  *r gets its class.  POP_OK for
 * +OK and continuations, POP_ERR for -ERR (p->code set).
 */
int
pop_read_resp(struct pop *p, struct pop3_resp *r)
{
	char s[256];
	size_t len;
	int st;

	if (io_flush(p->io) != IO_OK)
		return pop_fail(p, POP_UNAVAIL, "writing to %s: %s", p->host,
		    io_error(p->io));
	st = io_readline(p->io, p->line, sizeof(p->line), &len);
	if (st == IO_TOOLONG)
		return pop_fail(p, POP_PROTO, "%s sent a response line over "
		    "%zu bytes", p->host, sizeof(p->line));
	if (st != IO_OK)
		return pop_fail(p, POP_UNAVAIL, "%s: %s", p->host,
		    st == IO_EOF ? "the server closed the connection" :
		    st == IO_TIMEOUT ?
		    "timed out waiting for the server" : io_error(p->io));
	trace(p, "S:", p->line, len);
	if (pop3_parse_resp(p->line, len, r) == -1)
		return pop_fail(p, POP_PROTO, "%s: not a POP3 response: %s",
		    p->host, pop_shown(s, 80, p->line, len));
	p->code[0] = '\0';
	if (r->status == POP3_ERR) {
		util_strlcpy(p->code, r->code, sizeof(p->code));
		pop_fail(p, POP_ERR, "%s said: %s", p->host, pop_shown(s,
		    sizeof(s), r->text, r->textlen));
		return POP_ERR;
	}
	return POP_OK;
}

/* -ERR [code] to the status class it stands for (RFC 3206, 2449). */
int
pop_err_class(const struct pop *p, int dflt)
{
	if (strcasecmp(p->code, "SYS/TEMP") == 0 ||
	    strcasecmp(p->code, "IN-USE") == 0 ||
	    strcasecmp(p->code, "LOGIN-DELAY") == 0)
		return POP_TEMP;
	if (strcasecmp(p->code, "AUTH") == 0)
		return POP_AUTH;
	return dflt;
}

int
pop_simple(struct pop *p, const char *fmt, ...)
{
	struct pop3_resp r;
	char line[POP_LINE_MAX];
	va_list ap;
	int n, st;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return pop_fail(p, POP_LOCAL, "command too long");
	if ((st = pop_send_line(p, 0, "%s", line)) != POP_OK)
		return st;
	if ((st = pop_read_resp(p, &r)) == POP_OK && r.status != POP3_OK)
		return pop_fail(p, POP_PROTO, "%s: unexpected continuation",
		    p->host);
	return st;
}

/*
 * Whether [lt, gt] is an APOP timestamp: a msg-id (RFC 1939 s.7), that
 * is "<" left "@" right ">" in printable ASCII without blanks.  Anything
 * else is refused rather than hashed with the password: a server that
 * may choose arbitrary bytes there can pick MD5 inputs that give the
 * password away a few characters at a time (Leurent, FSE 2007;
 * CVE-2007-1558).
 */
static int
apop_ts_ok(const char *lt, const char *gt)
{
	const char *c, *at = NULL;

	for (c = lt + 1; c < gt; c++) {
		unsigned char u = (unsigned char)*c;

		if (u < 0x21 || u > 0x7e || u == '<' || u == '>')
			return 0;
		if (*c == '@') {
			if (at != NULL)
				return 0;
			at = c;
		}
	}
	return at != NULL && at > lt + 1 && at < gt - 1;
}

int
pop_greeting(struct pop *p)
{
	struct pop3_resp r;
	const char *lt, *gt;
	int st;

	if ((st = pop_read_resp(p, &r)) != POP_OK)
		return st == POP_ERR ? pop_err_class(p, POP_UNAVAIL) : st;
	util_strlcpy(p->greeting, p->line, sizeof(p->greeting));
	/* RFC 1939 s.7: the timestamp is the <...> in the greeting. */
	if ((lt = memchr(r.text, '<', r.textlen)) != NULL &&
	    (gt = memchr(lt, '>', r.textlen - (size_t)(lt - r.text))) !=
	    NULL && apop_ts_ok(lt, gt) && (size_t)(gt - lt + 1) <
	    sizeof(p->apop_ts)) {
		memcpy(p->apop_ts, lt, (size_t)(gt - lt + 1));
		p->apop_ts[gt - lt + 1] = '\0';
	}
	return POP_OK;
}

/*
 * Read a multi-line body line by line; fn gets each (un-stuffed).  More
 * than max lines before the "." is a protocol error: a listing that
 * never ends is cut short.
 */
static int
read_lines(struct pop *p, int (*fn)(struct pop *, const char *, size_t,
    void *), void *arg, size_t max)
{
	char line[POP_LINE_MAX];
	const char *l;
	size_t len, n;
	int st;

	for (n = 0;; n++) {
		st = io_readline(p->io, line, sizeof(line), &len);
		if (st == IO_TOOLONG)
			return pop_fail(p, POP_PROTO, "%s: a listing line too "
			    "long", p->host);
		if (st != IO_OK)
			return pop_fail(p, POP_UNAVAIL, "%s: %s", p->host,
			    st == IO_EOF ? "the server closed the connection" :
			    io_error(p->io));
		l = line;
		if (pop3_ml_line(&l, &len))
			return POP_OK;
		if (n == max)
			return pop_fail(p, POP_PROTO, "%s: a listing of more "
			    "than %zu lines", p->host, max);
		if (fn != NULL && (st = fn(p, l, len, arg)) != POP_OK)
			return st;
	}
}

static int
capa_line(struct pop *p, const char *l, size_t len, void *arg)
{
	struct pop_capa *c = &p->capa;
	const char *arg1 = memchr(l, ' ', len);
	size_t kw = arg1 != NULL ? (size_t)(arg1 - l) : len;

	(void)arg;
	trace(p, "S:", l, len);
	if (c->nlines < POP_CAPA_MAX)
		util_snprintf(c->lines[c->nlines++], sizeof(c->lines[0]),
		    "%.*s", (int)len, l);
#define IS(word)	(kw == sizeof(word) - 1 && strncasecmp(l, word, kw) == 0)
	if (IS("TOP"))
		c->top = 1;
	else if (IS("UIDL"))
		c->uidl = 1;
	else if (IS("USER"))
		c->user = 1;
	else if (IS("STLS"))
		c->stls = 1;
	else if (IS("PIPELINING"))
		c->pipelining = 1;
	else if (IS("RESP-CODES"))
		c->resp_codes = 1;
	else if (IS("UTF8"))
		c->utf8 = 1;
	else if (IS("SASL") && arg1 != NULL)
		util_snprintf(c->sasl, sizeof(c->sasl), "%.*s",
		    (int)(len - kw - 1), arg1 + 1);
	else if (IS("LOGIN-DELAY") && arg1 != NULL)
		util_snprintf(c->login_delay, sizeof(c->login_delay), "%.*s",
		    (int)(len - kw - 1), arg1 + 1);
	else if (IS("EXPIRE") && arg1 != NULL)
		util_snprintf(c->expire, sizeof(c->expire), "%.*s",
		    (int)(len - kw - 1), arg1 + 1);
	else if (IS("IMPLEMENTATION") && arg1 != NULL)
		util_snprintf(c->implementation, sizeof(c->implementation),
		    "%.*s", (int)(len - kw - 1), arg1 + 1);
#undef IS
	return POP_OK;
}

int
pop_capa(struct pop *p)
{
	int st;

	memset(&p->capa, 0, sizeof(p->capa));
	st = pop_simple(p, "CAPA");
	if (st == POP_ERR)
		return POP_OK;	/* an RFC 1939-only server */
	if (st != POP_OK)
		return st;
	p->capa.seen = 1;
	return read_lines(p, capa_line, NULL, POP_CAPA_LINES_MAX);
}

int
pop_stls(struct pop *p, SSL_CTX *ctx)
{
	char s[256];
	int st;

	if ((st = pop_simple(p, "STLS")) != POP_OK)
		return st == POP_ERR ? pop_fail(p, POP_TLS, "%s refused "
		    "STLS: %s", p->host, SHOWN(s, p->line)) : st;
	if ((st = pop_tls(p, ctx)) != POP_OK)
		return st;
	/* What was learnt in plaintext may have been forged: ask again. */
	return pop_capa(p);
}

/* ---- transactions ---- */

struct scan_ctx {
	struct pop_msg	*msgs;
	size_t		 count;
	int		 uidl;
};

static int
scan_line(struct pop *p, const char *l, size_t len, void *arg)
{
	struct scan_ctx *s = arg;
	char shownbuf[80];
	unsigned long long n, size;
	const char *sp = memchr(l, ' ', len), *val;
	size_t vlen;

	if (sp == NULL || util_parse_uint(l, (size_t)(sp - l), s->count, &n) ==
	    -1 || n == 0)
		return pop_fail(p, POP_PROTO, "%s: a bad listing line: %s",
		    p->host, pop_shown(shownbuf, sizeof(shownbuf), l, len));
	val = sp + 1;
	vlen = len - (size_t)(val - l);
	if ((sp = memchr(val, ' ', vlen)) != NULL)
		vlen = (size_t)(sp - val);	/* LIST may add more */
	if (s->uidl) {
		if (!pop3_uidl_ok(val, vlen))
			return pop_fail(p, POP_PROTO, "%s: a bad UIDL",
			    p->host);
		memcpy(s->msgs[n - 1].uidl, val, vlen);
		s->msgs[n - 1].uidl[vlen] = '\0';
	} else {
		if (util_parse_uint(val, vlen, ULLONG_MAX, &size) == -1)
			return pop_fail(p, POP_PROTO, "%s: a bad size",
			    p->host);
		s->msgs[n - 1].size = size;
	}
	return POP_OK;
}

int
pop_scan(struct pop *p, struct pop_msg **msgsp, size_t *countp,
    unsigned long long *totalp)
{
	struct scan_ctx s;
	struct pop3_resp r;
	unsigned long long count, total;
	const char *sp;
	char why[80];
	int st;

	*msgsp = NULL;
	if ((st = pop_simple(p, "STAT")) != POP_OK)
		return st;
	/* "+OK" alone has nothing past it, only an older line's bytes. */
	if (strlen(p->line) < 4 || (sp = strchr(p->line + 4, ' ')) == NULL ||
	    util_parse_uint(p->line + 4, (size_t)(sp - p->line - 4),
	    ULLONG_MAX, &count) == -1 ||
	    util_parse_uint(sp + 1, strcspn(sp + 1, " "), ULLONG_MAX,
	    &total) == -1)
		return pop_fail(p, POP_PROTO, "%s: a bad STAT reply: %s",
		    p->host, SHOWN(why, p->line));
	if (count > POP_COUNT_MAX)
		return pop_fail(p, POP_PROTO, "%s says it holds %llu "
		    "messages, more than kpop takes (%d)", p->host, count,
		    POP_COUNT_MAX);
	if ((s.msgs = calloc((size_t)count + 1, sizeof(*s.msgs))) == NULL)
		return pop_fail(p, POP_LOCAL, "out of memory");
	s.count = (size_t)count;
	if (count > 0) {
		/* Both at once when the server pipelines. */
		if ((st = pop_send_line(p, 0, "UIDL")) != POP_OK ||
		    (p->capa.pipelining && (st = pop_send_line(p, 0, "LIST")) !=
		    POP_OK))
			goto bad;
		st = pop_read_resp(p, &r);
		if (st == POP_OK) {
			s.uidl = 1;
			if ((st = read_lines(p, scan_line, &s, s.count)) != POP_OK)
				goto bad;
		} else if (st != POP_ERR)
			goto bad;
		if (!p->capa.pipelining && (st = pop_send_line(p, 0, "LIST")) !=
		    POP_OK)
			goto bad;
		if ((st = pop_read_resp(p, &r)) != POP_OK)
			goto bad;
		s.uidl = 0;
		if ((st = read_lines(p, scan_line, &s, s.count)) != POP_OK)
			goto bad;
	}
	*msgsp = s.msgs;
	*countp = s.count;
	*totalp = total;
	return POP_OK;
bad:
	free(s.msgs);
	return st;
}

struct retr_ctx {
	const struct pop_sink	*sink;	/* NULL: discard */
	size_t			 idx;
	int			 failed;
};

static int
retr_sink(void *arg, const void *buf, size_t len)
{
	struct retr_ctx *rc = arg;

	/* After a failure the rest is read and dropped: the session goes
	   on in step with the server. */
	if (rc->sink == NULL || rc->failed)
		return 0;
	if (rc->sink->data(rc->sink->arg, rc->idx, buf, len) == -1)
		rc->failed = 1;
	return 0;
}

/*
 * Read one message body through the decoder into the sink (or, with
 * sink NULL, nowhere), at most max bytes of it (0: no bound).  POP_OK,
 * POP_LOCAL when the sink failed (the body was still read to its end),
 * POP_TOOBIG past max (the sink had max + 1 bytes; the rest was read to
 * its end and dropped), POP_PROTO when it goes on past a hard bound
 * beyond max too, or the I/O failure.
 */
static int
read_body(struct pop *p, const struct pop_sink *sink, unsigned long long max,
    size_t idx)
{
	struct retr_ctx rc = { sink, idx, 0 };
	struct pop3_dec d;
	const void *buf;
	size_t len;
	long long used;
	unsigned long long hard = 0;
	int st, over = 0;

	/* Past max, a message is still read (not kept) up to hard. */
	if (max > 0)
		hard = max > ULLONG_MAX - (max > POP_OVERRUN_MIN ? max :
		    POP_OVERRUN_MIN) ? ULLONG_MAX : max + (max >
		    POP_OVERRUN_MIN ? max : POP_OVERRUN_MIN);
	pop3_dec_init(&d, 1);
	while (!d.done) {
		if ((st = io_peek(p->io, &buf, &len)) != IO_OK)
			return pop_fail(p, POP_UNAVAIL, "%s: %s in the middle "
			    "of message %zu", p->host, st == IO_EOF ? "the "
			    "server closed the connection" : io_error(p->io),
			    idx + 1);
		/*
		 * A bound on the message, whatever its listed size: feed no
		 * more than could take it one byte past (decoding never
		 * grows), so that a message that goes on for ever stops here.
		 */
		if (!over && max > 0 && max - d.octets < len)
			len = (size_t)(max - d.octets) + 1;
		used = pop3_dec_feed(&d, buf, len, retr_sink, &rc);
		io_skip(p->io, (size_t)used);
		if (!over && max > 0 && d.octets > max) {
			/* The sink has had its last byte: the rest is read
			   and dropped, so the session stays in step. */
			over = 1;
			rc.sink = NULL;
		}
		if (over && d.octets > hard)
			return pop_fail(p, POP_PROTO, "%s: message %zu goes on "
			    "past %llu bytes, far over max_size (%llu) and "
			    "what it was listed at: ending the session",
			    p->host, idx + 1, hard, max);
	}
	if (over)
		return pop_fail(p, POP_TOOBIG, "%s: message %zu is over %llu "
		    "bytes (max_size), though it was listed smaller: left on "
		    "the server", p->host, idx + 1, max);
	return rc.failed ? POP_LOCAL : POP_OK;
}

int
pop_retr(struct pop *p, const size_t *idx, size_t n, long long top,
    const struct pop_sink *sink)
{
	struct pop3_resp r;
	size_t sent = 0, got, window = p->capa.pipelining ? POP_WINDOW : 1;
	int st, failed = POP_OK;
	char why[sizeof(p->err)] = "";

	for (got = 0; got < sent || (failed == POP_OK && got < n); got++) {
		while (failed == POP_OK && sent < n && sent < got + window) {
			st = top >= 0 ? pop_send_line(p, 0, "TOP %zu %lld",
			    idx[sent] + 1, top) : pop_send_line(p, 0,
			    "RETR %zu", idx[sent] + 1);
			if (st != POP_OK)
				return st;
			sent++;
		}
		if ((st = pop_read_resp(p, &r)) != POP_OK) {
			if (st != POP_ERR)
				return st;
			/* A -ERR for one message: stop asking for more. */
			if (failed == POP_OK) {
				failed = pop_err_class(p, POP_ERR);
				util_strlcpy(why, p->err, sizeof(why));
			}
			continue;
		}
		if (failed != POP_OK) {
			/* In flight before the failure: read and drop. */
			if ((st = read_body(p, NULL, sink->max, idx[got])) !=
			    POP_OK && st != POP_TOOBIG)
				return st;
			continue;
		}
		if (sink->begin != NULL && sink->begin(sink->arg, idx[got]) ==
		    -1) {
			failed = POP_LOCAL;
			util_snprintf(why, sizeof(why), "cannot deliver message "
			    "%zu", idx[got] + 1);
			if ((st = read_body(p, NULL, sink->max, idx[got])) !=
			    POP_OK && st != POP_TOOBIG)
				return st;
			continue;
		}
		st = read_body(p, sink, sink->max, idx[got]);
		if (st == POP_TOOBIG) {
			/* Read to its end and dropped: the others go on. */
			if (sink->abandon != NULL)
				sink->abandon(sink->arg, idx[got], p->err);
			continue;
		}
		if (st == POP_LOCAL || (st == POP_OK && sink->end != NULL &&
		    sink->end(sink->arg, idx[got]) == -1)) {
			failed = POP_LOCAL;
			util_snprintf(why, sizeof(why), "cannot deliver message "
			    "%zu", idx[got] + 1);
		} else if (st != POP_OK)
			return st;
	}
	if (failed != POP_OK)
		util_strlcpy(p->err, why, sizeof(p->err));
	return failed;
}

int
pop_dele(struct pop *p, const size_t *idx, size_t n)
{
	struct pop3_resp r;
	size_t sent = 0, got, window = p->capa.pipelining ? POP_WINDOW : 1;
	int st;

	for (got = 0; got < n; got++) {
		while (sent < n && sent < got + window)
			if ((st = pop_send_line(p, 0, "DELE %zu", idx[sent++] +
			    1)) != POP_OK)
				return st;
		if ((st = pop_read_resp(p, &r)) != POP_OK)
			return st;
	}
	return POP_OK;
}

int
pop_quit(struct pop *p)
{
	int st = pop_simple(p, "QUIT");

	return st == POP_ERR ? pop_err_class(p, POP_TEMP) : st;
}

void
pop_close(struct pop *p)
{
	if (p->io != NULL) {
		int fd = io_fd(p->io);

		io_free(p->io);
		close(fd);
		p->io = NULL;
	}
	if (p->sasl != NULL) {
		xsasl_client_free(p->sasl);
		p->sasl = NULL;
	}
}
