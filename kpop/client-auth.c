/* SPDX-License-Identifier: MIT */
/*
 * kpop/client-auth.c: logging in (client.h): KPOP's sendauth before the
 * greeting, USER/PASS, APOP, and SASL with the client side of
 * common/sasl.c, over client.c's line layer (client-int.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <krb5.h>
#include <openssl/evp.h>

#include "common/log.h"
#include "common/mech.h"
#include "common/sasl.h"
#include "common/sendauth.h"
#include "common/tls.h"
#include "kpop/client.h"
#include "kpop/client-int.h"

/* ---- KPOP ---- */

/* A Kerberos failure with the likely cause, naming the principal. */
static int
krb_fail(struct pop *p, krb5_context ctx, krb5_error_code ret,
    const char *what, const char *server)
{
	const char *m = krb5_get_error_message(ctx, ret);
	const char *hint = "";

	if (ret == KRB5_FCC_NOFILE || ret == KRB5_CC_NOTFOUND)
		hint = " (no ticket: run kinit)";
	else if (ret == KRB5KRB_AP_ERR_TKT_EXPIRED)
		hint = " (the ticket has expired: run kinit)";
	else if (ret == KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN)
		hint = " (the realm has no such service principal: is the "
		    "host name the server's Kerberos name?)";
	else if (ret == KRB5KRB_AP_ERR_SKEW)
		hint = " (the clocks differ by more than 5 minutes)";
	pop_fail(p, POP_KRB, "%s %s: %s%s", what, server, m, hint);
	krb5_free_error_message(ctx, m);
	return POP_KRB;
}

int
pop_kpop(struct pop *p, const char *service, char *principal, size_t plen)
{
	static unsigned char buf[POP_KRB_REPLY_MAX];
	krb5_context ctx = NULL;
	krb5_ccache cc = NULL;
	krb5_auth_context ac = NULL;
	krb5_principal me = NULL;
	krb5_data apreq = { 0, 0, NULL }, rep;
	krb5_ap_rep_enc_part *repl = NULL;
	krb5_error *kerr = NULL;
	krb5_error_code ret;
	char server[600], *name = NULL;
	size_t len;
	int st;

	util_snprintf(server, sizeof(server), "%s/%s", service, p->host);
	if ((ret = krb5_init_context(&ctx)) != 0)
		return pop_fail(p, POP_KRB, "cannot start Kerberos");
	if ((ret = krb5_cc_default(ctx, &cc)) != 0 ||
	    (ret = krb5_cc_get_principal(ctx, cc, &me)) != 0) {
		st = krb_fail(p, ctx, ret, "no ticket to log in to", server);
		goto out;
	}
	if ((ret = krb5_unparse_name(ctx, me, &name)) == 0) {
		util_strlcpy(principal, name, plen);
		krb5_free_unparsed_name(ctx, name);
	}
	ret = krb5_mk_req(ctx, &ac, AP_OPTS_MUTUAL_REQUIRED, service,
	    p->host, NULL, cc, &apreq);
	if (ret != 0) {
		st = krb_fail(p, ctx, ret, "cannot get a ticket for", server);
		goto out;
	}
	if (p->trace)
		fprintf(stderr, "kpop: KPOP sendauth %s, AP-REQ [%u bytes]\n",
		    KPOP_APPL_VERSION, apreq.length);
	if (sendauth_hello(p->io, KPOP_APPL_VERSION, p->err,
	    sizeof(p->err)) != SA_OK) {
		st = POP_PROTO;
		goto out;
	}
	if (sendauth_write_block(p->io, apreq.data, apreq.length) != IO_OK ||
	    io_flush(p->io) != IO_OK ||
	    sendauth_read_block(p->io, buf, sizeof(buf), &len, p->err,
	    sizeof(p->err)) != SA_OK) {
		st = p->err[0] ? POP_PROTO : pop_fail(p, POP_UNAVAIL, "%s: %s",
		    p->host, io_error(p->io));
		goto out;
	}
	if (len > 0) {
		rep.length = (unsigned int)len;
		rep.data = (char *)buf;
		if (krb5_rd_error(ctx, &rep, &kerr) == 0 &&
		    (krb5_error_code)kerr->error + ERROR_TABLE_BASE_krb5 ==
		    KRB5KDC_ERR_SVC_UNAVAILABLE) {
			char text[POP_LINE_MAX];

			/* kpopd over its session limits: "[SYS/TEMP] ...". */
			(void)log_printable(text, sizeof(text),
			    kerr->text.data, kerr->text.length);
			st = pop_fail(p, POP_TEMP, "KPOP: %s turned the "
			    "session away: %s", p->host, text[0] != '\0' ?
			    text : "service unavailable");
		} else if (kerr != NULL) {
			st = krb_fail(p, ctx, (krb5_error_code)kerr->error +
			    ERROR_TABLE_BASE_krb5, "the server refused the "
			    "ticket for", server);
			st = POP_AUTH;
		} else
			st = pop_fail(p, POP_PROTO, "KPOP: a malformed "
			    "refusal");
		goto out;
	}
	if (sendauth_read_block(p->io, buf, sizeof(buf), &len, p->err,
	    sizeof(p->err)) != SA_OK) {
		st = POP_PROTO;
		goto out;
	}
	rep.length = (unsigned int)len;
	rep.data = (char *)buf;
	if ((ret = krb5_rd_rep(ctx, ac, &rep, &repl)) != 0) {
		st = krb_fail(p, ctx, ret, "the server did not prove it is",
		    server);
		st = POP_AUTH;
		goto out;
	}
	st = POP_OK;
out:
	if (kerr != NULL)
		krb5_free_error(ctx, kerr);
	if (repl != NULL)
		krb5_free_ap_rep_enc_part(ctx, repl);
	krb5_free_data_contents(ctx, &apreq);
	if (ac != NULL)
		krb5_auth_con_free(ctx, ac);
	krb5_free_principal(ctx, me);
	if (cc != NULL)
		krb5_cc_close(ctx, cc);
	krb5_free_context(ctx);
	return st;
}

/* ---- logins ---- */

static int
login_result(struct pop *p, const struct pop_login *l, int st,
    const char *method)
{
	char said[sizeof(p->err)];

	if (st == POP_OK) {
		util_strlcpy(p->auth_buf, method, sizeof(p->auth_buf));
		p->auth_method = p->auth_buf;
		return POP_OK;
	}
	/*
	 * RFC 3206 s.4: a permanent fault, here after the credentials were
	 * taken: kpopd's answer for a user who has no maildrop on that
	 * server (create_maildrop = no), that is usually a wrong post office.
	 */
	if (st == POP_ERR && strcasecmp(p->code, "SYS/PERM") == 0) {
		util_strlcpy(said, p->err, sizeof(said));
		return pop_fail(p, POP_AUTH, "%s ([SYS/PERM]: refused for good "
		    "after the login: the server has no maildrop for %s there, "
		    "or cannot open it; is it %s's post office?)", said,
		    l->user, l->user);
	}
	if (st == POP_ERR)
		return pop_err_class(p, POP_AUTH) == POP_TEMP ? POP_TEMP :
		    POP_AUTH;
	return st;
}

int
pop_auth_user(struct pop *p, const struct pop_login *l)
{
	const char *pw;
	int st;

	if ((st = pop_simple(p, "USER %s", l->user)) != POP_OK)
		return login_result(p, l, st, "USER");
	if (l->password == NULL || (pw = l->password(l->password_arg)) ==
	    NULL)
		return pop_fail(p, POP_AUTH, "no password for %s", l->user);
	if ((st = pop_send_line(p, 1, "PASS %s", pw)) != POP_OK)
		return st;
	{
		struct pop3_resp r;

		st = pop_read_resp(p, &r);
	}
	return login_result(p, l, st, "USER/PASS");
}

int
pop_auth_kpop(struct pop *p, const struct pop_login *l)
{
	int st;

	if ((st = pop_simple(p, "USER %s", l->user)) != POP_OK)
		return login_result(p, l, st, "KPOP");
	/* The server ignores the text; fetchmail sends this word. */
	st = pop_simple(p, "PASS krb_ticket");
	return login_result(p, l, st, "KPOP");
}

int
pop_auth_apop(struct pop *p, const struct pop_login *l)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[EVP_MAX_MD_SIZE * 2 + 1];
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *mc;
	const char *pw;
	int st;

	if (p->apop_ts[0] == '\0')
		return pop_fail(p, POP_AUTH, "%s offers no APOP (no timestamp "
		    "in its greeting, or not one of the form <left@right>)",
		    p->host);
	if (l->password == NULL || (pw = l->password(l->password_arg)) ==
	    NULL)
		return pop_fail(p, POP_AUTH, "no password for %s", l->user);
	if ((mc = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(mc, EVP_md5(), NULL) != 1 ||
	    EVP_DigestUpdate(mc, p->apop_ts, strlen(p->apop_ts)) != 1 ||
	    EVP_DigestUpdate(mc, pw, strlen(pw)) != 1 ||
	    EVP_DigestFinal_ex(mc, md, &mdlen) != 1) {
		EVP_MD_CTX_free(mc);
		return pop_fail(p, POP_LOCAL, "MD5 is not available");
	}
	EVP_MD_CTX_free(mc);
	for (i = 0; i < mdlen; i++)
		util_snprintf(hex + 2 * i, 3, "%02x", md[i]);
	/* The digest is the password to whoever cracks MD5 offline. */
	st = pop_send_line(p, 1, "APOP %s %s", l->user, hex);
	if (st == POP_OK) {
		struct pop3_resp r;

		st = pop_read_resp(p, &r);
	}
	return login_result(p, l, st, "APOP");
}

/* Which offered mechanisms kpop may use: allowed ones, passwords in TLS. */
struct mech_rule {
	const char	*allowed;	/* NULL: any */
	int		 tls;
};

static int
mech_keep(const char *m, size_t n, void *arg)
{
	const struct mech_rule *r = arg;

	if (n >= 64)
		return 0;
	if (r->allowed != NULL && !mech_listed(r->allowed, m, n))
		return 0;
	/* A password in the clear only inside TLS. */
	if (!r->tls && n == 5 && (strncasecmp(m, "PLAIN", n) == 0 ||
	    strncasecmp(m, "LOGIN", n) == 0))
		return 0;
	return 1;
}

int
pop_auth_sasl(struct pop *p, const struct pop_login *l)
{
	static char b64[XSASL_B64_SIZE(SASL_TOKEN_MAX)];
	static unsigned char tok[SASL_TOKEN_MAX + 1];
	struct xsasl_client_opts o;
	struct xsasl_client *c;
	struct xsasl_codec codec;
	struct pop3_resp r;
	struct mech_rule rule;
	unsigned char cb[TLS_CB_MAX];
	char mechs[POP_LINE_MAX], method[64], why[256];
	const char *mech = NULL;
	const void *out;
	size_t outlen, len;
	int has_out, x, st, tls = tls_active(p->io);

	rule.allowed = l->mechs;
	rule.tls = tls;
	mech_filter(p->capa.sasl, mech_keep, &rule, mechs, sizeof(mechs));
	if (mechs[0] == '\0')
		return pop_fail(p, POP_AUTH, "%s offers no SASL mechanism "
		    "kpop may use (it offers: %s)", p->host,
		    p->capa.sasl[0] ? SHOWN(b64, p->capa.sasl) : "none");
	memset(&o, 0, sizeof(o));
	o.service = l->service;
	o.hostname = p->host;
	o.authname = l->user;
	o.user = NULL;
	o.password = l->password;
	o.password_arg = l->password_arg;
	o.max_ssf = tls ? 0 : l->max_ssf;
	if (tls) {
		o.ext_ssf = (unsigned int)SSL_get_cipher_bits(tls_ssl(p->io),
		    NULL);
		o.cb_name = tls_channel_binding(p->io, cb, &o.cb_len);
		o.cb_data = cb;
	}
	if ((c = xsasl_client_new(&o, p->err, sizeof(p->err))) == NULL)
		return POP_LOCAL;
	x = xsasl_client_start(c, mechs, &mech, &out, &outlen, &has_out);
	if (x != KP_OK && x != KP_MORE) {
		/* The usual cause: a Kerberos mechanism with no ticket. */
		st = pop_fail(p, strstr(mech != NULL ? mech : mechs,
		    "GSSAPI") != NULL || strstr(mech != NULL ? mech : mechs,
		    "GS2-KRB5") != NULL ? POP_KRB : POP_AUTH, "SASL %s cannot "
		    "start for service principal %s/%s: %s", mech != NULL ?
		    mech : mechs,
		    l->service, p->host, SHOWN(why, xsasl_client_error(c)));
		goto out;
	}
	/* An initial response only when it fits the 255-octet line. */
	if (has_out && XSASL_B64_SIZE(outlen) + strlen(mech) + 7 <= 255) {
		if (xsasl_b64_encode(out, outlen, b64, sizeof(b64), &len) == -1)
			goto toolong;
		st = pop_send_line(p, 1, "AUTH %s %s", mech, len == 0 ? "=" :
		    b64);
		has_out = 0;
	} else
		st = pop_send_line(p, 0, "AUTH %s", mech);
	for (;;) {
		if (st != POP_OK || (st = pop_read_resp(p, &r)) != POP_OK)
			break;
		if (r.status == POP3_OK) {
			/*
			 * +OK is a success only once the mechanism says it is
			 * done: POP3 has no success data (RFC 5034 s.4), so a
			 * server's last word (GSSAPI's mutual authentication,
			 * SCRAM's v=) comes as a "+ " we have answered.  An
			 * early +OK skips the server's proof of itself.
			 */
			if (x != KP_OK || has_out) {
				st = pop_fail(p, POP_PROTO, "%s answered +OK "
				    "before SASL %s had finished: the server "
				    "did not prove who it is", p->host, mech);
				goto out;
			}
			break;
		}
		/* A continuation: "+ " and base64 (RFC 5034 s.4). */
		if (r.textlen > 0 && xsasl_b64_decode(r.text, r.textlen, tok,
		    sizeof(tok), &len) == -1) {
			(void)pop_send_line(p, 0, "*");
			st = pop_fail(p, POP_PROTO, "%s sent invalid base64",
			    p->host);
			goto out;
		}
		if (has_out) {
			/* Our initial response, held back as too long. */
			has_out = 0;
		} else {
			if (r.textlen == 0)
				len = 0;
			x = xsasl_client_step(c, tok, len, &out, &outlen);
			if (x != KP_OK && x != KP_MORE) {
				(void)pop_send_line(p, 0, "*");
				(void)pop_read_resp(p, &r);
				st = pop_fail(p, POP_AUTH, "SASL %s: %s", mech,
				    SHOWN(why, xsasl_client_error(c)));
				goto out;
			}
		}
		if (xsasl_b64_encode(out, outlen, b64, sizeof(b64), &len) ==
		    -1)
			goto toolong;
		st = pop_send_line(p, 1, "%s", b64);
	}
	if (st != POP_OK) {
		st = login_result(p, l, st, mech);
		goto out;
	}
	p->ssf = xsasl_client_ssf(c);
	util_snprintf(method, sizeof(method), "SASL %s%s", mech,
	    p->ssf > 0 ? " + layer" : o.cb_name != NULL &&
	    strstr(mech, "-PLUS") != NULL ? " (channel-bound)" : "");
	st = login_result(p, l, POP_OK, method);
	if (p->ssf > 0) {
		/* RFC 4422 s.3.7: the layer starts after the +OK's CRLF. */
		xsasl_client_codec(c, &codec);
		if (codec.maxout == 0 || xsasl_layer_start(p->io, &codec) ==
		    -1) {
			st = pop_fail(p, POP_LOCAL, "cannot start the security "
			    "layer");
			goto out;
		}
		p->sasl = c;	/* the layer needs it until the end */
		return POP_OK;
	}
	goto out;
toolong:
	st = pop_fail(p, POP_LOCAL, "SASL token too long");
out:
	xsasl_client_free(c);
	return st;
}
