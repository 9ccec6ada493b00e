/* SPDX-License-Identifier: MIT */
/*
 * kpopd/mon-sasl.c: the session monitor's SASL logins (RFC 5034): an
 * exchange through common/sasl.c's xsasl_server, a fresh connection per
 * attempt, with only sasl_mechanisms allowed; a Kerberos principal is
 * mapped to its local user.  The mechanisms that carry a password (PLAIN,
 * LOGIN) go where USER/PASS may, and Cyrus SASL hands their password to
 * USER/PASS's check (mon_auth_checkpass), never to one of its own.  A
 * security layer, if one is negotiated, is kept for the session
 * (m->layer) and runs for the net process.
 */
#include "config.h"

#include <string.h>

#include "common/ipc.h"
#include "common/krb5tok.h"
#include "common/log.h"
#include "common/mech.h"
#include "common/sasl.h"
#include "kpopd/kpopd.h"
#include "kpopd/mon-int.h"
#include "kpopd/user.h"

static int
sasl_cont(struct mon *m, const void *data, size_t len)
{
	ipc_reset(&m->out);
	ipc_put_bytes(&m->out, data, len);
	return ipc_send(m->sock, M_SASL_CONT, &m->out, -1);
}

/* The exchange is over and it succeeded: who is logging in? */
static int
sasl_done(struct mon *m)
{
	char authid[KPOPD_USER_MAX], user[KPOPD_USER_MAX], method[64];
	unsigned int ssf = xsasl_server_ssf(m->sasl);

	/* Copies: the connection that holds them is freed on the way. */
	if (util_strlcpy(authid, xsasl_server_authid(m->sasl),
	    sizeof(authid)) == -1 || util_strlcpy(user,
	    xsasl_server_user(m->sasl), sizeof(user)) == -1) {
		xsasl_server_free(m->sasl);
		m->sasl = NULL;
		return mon_auth_refused(m, "(SASL)", "identity too long");
	}

	if (ssf > 0 && xsasl_server_maxout(m->sasl) == 0) {
		xsasl_server_free(m->sasl);
		m->sasl = NULL;
		return mon_auth_refused(m, authid, "a security layer with no "
		    "room for data was negotiated");
	}
	if (mon_auth_krb5_mech(m->mech) && (user[0] == '\0' ||
	    strcmp(user, authid) == 0)) {
		if (user_from_principal(authid, m->user,
		    sizeof(m->user)) == -1) {
			char why[300];

			util_snprintf(why, sizeof(why), "principal %s maps to "
			    "no local user (realm not accepted?)", authid);
			xsasl_server_free(m->sasl);
			m->sasl = NULL;
			return mon_auth_refused(m, authid, why);
		}
	} else {
		/* authzid, if any, was allowed by mon_auth_authorize. */
		util_strlcpy(m->user, user, sizeof(m->user));
	}
	log_info("%s authenticated by %s as %s%s%s%s", authid, m->mech,
	    m->user, ssf > 0 ? ", with a security layer" : "",
	    m->bound[0] != '\0' ? ", channel binding " : "", m->bound);
	util_snprintf(method, sizeof(method), "SASL %s%s", m->mech,
	    ssf > 1 ? " + privacy layer" : ssf == 1 ? " + integrity layer" :
	    "");
	if (ssf > 0)
		m->layer = m->sasl;	/* kept: it encodes from now on */
	else
		xsasl_server_free(m->sasl);
	m->sasl = NULL;
	return mon_auth_proved(m, method);
}

/* Act on the outcome of a start or step. */
static int
sasl_outcome(struct mon *m, int r, const void *out, size_t outlen)
{
	switch (r) {
	case KP_MORE:
		return sasl_cont(m, out, outlen);
	case KP_OK:
		if (outlen > 0) {
			/* RFC 5034 s.4: final data goes as a challenge. */
			m->sasl_final = 1;
			return sasl_cont(m, out, outlen);
		}
		return sasl_done(m);
	case KP_TEMP:
		{
			const char *hint = mon_auth_krb5_hint(
			    xsasl_server_error(m->sasl));

			log_err("cannot check a SASL %s login now (the client "
			    "is told to try later): %s%s%s%s%s", m->mech,
			    xsasl_server_error(m->sasl),
			    hint != NULL ? "; likely cause: " : "",
			    hint != NULL ? hint : "", m->asked[0] != '\0' ?
			    "; the client asked for " : "", m->asked);
		}
		xsasl_server_free(m->sasl);
		m->sasl = NULL;
		return mon_auth_reply(m, KP_TEMP,
		    "cannot authenticate now, try again later");
	default:
		{
			char why[700];

			const char *hint = mon_auth_krb5_hint(
			    xsasl_server_error(m->sasl));

			util_snprintf(why, sizeof(why), "SASL %s: %s%s%s%s%s",
			    m->mech, xsasl_server_error(m->sasl),
			    hint != NULL ? "; likely cause: " : "",
			    hint != NULL ? hint : "", m->asked[0] != '\0' ?
			    "; the client asked for " : "", m->asked);
			xsasl_server_free(m->sasl);
			m->sasl = NULL;
			/* PLAIN and LOGIN: the name the password was for. */
			return mon_auth_refused(m, m->user[0] != '\0' ?
			    m->user : "(SASL)", why);
		}
	}
}

/* Whether mech is one the configuration allows. */
static int
mech_allowed(const struct kpopd_conf *c, const char *mech)
{
	return c->sasl_mechanisms != NULL &&
	    mech_listed(c->sasl_mechanisms, mech, strlen(mech));
}

/*
 * Note the channel binding a GS2-style client (SCRAM, GS2-KRB5) asks for
 * in its first message's header (RFC 5802 s.7: "p=type," after an
 * optional "F,"), for the log; Cyrus SASL checks it.
 */
static void
note_binding(struct mon *m, const void *data, size_t len)
{
	const char *p = data;
	size_t i;

	m->bound[0] = '\0';
	m->sasl_first = 0;
	if (mon_auth_krb5_mech(m->mech) && krb5tok_sname(data, len, m->asked,
	    sizeof(m->asked)) == -1)
		m->asked[0] = '\0';
	if (len >= 2 && p[0] == 'F' && p[1] == ',') {
		p += 2;
		len -= 2;
	}
	if (len < 3 || p[0] != 'p' || p[1] != '=')
		return;
	for (i = 2; i < len && p[i] != ',' && i - 2 < sizeof(m->bound) - 1;
	    i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return;
	if (i < len && p[i] == ',') {
		memcpy(m->bound, p + 2, i - 2);
		m->bound[i - 2] = '\0';
	}
}

int
mon_sasl_start(struct mon *m)
{
	struct xsasl_server_opts o;
	const void *in, *out = NULL, *cb;
	char err[256], cb_name[32];
	size_t inlen, outlen = 0, i, cblen;
	uint32_t has_in, tls_ssf;
	int r, password;

	xsasl_server_free(m->sasl);
	m->sasl = NULL;
	m->sasl_final = 0;
	if (ipc_get_str(&m->in, m->mech, sizeof(m->mech)) == -1 ||
	    ipc_get_u32(&m->in, &has_in) == -1 ||
	    ipc_get_bytes(&m->in, &in, &inlen) == -1 ||
	    ipc_get_u32(&m->in, &tls_ssf) == -1 ||
	    ipc_get_str(&m->in, cb_name, sizeof(cb_name)) == -1 ||
	    ipc_get_bytes(&m->in, &cb, &cblen) == -1 ||
	    ipc_end(&m->in) == -1 || tls_ssf > 256 || cblen > 64)
		return -1;
	for (i = 0; m->mech[i] != '\0'; i++)
		if (m->mech[i] >= 'a' && m->mech[i] <= 'z')
			m->mech[i] = (char)(m->mech[i] - 'a' + 'A');
	if (!mech_allowed(m->c, m->mech))
		return mon_auth_refused(m, "(SASL)", "mechanism not allowed");
	m->user[0] = '\0';
	password = mech_password(m->mech, strlen(m->mech));
	/* The net process offers them only so; it is not trusted. */
	if (password && strcmp(m->c->password_check, "none") == 0)
		return mon_auth_refused(m, "(SASL)", "password logins are "
		    "disabled (password_check = none)");
	if (password && tls_ssf == 0 && !m->c->allow_plaintext_auth)
		return mon_auth_refused(m, "(SASL)", "a password without TLS "
		    "(allow_plaintext_auth = no)");
	mon_auth_sasl_opts(m, &o);
	if (password) {
		o.checkpass = mon_auth_checkpass;
		o.checkpass_arg = m;
	}
	o.mechs = m->c->sasl_mechanisms;
	o.keytab = m->c->keytab;
	/* Inside TLS a layer adds nothing: TLS is the external SSF. */
	o.max_ssf = tls_ssf > 0 ? 0 : m->c->sasl_max_ssf;
	o.ext_ssf = tls_ssf;
	if (cb_name[0] != '\0') {
		o.cb_name = cb_name;
		o.cb_data = cb;
		o.cb_len = cblen;
	}
	o.authorize = mon_auth_authorize;
	o.authorize_arg = m;
	m->sasl_first = 1;
	if (has_in)
		note_binding(m, in, inlen);
	if ((m->sasl = xsasl_server_new(&o, err, sizeof(err))) == NULL) {
		log_err("cannot start a SASL login: %s", err);
		return mon_auth_reply(m, KP_TEMP,
		    "cannot authenticate now, try again later");
	}
	r = xsasl_server_start(m->sasl, m->mech, in, inlen, has_in != 0, &out,
	    &outlen);
	return sasl_outcome(m, r, out, outlen);
}

int
mon_sasl_step(struct mon *m)
{
	const void *in, *out = NULL;
	size_t inlen, outlen = 0;
	int r;

	if (ipc_get_bytes(&m->in, &in, &inlen) == -1 ||
	    ipc_end(&m->in) == -1)
		return -1;
	if (m->sasl_final) {
		m->sasl_final = 0;
		if (inlen != 0) {
			xsasl_server_free(m->sasl);
			m->sasl = NULL;
			return mon_auth_refused(m, "(SASL)", "data after the "
			    "final challenge");
		}
		return sasl_done(m);
	}
	if (m->sasl_first)
		note_binding(m, in, inlen);
	r = xsasl_server_step(m->sasl, in, inlen, &out, &outlen);
	return sasl_outcome(m, r, out, outlen);
}

int
mon_sasl_abort(struct mon *m)
{
	if (ipc_end(&m->in) == -1)
		return -1;
	xsasl_server_free(m->sasl);
	m->sasl = NULL;
	m->sasl_final = 0;
	return 0;
}
