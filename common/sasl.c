/* SPDX-License-Identifier: MIT */
/*
 * common/sasl.c: Cyrus SASL glue.  See sasl.h.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>
#include <sasl/saslutil.h>

#include "common/limits.h"
#include "common/sasl.h"

int
xsasl_b64_encode(const void *in, size_t inlen, char *out, size_t outsize,
    size_t *outlen)
{
	unsigned int n;

	if (inlen > UINT_MAX / 2 || outsize > UINT_MAX ||
	    outsize < XSASL_B64_SIZE(inlen))
		return -1;
	if (sasl_encode64(in, (unsigned int)inlen, out, (unsigned int)outsize,
	    &n) != SASL_OK)
		return -1;
	out[n] = '\0';
	*outlen = n;
	return 0;
}

int
xsasl_b64_decode(const char *in, size_t inlen, void *out, size_t outsize,
    size_t *outlen)
{
	unsigned int n;
	size_t i;

	/* Whole quanta only: RFC 4648 section 3.3 leaves no slack here. */
	if (inlen % 4 != 0 || inlen > UINT_MAX || outsize > UINT_MAX)
		return -1;
	for (i = 0; i < inlen; i++)
		if (in[i] == '\0' || in[i] == '\r' || in[i] == '\n' ||
		    in[i] == ' ')
			return -1;
	if (inlen == 0) {
		if (outsize < 1)
			return -1;
		*(char *)out = '\0';
		*outlen = 0;
		return 0;
	}
	if (sasl_decode64(in, (unsigned int)inlen, out, (unsigned int)outsize,
	    &n) != SASL_OK)
		return -1;
	*outlen = n;
	return 0;
}

/* ---- the server side ---- */

struct xsasl_server {
	struct xsasl_server_opts	 o;
	sasl_conn_t			*conn;
	sasl_callback_t			 cb[5];
	sasl_channel_binding_t		 cb_bind;
	/* Copies: the caller's may not outlive the call. */
	char				 cb_name[XSASL_CB_NAME_MAX];
	unsigned char			 cb_data[XSASL_CB_DATA_MAX];
	char				 err[ERR_MSG_MAX];
	char				 logged[ERR_MSG_MAX];
	/* o.checkpass's verdict and message, once it ran (pw_checked). */
	int				 pw_checked;
	int				 pw_status;
	char				 pw_err[ERR_MSG_MAX];
};

/*
 * The callback table stores every function as int (*)(void); going by
 * way of void (*)(void) keeps -Wcast-function-type quiet.
 */
#define XSASL_CB(f)	((int (*)(void))(void (*)(void))(f))

/* Options for this connection: only what the caller allows. */
static int
xsasl_getopt(void *context, const char *plugin, const char *option,
    const char **result, unsigned *len)
{
	const struct xsasl_server *s = context;
	const char *v = NULL;

	(void)plugin;
	if (s == NULL || option == NULL || result == NULL)
		return SASL_FAIL;
	if (strcmp(option, "mech_list") == 0)
		v = s->o.mechs;
	else if (strcmp(option, "keytab") == 0)
		v = s->o.keytab;
	else if (strcmp(option, "pwcheck_method") == 0 &&
	    s->o.checkpass != NULL)
		/*
		 * No verifier: Cyrus SASL tries pwcheck_method after the
		 * callback refuses, and o.checkpass alone must decide.
		 */
		v = "";
	else if (strcmp(option, "pwcheck_method") == 0)
		v = s->o.sasldb != NULL ? "auxprop" : s->o.pwcheck;
	else if (s->o.sasldb != NULL && strcmp(option, "auxprop_plugin") == 0)
		v = "sasldb";
	else if (s->o.sasldb != NULL && strcmp(option, "sasldb_path") == 0)
		v = s->o.sasldb;
	if (v == NULL)
		return SASL_FAIL;
	*result = v;
	if (len != NULL)
		*len = (unsigned int)strlen(v);
	return SASL_OK;
}

/*
 * Keep the first failure Cyrus SASL logs, for the log line; never more
 * than SASL_LOG_FAIL (higher levels may carry passwords).
 */
static int
xsasl_log(void *context, int level, const char *message)
{
	struct xsasl_server *s = context;

	if (s != NULL && message != NULL && level >= SASL_LOG_ERR &&
	    level <= SASL_LOG_FAIL && s->logged[0] == '\0')
		(void)util_strlcpy(s->logged, message, sizeof(s->logged));
	return SASL_OK;
}

static int
xsasl_proxy(sasl_conn_t *conn, void *context, const char *requested,
    unsigned rlen, const char *auth, unsigned alen, const char *realm,
    unsigned urlen, struct propctx *props)
{
	struct xsasl_server *s = context;
	char rq[512], au[512];

	(void)conn;
	(void)realm;
	(void)urlen;
	(void)props;
	if (rlen >= sizeof(rq) || alen >= sizeof(au))
		return SASL_NOAUTHZ;
	memcpy(rq, requested, rlen);
	rq[rlen] = '\0';
	memcpy(au, auth, alen);
	au[alen] = '\0';
	if (rlen == 0 || strcmp(rq, au) == 0)
		return SASL_OK;
	if (s->o.authorize != NULL && s->o.authorize(s->o.authorize_arg, au,
	    rq) == 1)
		return SASL_OK;
	util_snprintf(s->logged, sizeof(s->logged), "%s may not act as %s",
	    au, rq);
	return SASL_NOAUTHZ;
}

/* SASL_CB_SERVER_USERDB_CHECKPASS: o.checkpass decides. */
static int
xsasl_checkpass_cb(sasl_conn_t *conn, void *context, const char *user,
    const char *pass, unsigned passlen, struct propctx *props)
{
	struct xsasl_server *s = context;

	(void)conn;
	(void)props;
	if (s == NULL || user == NULL || pass == NULL)
		return SASL_BADPARAM;
	s->pw_checked = 1;
	s->pw_err[0] = '\0';
	s->pw_status = s->o.checkpass(s->o.checkpass_arg, user, pass, passlen,
	    s->pw_err, sizeof(s->pw_err));
	if (s->pw_status == KP_OK)
		return SASL_OK;
	return s->pw_status == KP_TEMP ? SASL_FAIL : SASL_BADAUTH;
}

static const sasl_callback_t xsasl_global_cb[] = {
	{ SASL_CB_LOG, XSASL_CB(xsasl_log), NULL },
	{ SASL_CB_LIST_END, NULL, NULL }
};

static int xsasl_server_ready;

void
xsasl_server_done(void)
{
	if (xsasl_server_ready) {
		(void)sasl_server_done();
		xsasl_server_ready = 0;
	}
}

int
xsasl_server_init(const char *app, char *err, size_t errlen)
{
	int rc;

	if (xsasl_server_ready)
		return 0;
	if ((rc = sasl_server_init(xsasl_global_cb, app)) != SASL_OK) {
		util_snprintf(err, errlen, "cannot initialize Cyrus SASL: %s",
		    sasl_errstring(rc, NULL, NULL));
		return -1;
	}
	xsasl_server_ready = 1;
	return 0;
}

struct xsasl_server *
xsasl_server_new(const struct xsasl_server_opts *o, char *err, size_t errlen)
{
	struct xsasl_server *s;
	sasl_security_properties_t sp;
	int rc;

	/* Normally done already, before kpopd forked this session. */
	if (xsasl_server_init("kpopd", err, errlen) == -1)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->o = *o;
	s->o.cb_name = NULL;	/* see cb_bind */
	s->o.cb_data = NULL;
	s->cb[0].id = SASL_CB_GETOPT;
	s->cb[0].proc = XSASL_CB(xsasl_getopt);
	s->cb[0].context = s;
	s->cb[1].id = SASL_CB_LOG;
	s->cb[1].proc = XSASL_CB(xsasl_log);
	s->cb[1].context = s;
	s->cb[2].id = SASL_CB_PROXY_POLICY;
	s->cb[2].proc = XSASL_CB(xsasl_proxy);
	s->cb[2].context = s;
	if (o->checkpass != NULL) {
		s->cb[3].id = SASL_CB_SERVER_USERDB_CHECKPASS;
		s->cb[3].proc = XSASL_CB(xsasl_checkpass_cb);
		s->cb[3].context = s;
		s->cb[4].id = SASL_CB_LIST_END;
	} else
		s->cb[3].id = SASL_CB_LIST_END;
	rc = sasl_server_new(o->service, o->hostname, NULL, NULL, NULL, s->cb,
	    0, &s->conn);
	if (rc != SASL_OK) {
		util_snprintf(err, errlen, "cannot start a SASL connection: %s",
		    sasl_errstring(rc, NULL, NULL));
		free(s);
		return NULL;
	}
	if (o->ext_ssf > 0 && sasl_setprop(s->conn, SASL_SSF_EXTERNAL,
	    &o->ext_ssf) != SASL_OK) {
		util_snprintf(err, errlen, "cannot set the external SSF: %s",
		    sasl_errdetail(s->conn));
		xsasl_server_free(s);
		return NULL;
	}
	if (o->cb_name != NULL) {
		if (o->cb_len > sizeof(s->cb_data) || util_strlcpy(s->cb_name,
		    o->cb_name, sizeof(s->cb_name)) == -1) {
			util_snprintf(err, errlen, "channel binding too long");
			xsasl_server_free(s);
			return NULL;
		}
		memcpy(s->cb_data, o->cb_data, o->cb_len);
		s->cb_bind.name = s->cb_name;
		s->cb_bind.critical = 0;
		s->cb_bind.len = o->cb_len;
		s->cb_bind.data = s->cb_data;
		if (sasl_setprop(s->conn, SASL_CHANNEL_BINDING, &s->cb_bind) !=
		    SASL_OK) {
			util_snprintf(err, errlen, "cannot set the channel "
			    "binding: %s", sasl_errdetail(s->conn));
			xsasl_server_free(s);
			return NULL;
		}
	}
	memset(&sp, 0, sizeof(sp));
	sp.min_ssf = 0;
	sp.max_ssf = o->max_ssf;
	sp.maxbufsize = o->max_ssf > 0 ? SASL_LAYER_MAXBUF : 0;
	/* Plaintext mechanisms are the caller's decision, by transport. */
	sp.security_flags = SASL_SEC_NOANONYMOUS;
	if (sasl_setprop(s->conn, SASL_SEC_PROPS, &sp) != SASL_OK) {
		util_snprintf(err, errlen, "cannot set SASL properties: %s",
		    sasl_errdetail(s->conn));
		xsasl_server_free(s);
		return NULL;
	}
	return s;
}

/* Map a Cyrus SASL result onto ours, with a message kept for the log. */
static int
xsasl_outcome(struct xsasl_server *s, int rc, const char *out,
    unsigned outlen, const void **outp, size_t *outlenp)
{
	*outp = out;
	*outlenp = out != NULL ? outlen : 0;
	/* o.checkpass refused: its verdict and words, not Cyrus SASL's. */
	if (rc != SASL_OK && rc != SASL_CONTINUE && s->pw_checked &&
	    s->pw_status != KP_OK) {
		(void)util_strlcpy(s->err, s->pw_err[0] != '\0' ? s->pw_err :
		    "password refused", sizeof(s->err));
		return s->pw_status == KP_TEMP ? KP_TEMP : KP_AUTH;
	}
	switch (rc) {
	case SASL_OK:
		return KP_OK;
	case SASL_CONTINUE:
		return KP_MORE;
	case SASL_BADAUTH:
	case SASL_NOUSER:
	case SASL_NOAUTHZ:
	case SASL_BADPROT:
	case SASL_BADPARAM:
	case SASL_NOMECH:
	case SASL_TOOWEAK:
	case SASL_ENCRYPT:
	case SASL_EXPIRED:
	case SASL_DISABLED:
	case SASL_NOVERIFY:
	case SASL_BADVERS:
	case SASL_WRONGMECH:
		/* An unknown user reads as a bad password: both KP_AUTH. */
		util_snprintf(s->err, sizeof(s->err), "%s%s%s",
		    sasl_errstring(rc, NULL, NULL), s->logged[0] ? ": " : "",
		    s->logged);
		return KP_AUTH;
	default:
		util_snprintf(s->err, sizeof(s->err), "%s: %s",
		    sasl_errstring(rc, NULL, NULL), s->logged[0] ? s->logged :
		    sasl_errdetail(s->conn));
		return KP_TEMP;
	}
}

int
xsasl_server_start(struct xsasl_server *s, const char *mech, const void *in,
    size_t inlen, int has_in, const void **out, size_t *outlen)
{
	const char *o = NULL;
	unsigned int olen = 0;
	int rc;

	if (inlen > SASL_TOKEN_MAX) {
		util_snprintf(s->err, sizeof(s->err), "initial response too "
		    "long");
		return KP_AUTH;
	}
	rc = sasl_server_start(s->conn, mech, has_in ? in : NULL,
	    (unsigned int)inlen, &o, &olen);
	return xsasl_outcome(s, rc, o, olen, out, outlen);
}

int
xsasl_server_step(struct xsasl_server *s, const void *in, size_t inlen,
    const void **out, size_t *outlen)
{
	const char *o = NULL;
	unsigned int olen = 0;
	int rc;

	if (inlen > SASL_TOKEN_MAX) {
		util_snprintf(s->err, sizeof(s->err), "response too long");
		return KP_AUTH;
	}
	rc = sasl_server_step(s->conn, in, (unsigned int)inlen, &o, &olen);
	return xsasl_outcome(s, rc, o, olen, out, outlen);
}

static const char *
xsasl_prop_str(struct xsasl_server *s, int prop)
{
	const void *v = NULL;

	if (sasl_getprop(s->conn, prop, &v) != SASL_OK || v == NULL)
		return "";
	return v;
}

const char *
xsasl_server_authid(struct xsasl_server *s)
{
	return xsasl_prop_str(s, SASL_AUTHUSER);
}

const char *
xsasl_server_user(struct xsasl_server *s)
{
	return xsasl_prop_str(s, SASL_USERNAME);
}

unsigned int
xsasl_server_ssf(struct xsasl_server *s)
{
	const void *v = NULL;

	if (sasl_getprop(s->conn, SASL_SSF, &v) != SASL_OK || v == NULL)
		return 0;
	return *(const unsigned int *)v;
}

size_t
xsasl_server_maxout(struct xsasl_server *s)
{
	const void *v = NULL;
	unsigned int n;

	if (sasl_getprop(s->conn, SASL_MAXOUTBUF, &v) != SASL_OK || v == NULL)
		return 0;
	n = *(const unsigned int *)v;
	return n < SASL_LAYER_CHUNK ? n : SASL_LAYER_CHUNK;
}

int
xsasl_server_encode(struct xsasl_server *s, const void *in, size_t inlen,
    const void **out, size_t *outlen)
{
	const char *o = NULL;
	unsigned int olen = 0;
	int rc;

	if (inlen > SASL_LAYER_CHUNK) {
		util_snprintf(s->err, sizeof(s->err), "layer block too long");
		return -1;
	}
	if ((rc = sasl_encode(s->conn, in, (unsigned int)inlen, &o, &olen)) !=
	    SASL_OK) {
		util_snprintf(s->err, sizeof(s->err), "security layer, "
		    "encoding: %s", sasl_errdetail(s->conn));
		return -1;
	}
	*out = o;
	*outlen = o != NULL ? olen : 0;
	return 0;
}

int
xsasl_server_decode(struct xsasl_server *s, const void *in, size_t inlen,
    const void **out, size_t *outlen)
{
	const char *o = NULL;
	unsigned int olen = 0;
	int rc;

	if (inlen > SASL_LAYER_READ) {
		util_snprintf(s->err, sizeof(s->err), "layer input too long");
		return -1;
	}
	if ((rc = sasl_decode(s->conn, in, (unsigned int)inlen, &o, &olen)) !=
	    SASL_OK) {
		util_snprintf(s->err, sizeof(s->err), "security layer, "
		    "decoding: %s", sasl_errdetail(s->conn));
		return -1;
	}
	*out = o;
	*outlen = o != NULL ? olen : 0;
	return 0;
}

const char *
xsasl_server_error(struct xsasl_server *s)
{
	return s->err[0] != '\0' ? s->err : "no error";
}

void
xsasl_server_free(struct xsasl_server *s)
{
	if (s == NULL)
		return;
	if (s->conn != NULL)
		sasl_dispose(&s->conn);
	free(s);
}

int
xsasl_checkpass(const struct xsasl_server_opts *o, const char *user,
    const char *password, const char *how, char *err, size_t errlen)
{
	struct xsasl_server *s;
	const char *detail;
	int rc, r;

	if ((s = xsasl_server_new(o, err, errlen)) == NULL)
		return KP_TEMP;
	rc = sasl_checkpass(s->conn, user, (unsigned)strlen(user), password,
	    (unsigned)strlen(password));
	if ((detail = sasl_errdetail(s->conn)) == NULL)
		detail = sasl_errstring(rc, NULL, NULL);
	switch (rc) {
	case SASL_OK:
		util_snprintf(err, errlen, "password for %s verified by %s",
		    user, how);
		r = KP_OK;
		break;
	case SASL_BADAUTH:
		util_snprintf(err, errlen, "Password incorrect for %s (%s): %s",
		    user, how, detail);
		r = KP_AUTH;
		break;
	case SASL_NOUSER:
		util_snprintf(err, errlen, "unknown user %s (%s): %s", user,
		    how, detail);
		r = KP_AUTH;
		break;
	case SASL_NOVERIFY:
	case SASL_EXPIRED:
	case SASL_DISABLED:
		util_snprintf(err, errlen, "%s cannot log in with a password "
		    "(%s): %s", user, how, detail);
		r = KP_AUTH;
		break;
	default:
		util_snprintf(err, errlen, "%s cannot check the password for "
		    "%s: %s%s%s", how, user, detail, s->logged[0] != '\0' ?
		    "; " : "", s->logged);
		r = KP_TEMP;
		break;
	}
	xsasl_server_free(s);
	return r;
}

int
xsasl_checkapop(const struct xsasl_server_opts *o, const char *challenge,
    const char *user, const char *digest, char *err, size_t errlen)
{
	struct xsasl_server *s;
	const void *unused;
	size_t unused_len;
	char resp[512];
	int rc, r;

	if (util_snprintf(resp, sizeof(resp), "%s %s", user, digest) == -1) {
		util_snprintf(err, errlen, "APOP response too long");
		return KP_AUTH;
	}
	if ((s = xsasl_server_new(o, err, errlen)) == NULL)
		return KP_TEMP;
	rc = sasl_checkapop(s->conn, challenge, (unsigned int)strlen(challenge),
	    resp, (unsigned int)strlen(resp));
	r = xsasl_outcome(s, rc, NULL, 0, &unused, &unused_len);
	util_strlcpy(err, r == KP_OK ? "APOP digest verified" :
	    xsasl_server_error(s), errlen);
	xsasl_server_free(s);
	return r;
}

/* ---- the client side ---- */

struct xsasl_client {
	struct xsasl_client_opts	 o;
	sasl_conn_t			*conn;
	sasl_callback_t			 cb[6];
	sasl_channel_binding_t		 cb_bind;
	char				 cb_name[XSASL_CB_NAME_MAX];
	unsigned char			 cb_data[XSASL_CB_DATA_MAX];
	sasl_secret_t			*secret;
	int				 scram_first;	/* the next challenge
						   is SCRAM's server-first */
	char				 err[ERR_MSG_MAX];
};

/*
 * The iteration count i= of a SCRAM server-first message (RFC 5802
 * s.5.1), or 0 if there is none to read.
 */
static unsigned long long
xsasl_scram_iter(const char *in, size_t inlen)
{
	const char *p = in, *end = in + inlen, *comma;
	unsigned long long v;

	while (p < end) {
		comma = memchr(p, ',', (size_t)(end - p));
		if (comma == NULL)
			comma = end;
		if (comma - p > 2 && p[0] == 'i' && p[1] == '=')
			return util_parse_uint(p + 2, (size_t)(comma - p - 2),
			    ULLONG_MAX, &v) == 0 ? v : 0;
		p = comma + 1;
	}
	return 0;
}

static int
xsasl_client_simple(void *context, int id, const char **result,
    unsigned *len)
{
	struct xsasl_client *c = context;
	const char *v;

	switch (id) {
	case SASL_CB_USER:
		v = c->o.user != NULL ? c->o.user : "";
		break;
	case SASL_CB_AUTHNAME:
		v = c->o.authname;
		break;
	default:
		return SASL_BADPARAM;
	}
	if (v == NULL)
		return SASL_FAIL;
	*result = v;
	if (len != NULL)
		*len = (unsigned int)strlen(v);
	return SASL_OK;
}

static int
xsasl_client_pass(sasl_conn_t *conn, void *context, int id,
    sasl_secret_t **psecret)
{
	struct xsasl_client *c = context;
	const char *pw;
	size_t n;

	(void)conn;
	if (id != SASL_CB_PASS || c->o.password == NULL ||
	    (pw = c->o.password(c->o.password_arg)) == NULL)
		return SASL_FAIL;
	n = strlen(pw);
	if (c->secret == NULL) {
		if ((c->secret = calloc(1, sizeof(*c->secret) + n + 1)) ==
		    NULL)
			return SASL_NOMEM;
		c->secret->len = n;
		memcpy(c->secret->data, pw, n);
	}
	*psecret = c->secret;
	return SASL_OK;
}

struct xsasl_client *
xsasl_client_new(const struct xsasl_client_opts *o, char *err, size_t errlen)
{
	static int ready;
	struct xsasl_client *c;
	sasl_security_properties_t sp;
	int rc;

	if (!ready) {
		if ((rc = sasl_client_init(NULL)) != SASL_OK) {
			util_snprintf(err, errlen, "cannot initialize Cyrus "
			    "SASL: %s", sasl_errstring(rc, NULL, NULL));
			return NULL;
		}
		ready = 1;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->o = *o;
	c->cb[0].id = SASL_CB_USER;
	c->cb[0].proc = XSASL_CB(xsasl_client_simple);
	c->cb[0].context = c;
	c->cb[1].id = SASL_CB_AUTHNAME;
	c->cb[1].proc = XSASL_CB(xsasl_client_simple);
	c->cb[1].context = c;
	c->cb[2].id = SASL_CB_PASS;
	c->cb[2].proc = XSASL_CB(xsasl_client_pass);
	c->cb[2].context = c;
	c->cb[3].id = SASL_CB_LIST_END;
	if ((rc = sasl_client_new(o->service, o->hostname, NULL, NULL, c->cb,
	    0, &c->conn)) != SASL_OK) {
		util_snprintf(err, errlen, "cannot start a SASL connection: %s",
		    sasl_errstring(rc, NULL, NULL));
		free(c);
		return NULL;
	}
	if (o->ext_ssf > 0)
		(void)sasl_setprop(c->conn, SASL_SSF_EXTERNAL, &o->ext_ssf);
	if (o->cb_name != NULL && o->cb_len <= sizeof(c->cb_data) &&
	    util_strlcpy(c->cb_name, o->cb_name, sizeof(c->cb_name)) == 0) {
		memcpy(c->cb_data, o->cb_data, o->cb_len);
		c->cb_bind.name = c->cb_name;
		c->cb_bind.critical = 0;
		c->cb_bind.len = o->cb_len;
		c->cb_bind.data = c->cb_data;
		(void)sasl_setprop(c->conn, SASL_CHANNEL_BINDING, &c->cb_bind);
	}
	c->o.cb_name = NULL;
	c->o.cb_data = NULL;
	memset(&sp, 0, sizeof(sp));
	sp.max_ssf = o->max_ssf;
	sp.maxbufsize = o->max_ssf > 0 ? SASL_LAYER_MAXBUF : 0;
	sp.security_flags = SASL_SEC_NOANONYMOUS;
	(void)sasl_setprop(c->conn, SASL_SEC_PROPS, &sp);
	return c;
}

static int
xsasl_client_outcome(struct xsasl_client *c, int rc)
{
	switch (rc) {
	case SASL_OK:
		return KP_OK;
	case SASL_CONTINUE:
		return KP_MORE;
	case SASL_NOMECH:
	case SASL_BADAUTH:
	case SASL_BADPROT:
	case SASL_BADSERV:
	case SASL_TOOWEAK:
		util_snprintf(c->err, sizeof(c->err), "%s",
		    sasl_errdetail(c->conn));
		return KP_AUTH;
	default:
		util_snprintf(c->err, sizeof(c->err), "%s",
		    sasl_errdetail(c->conn));
		return KP_TEMP;
	}
}

int
xsasl_client_start(struct xsasl_client *c, const char *mechlist,
    const char **mech, const void **out, size_t *outlen, int *has_out)
{
	const char *o = NULL;
	unsigned int olen = 0;
	int rc;

	rc = sasl_client_start(c->conn, mechlist, NULL, &o, &olen, mech);
	c->scram_first = *mech != NULL && strncasecmp(*mech, "SCRAM-", 6) == 0;
	*out = o;
	*outlen = o != NULL ? olen : 0;
	*has_out = o != NULL;
	return xsasl_client_outcome(c, rc);
}

int
xsasl_client_step(struct xsasl_client *c, const void *in, size_t inlen,
    const void **out, size_t *outlen)
{
	const char *o = NULL;
	unsigned int olen = 0;
	int rc;

	if (inlen > SASL_TOKEN_MAX) {
		util_snprintf(c->err, sizeof(c->err), "challenge too long");
		return KP_AUTH;
	}
	/*
	 * The server picks SCRAM's iteration count, and Cyrus SASL takes
	 * any: with i=1 the proof we send costs one HMAC per guess to
	 * crack.  Fewer than SASL_SCRAM_ITER_MIN, and no proof is sent.
	 */
	if (c->scram_first) {
		unsigned long long i = xsasl_scram_iter(in, inlen);

		c->scram_first = 0;
		if (i < SASL_SCRAM_ITER_MIN) {
			util_snprintf(c->err, sizeof(c->err), "the server asks "
			    "for %llu SCRAM iterations, fewer than %d (RFC "
			    "7677 s.4): no proof of the password is sent",
			    i, SASL_SCRAM_ITER_MIN);
			return KP_AUTH;
		}
	}
	rc = sasl_client_step(c->conn, in, (unsigned int)inlen, NULL, &o,
	    &olen);
	*out = o;
	*outlen = o != NULL ? olen : 0;
	return xsasl_client_outcome(c, rc);
}

const char *
xsasl_client_error(struct xsasl_client *c)
{
	return c->err[0] != '\0' ? c->err : "no error";
}

unsigned int
xsasl_client_ssf(struct xsasl_client *c)
{
	const void *v = NULL;

	if (sasl_getprop(c->conn, SASL_SSF, &v) != SASL_OK || v == NULL)
		return 0;
	return *(const unsigned int *)v;
}

static int
client_encode(void *arg, const void *in, size_t inlen, const void **out,
    size_t *outlen, char *err, size_t errlen)
{
	struct xsasl_client *c = arg;
	const char *o = NULL;
	unsigned int olen = 0;

	if (sasl_encode(c->conn, in, (unsigned int)inlen, &o, &olen) !=
	    SASL_OK) {
		util_snprintf(err, errlen, "security layer, encoding: %s",
		    sasl_errdetail(c->conn));
		return -1;
	}
	*out = o;
	*outlen = o != NULL ? olen : 0;
	return 0;
}

static int
client_decode(void *arg, const void *in, size_t inlen, const void **out,
    size_t *outlen, char *err, size_t errlen)
{
	struct xsasl_client *c = arg;
	const char *o = NULL;
	unsigned int olen = 0;

	if (sasl_decode(c->conn, in, (unsigned int)inlen, &o, &olen) !=
	    SASL_OK) {
		util_snprintf(err, errlen, "security layer, decoding: %s",
		    sasl_errdetail(c->conn));
		return -1;
	}
	*out = o;
	*outlen = o != NULL ? olen : 0;
	return 0;
}

void
xsasl_client_codec(struct xsasl_client *c, struct xsasl_codec *codec)
{
	const void *v = NULL;
	unsigned int n = 0;

	if (sasl_getprop(c->conn, SASL_MAXOUTBUF, &v) == SASL_OK && v != NULL)
		n = *(const unsigned int *)v;
	memset(codec, 0, sizeof(*codec));
	codec->encode = client_encode;
	codec->decode = client_decode;
	codec->arg = c;
	codec->maxout = n < SASL_LAYER_CHUNK ? n : SASL_LAYER_CHUNK;
}

void
xsasl_client_free(struct xsasl_client *c)
{
	if (c == NULL)
		return;
	if (c->conn != NULL)
		sasl_dispose(&c->conn);
	if (c->secret != NULL) {
		util_wipe(c->secret->data, c->secret->len);
		free(c->secret);
	}
	free(c);
}
