/* SPDX-License-Identifier: MIT */
/*
 * kpop/modes.c: the modes that fetch nothing (kpop.h): --stat, --list
 * (with TOP for From and Subject), --check (exit 0 when there is new
 * mail) and --serverinfo.  Server text is made printable before it is
 * shown.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509.h>

#include "common/tls.h"
#include "common/util.h"
#include "kpop/client.h"
#include "kpop/kpop.h"
#include "kpop/state.h"

/* Lines of TOP asked for by --list: the header only. */
#define LIST_TOP_LINES	0

/* --stat: the server's STAT answer. */
int
modes_stat(struct pop *p)
{
	char shown[POP_LINE_MAX];
	int r;

	if ((r = pop_simple(p, "STAT")) != POP_OK) {
		out_warn("%s", p->err);
		return out_exit(r);
	}
	/* The server's words: printable, whatever it sent. */
	SHOW(shown, strlen(p->line) > 4 ? p->line + 4 : "");
	if (out_opts.json) {
		printf("  \"stat\": ");
		out_json_str(stdout, shown);
		printf(",\n");
	} else
		printf("%s\n", shown);
	(void)pop_quit(p);
	return KX_OK;
}

/* Whether a fetch would take the message: unknown, or a reused UIDL. */
static int
is_new(const struct st *st, const char *uidl)
{
	enum st_status s;

	if (st == NULL || uidl[0] == '\0')
		return 1;
	s = st_get(st, uidl, NULL);
	return s == ST_UNKNOWN || s == ST_DELETED;
}

struct head {
	char	buf[LIST_HEAD_MAX];
	size_t	len;
};

static int
head_begin(void *arg, size_t idx)
{
	(void)idx;
	((struct head *)arg)->len = 0;
	return 0;
}

static int
head_data(void *arg, size_t idx, const void *buf, size_t len)
{
	struct head *h = arg;

	(void)idx;
	if (len > sizeof(h->buf) - 1 - h->len)
		len = sizeof(h->buf) - 1 - h->len;
	memcpy(h->buf + h->len, buf, len);
	h->len += len;
	return 0;
}

/* The value of header field name in h, unfolded and cut, or "". */
static void
header_field(const struct head *h, const char *name, char *out, size_t len)
{
	const char *p = h->buf, *end = h->buf + h->len;
	size_t nl = strlen(name), o = 0;

	out[0] = '\0';
	while (p < end && *p != '\n') {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 &&
		    p[nl] == ':') {
			for (p += nl + 1; p < eol && o + 1 < len; p++)
				if (*p >= 0x20 && *p != 0x7f && !(o == 0 &&
				    *p == ' '))
					out[o++] = *p;
			out[o] = '\0';
			return;
		}
		p = eol + 1;
	}
}

static int
list_end(void *arg, size_t idx)
{
	(void)arg;
	(void)idx;
	return 0;
}

/* --list: each message with From and Subject, and whether it is new. */
int
modes_list(struct pop *p, const struct account *a, struct st *st)
{
	struct pop_msg *msgs = NULL;
	struct head h;
	struct pop_sink sink = { head_begin, head_data, list_end, &h,
	    LIST_TOP_MAX, NULL };
	unsigned long long total;
	char from[80], subj[80];
	size_t count, i;
	int r;

	(void)a;
	if ((r = pop_scan(p, &msgs, &count, &total)) != POP_OK) {
		out_warn("%s", p->err);
		return out_exit(r);
	}
	if (out_opts.json)
		printf("  \"messages\": [");
	for (i = 0; i < count; i++) {
		int fresh = is_new(st, msgs[i].uidl);

		from[0] = subj[0] = '\0';
		if (p->capa.top || !p->capa.seen) {
			r = pop_retr(p, &i, 1, LIST_TOP_LINES, &sink);
			if (r == POP_OK) {
				header_field(&h, "From", from, sizeof(from));
				header_field(&h, "Subject", subj, sizeof(subj));
			} else if (r == POP_PROTO || r == POP_UNAVAIL) {
				/* Out of step, or gone: ask nothing more. */
				out_warn("%s", p->err);
				free(msgs);
				return out_exit(r);
			}
		}
		if (out_opts.json) {
			printf("%s\n    {\"number\": %zu, \"size\": %llu, "
			    "\"uidl\": ", i ? "," : "", i + 1, msgs[i].size);
			out_json_str(stdout, msgs[i].uidl);
			printf(", \"new\": %s, \"from\": ", fresh ?
			    "true" : "false");
			out_json_str(stdout, from);
			printf(", \"subject\": ");
			out_json_str(stdout, subj);
			printf("}");
		} else
			printf("%5zu %9llu %c %-24.24s %-28.28s %s\n", i + 1,
			    msgs[i].size, fresh ? 'N' : ' ',
			    msgs[i].uidl, from, subj);
	}
	if (out_opts.json)
		printf("%s],\n", count ? "\n  " : "");
	free(msgs);
	(void)pop_quit(p);
	return KX_OK;
}

/* --check: exit 0 when there is mail not yet fetched, 1 when not. */
int
modes_check(struct pop *p, struct st *st)
{
	struct pop_msg *msgs = NULL;
	unsigned long long total;
	size_t count, i, fresh = 0;
	int r;

	if ((r = pop_scan(p, &msgs, &count, &total)) != POP_OK) {
		out_warn("%s", p->err);
		return out_exit(r);
	}
	for (i = 0; i < count; i++)
		if (is_new(st, msgs[i].uidl))
			fresh++;
	free(msgs);
	(void)pop_quit(p);
	if (out_opts.json)
		printf("  \"new\": %zu, \"count\": %zu,\n", fresh, count);
	else if (!out_opts.quiet)
		printf("%zu new of %zu messages\n", fresh, count);
	return fresh > 0 ? KX_OK : KX_NOMAIL;
}

/* --serverinfo: what the server offers, and its TLS. */
void
modes_serverinfo(struct pop *p, const struct account *a)
{
	X509 *cert;
	char pin[96], buf[256], shown[POP_LINE_MAX];
	size_t i;

	printf("server: %s port %u\n", a->host, a->port);
	printf("greeting: %s\n", SHOW(shown, p->greeting));
	printf("apop: %s\n", p->apop_ts[0] ? "offered (timestamp in "
	    "greeting)" : "no");
	if (tls_active(p->io)) {
		printf("tls: %s %s\n", tls_version(p->io), tls_cipher(p->io));
		if ((cert = SSL_get1_peer_certificate(tls_ssl(p->io))) !=
		    NULL) {
			X509_NAME_oneline(X509_get_subject_name(cert), buf,
			    sizeof(buf));
			printf("certificate: %s\n", buf);
			X509_NAME_oneline(X509_get_issuer_name(cert), buf,
			    sizeof(buf));
			printf("issuer: %s\n", buf);
			X509_free(cert);
		}
		if (session_key_pin(p, pin, sizeof(pin)) == 0)
			printf("key pin: %s\n", pin);
		printf("verified: yes, for %s\n", a->tls_name != NULL ?
		    a->tls_name : a->host);
	} else
		printf("tls: none%s\n", p->capa.stls ? " (STLS offered)" : "");
	if (!p->capa.seen)
		printf("capa: not supported\n");
	for (i = 0; i < p->capa.nlines; i++)
		printf("capa: %s\n", SHOW(shown, p->capa.lines[i]));
	printf("login methods: %s%s%s%s\n", p->capa.sasl[0] ? "SASL " : "",
	    SHOW(shown, p->capa.sasl), p->capa.user ? " USER" : "",
	    p->apop_ts[0] ? " APOP" : "");
	printf("login-delay: %s\n", p->capa.login_delay[0] ?
	    SHOW(shown, p->capa.login_delay) : "not announced");
	printf("expire: %s\n", p->capa.expire[0] ? SHOW(shown,
	    p->capa.expire) : "not announced");
}
