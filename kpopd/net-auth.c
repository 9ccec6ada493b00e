/* SPDX-License-Identifier: MIT */
/*
 * kpopd/net-auth.c: the net process's commands of the AUTHORIZATION
 * state (RFC 1939 s.4): CAPA (in either state: the list reflects it),
 * STLS, USER and PASS, APOP, AUTH (RFC 5034), UTF8 and QUIT.  Passwords,
 * digests and SASL tokens go to the monitor (monwrap.h), which decides;
 * on a good login net-trans.c takes over.  What is offered depends on
 * the transport: no password (USER/PASS, AUTH PLAIN and LOGIN) over
 * plaintext unless allowed, -PLUS mechanisms only inside TLS.
 */
#include "config.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/io.h"
#include "common/log.h"
#include "common/mech.h"
#include "common/pop3.h"
#include "common/sasl.h"
#include "common/tls.h"
#include "kpopd/kpopd.h"
#include "kpopd/monwrap.h"
#include "kpopd/net-int.h"

/* Whether a password may cross this connection. */
static int
password_ok_here(const struct net *n)
{
	return n->c->allow_plaintext_auth || tls_active(n->io);
}

/*
 * Why no password may be used on this connection, as USER's -ERR text,
 * or NULL if one may: USER/PASS and the mechanisms that carry a password
 * (PLAIN, LOGIN) go by the same rule.
 */
static const char *
password_refused(const struct net *n)
{
	if (!password_ok_here(n))
		return "[AUTH] plaintext authentication is not allowed "
		    "without TLS; use STLS first";
	if (strcmp(n->c->password_check, "none") == 0)
		return "[AUTH] password logins are disabled";
	return NULL;
}

/* -PLUS mechanisms bind to TLS: only inside it. */
static int
mech_needs_tls(const char *mech)
{
	size_t n = strlen(mech);

	return n > 5 && strcasecmp(mech + n - 5, "-PLUS") == 0;
}

/*
 * Call fn for each mechanism offered on this connection: configured,
 * and safe on this transport.  Stops and returns -1 if fn does.
 */
static int
each_mech(struct net *n,
    int (*fn)(struct net *, const char *, const void *), const void *arg)
{
	const char *p = n->c->sasl_mechanisms, *m;
	char mech[KPOPD_MECH_MAX];
	size_t len;

	while ((m = mech_next(&p, &len)) != NULL) {
		if (len >= sizeof(mech))
			continue;
		memcpy(mech, m, len);
		mech[len] = '\0';
		if ((!mech_password(mech, len) ||
		    password_refused(n) == NULL) &&
		    (!mech_needs_tls(mech) || tls_active(n->io)) &&
		    fn(n, mech, arg) == -1)
			return -1;
	}
	return 0;
}

static int
mech_put(struct net *n, const char *mech, const void *arg)
{
	const char *sep = arg;

	return io_printf(n->io, "%s%s", sep, mech) == IO_OK ? 0 : -1;
}

/* Each on its own line, for AUTH's list. */
static int
mech_line(struct net *n, const char *mech, const void *arg)
{
	(void)arg;
	return io_printf(n->io, "%s\r\n", mech) == IO_OK ? 0 : -1;
}

/* Stops at the first: whether any is offered. */
static int
mech_any(struct net *n, const char *mech, const void *arg)
{
	(void)n;
	(void)mech;
	(void)arg;
	return -1;
}

static int
mech_match(struct net *n, const char *mech, const void *arg)
{
	(void)n;
	return strcasecmp(mech, arg) == 0 ? -1 : 0;
}

enum net_verdict
net_auth_capa(struct net *n, const struct pop3_cmd *cmd)
{
	if (!pop3_cmd_args_ok(cmd, 0, 0))
		return net_reply_bad(n, "CAPA takes no arguments");
	if (net_reply(n, "+OK capability list follows") != NV_OK ||
	    io_puts(n->io, "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	    "PIPELINING\r\nUTF8 USER\r\n") != IO_OK)
		return NV_FAIL;
	if (n->state == NS_AUTH && (n->kpop || password_refused(n) == NULL) &&
	    io_puts(n->io, "USER\r\n") != IO_OK)
		return NV_FAIL;
	if (n->state == NS_AUTH && n->s->tls != NULL && !tls_active(n->io) &&
	    io_puts(n->io, "STLS\r\n") != IO_OK)
		return NV_FAIL;
	/*
	 * Short: fetchmail reads CAPA lines into 64 bytes.  Under a
	 * security layer the list is repeated, so that the client can check
	 * nobody edited the one it chose from (RFC 4422 s.3.7).
	 */
	if ((n->state == NS_AUTH || xsasl_layer_active(n->io)) &&
	    each_mech(n, mech_any, NULL) == -1 &&
	    (io_puts(n->io, "SASL") != IO_OK ||
	    each_mech(n, mech_put, " ") == -1 ||
	    io_puts(n->io, "\r\n") != IO_OK))
		return NV_FAIL;
	if (kconf_expire_never(n->c)) {
		if (io_puts(n->io, "EXPIRE NEVER\r\n") != IO_OK)
			return NV_FAIL;
	} else if (io_printf(n->io, "EXPIRE %s\r\n", n->c->expire) != IO_OK)
		return NV_FAIL;
	if (io_printf(n->io, "LOGIN-DELAY %u\r\n", n->c->login_delay) !=
	    IO_OK ||
	    io_puts(n->io, "IMPLEMENTATION kpopd-" PACKAGE_VERSION "\r\n.\r\n")
	    != IO_OK)
		return NV_FAIL;
	return NV_OK;
}

enum net_verdict
net_auth_stls(struct net *n, const struct pop3_cmd *cmd)
{
	if (!pop3_cmd_args_ok(cmd, 0, 0))
		return net_reply_bad(n, "STLS takes no arguments");
	if (n->s->tls == NULL)
		return net_reply_bad(n, "TLS is not available");
	if (tls_active(n->io))
		return net_reply_bad(n, "TLS is already active");
	if (net_reply(n, "+OK begin TLS negotiation") != NV_OK)
		return NV_FAIL;
	io_set_timeout(n->io, (int)n->c->tls_timeout * 1000);
	/* Plaintext pipelined behind STLS is dropped (RFC 2595 s.4). */
	if (tls_start(n->io, n->s->tls, TLS_SERVER, NULL) != IO_OK) {
		log_notice("after STLS: %s", io_error(n->io));
		n->end = "tls-failed";
		return NV_FAIL;
	}
	io_set_timeout(n->io, (int)n->c->login_timeout * 1000);
	n->have_user = 0;
	return NV_OK;
}

enum net_verdict
net_auth_user(struct net *n, const struct pop3_cmd *cmd)
{
	const char *why;

	if (n->kpop) {
		/* The ticket did the authenticating; USER names the user. */
		if (n->c->kpop_require_tls && !tls_active(n->io))
			return net_reply_bad(n, "[AUTH] use STLS before USER");
		if (cmd->argc != 1 || cmd->arglen[0] >= sizeof(n->user))
			return net_reply_bad(n, "USER takes one user name");
		memcpy(n->user, cmd->argv[0], cmd->arglen[0] + 1);
		n->have_user = 1;
		return net_reply(n, "+OK send PASS (any text)");
	}
	if ((why = password_refused(n)) != NULL)
		return net_reply_bad(n, why);
	if (cmd->argc != 1 || cmd->arglen[0] >= sizeof(n->user))
		return net_reply_bad(n, "USER takes one user name");
	memcpy(n->user, cmd->argv[0], cmd->arglen[0] + 1);
	n->have_user = 1;
	return net_reply(n, "+OK send PASS");
}

/* The monitor failed us in the middle of a login. */
static enum net_verdict
monitor_failed(struct net *n)
{
	n->end = "monitor";
	return net_reply(n, "-ERR [SYS/TEMP] the session cannot go on") ==
	    NV_OK ? NV_CLOSE : NV_FAIL;
}

static enum net_verdict
auth_failed(struct net *n, int r, const char *text)
{
	const char *code = kp_status_code(r);

	n->have_user = 0;
	return net_reply(n, "-ERR [%s] %s", code != NULL ? code : "SYS/TEMP",
	    text) == NV_OK ? NV_BAD : NV_FAIL;
}

/*
 * RFC 4422 s.3.7: the layer starts right after the +OK.  Anything the
 * client sent before seeing it was not protected: drop it.
 */
static enum net_verdict
start_layer(struct net *n, uint32_t maxout)
{
	struct xsasl_codec c;

	if (io_flush(n->io) != IO_OK)
		return NV_FAIL;
	io_drop_input(n->io);
	memset(&c, 0, sizeof(c));
	c.encode = mw_layer_encode;
	c.decode = mw_layer_decode;
	c.arg = &n->mw;
	c.maxout = maxout;
	if (xsasl_layer_start(n->io, &c) == -1) {
		n->end = "error";	/* out of memory */
		return NV_FAIL;
	}
	n->layer = 1;
	return NV_OK;
}

/*
 * Act on the monitor's answer to a login.  On success the snapshot
 * follows and the session enters the TRANSACTION state.
 */
static enum net_verdict
auth_result(struct net *n, const struct mw_auth *res, const char *method)
{
	util_strlcpy(n->user, res->user, sizeof(n->user));
	if (res->result != KP_OK)
		return auth_failed(n, res->result, res->text);
	/* A layer talks to the monitor at once: take the whole table. */
	if (net_trans_begin(n, res->layer > 0) == -1) {
		n->end = "monitor";
		return net_reply(n, "-ERR [SYS/TEMP] cannot read the "
		    "maildrop") == NV_OK ? NV_CLOSE : NV_FAIL;
	}
	n->method = method;
	if (net_reply(n, "+OK %s has %zu messages (%llu octets)", n->user,
	    n->count, n->total) != NV_OK)
		return NV_FAIL;
	return res->layer > 0 ? start_layer(n, res->layer) : NV_OK;
}

enum net_verdict
net_auth_pass(struct net *n, const struct pop3_cmd *cmd)
{
	struct mw_auth res;

	if (!n->have_user)
		return net_reply_bad(n, "USER first");
	if (n->kpop) {
		/* fetchmail sends "krb_ticket", others anything: ignored. */
		if (mw_kpop_user(&n->mw, n->user, &res) == -1)
			return monitor_failed(n);
		return auth_result(n, &res, "KPOP");
	}
	if (cmd->restlen == 0 || cmd->restlen >= KPOPD_PASS_MAX)
		return net_reply_bad(n, "PASS takes a password");
	if (mw_auth_pass(&n->mw, n->user, cmd->rest, &res) == -1)
		return monitor_failed(n);
	return auth_result(n, &res, "password");
}

enum net_verdict
net_auth_apop(struct net *n, const struct pop3_cmd *cmd)
{
	struct mw_auth res;
	size_t i;

	if (n->apop[0] == '\0')
		return net_reply_bad(n, "APOP is not offered here");
	/* The digest is MD5 in hex: 32 characters. */
	if (cmd->argc != 2 || cmd->arglen[0] >= sizeof(n->user) ||
	    cmd->arglen[1] != 32)
		return net_reply_bad(n, "APOP takes a name and a 32-digit "
		    "digest");
	for (i = 0; i < 32; i++)
		if (strchr("0123456789abcdefABCDEF", cmd->argv[1][i]) == NULL)
			return net_reply_bad(n, "APOP digest is not "
			    "hexadecimal");
	memcpy(n->user, cmd->argv[0], cmd->arglen[0] + 1);
	if (mw_auth_apop(&n->mw, n->user, cmd->argv[1], &res) == -1)
		return monitor_failed(n);
	return auth_result(n, &res, "APOP");
}

/*
 * What the monitor's SASL needs to know of TLS: its strength (the
 * external SSF, so no second layer is negotiated inside it) and the
 * channel binding the -PLUS mechanisms check.  cb holds TLS_CB_MAX.
 */
static void
tls_binding(struct net *n, struct mw_tls *t, unsigned char *cb)
{
	const char *name = NULL;
	size_t len = 0;
	int bits = 0;

	if (tls_active(n->io)) {
		bits = SSL_get_cipher_bits(tls_ssl(n->io), NULL);
		name = tls_channel_binding(n->io, cb, &len);
	}
	t->ssf = bits > 0 ? (uint32_t)bits : 0;
	t->cb_name = name != NULL ? name : "";
	t->cb = cb;
	t->cblen = name != NULL ? len : 0;
}

/* The client's next SASL line, decoded into out.  0, or an -ERR sent. */
static enum net_verdict
sasl_read(struct net *n, unsigned char *out, size_t *outlen, int *abort)
{
	size_t len;
	int st;

	*abort = 0;
	st = io_readline(n->io, n->sasl_line, sizeof(n->sasl_line), &len);
	if (st == IO_TOOLONG) {
		*abort = 1;
		return net_reply_bad(n, "SASL response too long");
	}
	if (st != IO_OK) {
		n->end = st == IO_TIMEOUT ? "timeout" : "eof";
		return NV_FAIL;
	}
	if (len == 1 && n->sasl_line[0] == '*') {
		*abort = 1;
		return net_reply_bad(n, "authentication cancelled");
	}
	if (xsasl_b64_decode(n->sasl_line, len, out, SASL_TOKEN_MAX + 1,
	    outlen) == -1) {
		*abort = 1;
		return net_reply_bad(n, "invalid base64 in SASL response");
	}
	return NV_OK;
}

enum net_verdict
net_auth_auth(struct net *n, const struct pop3_cmd *cmd)
{
	static unsigned char tok[SASL_TOKEN_MAX + 1];
	static char b64[XSASL_B64_SIZE(SASL_TOKEN_MAX)];
	unsigned char cb[TLS_CB_MAX];
	struct mw_auth res;
	struct mw_tls t;
	const void *data;
	enum net_verdict v;
	char mech[KPOPD_MECH_MAX];
	const char *why;
	size_t toklen = 0, len;
	int has_in = 0, abort, r;

	if (cmd->argc == 0) {
		/* Not in RFC 5034, but clients probe with it: list them. */
		if (net_reply(n, "+OK mechanisms follow") != NV_OK ||
		    each_mech(n, mech_line, NULL) == -1)
			return NV_FAIL;
		return io_puts(n->io, ".\r\n") == IO_OK ? NV_OK : NV_FAIL;
	}
	if (cmd->argc > 2 || cmd->arglen[0] >= sizeof(mech))
		return net_reply_bad(n, "AUTH takes a mechanism and an "
		    "initial response");
	memcpy(mech, cmd->argv[0], cmd->arglen[0] + 1);
	/* Configured but not here: refused as USER would be. */
	if (mech_password(mech, cmd->arglen[0]) &&
	    mech_listed(n->c->sasl_mechanisms, mech, cmd->arglen[0]) &&
	    (why = password_refused(n)) != NULL)
		return net_reply_bad(n, why);
	if (each_mech(n, mech_match, mech) != -1)
		return net_reply_bad(n, "unsupported authentication "
		    "mechanism");
	if (cmd->argc == 2) {
		has_in = 1;
		if (strcmp(cmd->argv[1], "=") != 0 &&
		    xsasl_b64_decode(cmd->argv[1], cmd->arglen[1], tok,
		    sizeof(tok), &toklen) == -1)
			return net_reply_bad(n, "invalid base64 in initial "
			    "response");
	}
	tls_binding(n, &t, cb);
	r = mw_sasl_start(&n->mw, mech, has_in, tok, toklen, &t, &res, &data,
	    &len);
	for (;;) {
		if (r == -1)
			return monitor_failed(n);
		if (r == MW_SASL_DONE) {
			util_snprintf(n->method_buf, sizeof(n->method_buf),
			    "SASL-%s", mech);
			return auth_result(n, &res, n->method_buf);
		}
		if (xsasl_b64_encode(data, len, b64, sizeof(b64), &len) == -1)
			return NV_FAIL;
		/* Clients skip exactly "+ " before the base64. */
		if (net_reply(n, "+ %s", b64) != NV_OK ||
		    io_flush(n->io) != IO_OK)
			return NV_FAIL;
		v = sasl_read(n, tok, &toklen, &abort);
		if (v == NV_FAIL)
			return NV_FAIL;
		if (abort) {
			if (mw_sasl_abort(&n->mw) == -1)
				return NV_FAIL;
			return v;
		}
		r = mw_sasl_step(&n->mw, tok, toklen, &res, &data, &len);
	}
}

enum net_verdict
net_auth_utf8(struct net *n, const struct pop3_cmd *cmd)
{
	if (!pop3_cmd_args_ok(cmd, 0, 0))
		return net_reply_bad(n, "UTF8 takes no arguments");
	n->utf8 = 1;
	return net_reply(n, "+OK UTF-8 enabled");
}

/* QUIT before a login: nothing to update. */
enum net_verdict
net_auth_quit(struct net *n, const struct pop3_cmd *cmd)
{
	(void)cmd;
	n->end = "quit";
	return net_reply(n, "+OK bye") == NV_OK ? NV_CLOSE : NV_FAIL;
}
