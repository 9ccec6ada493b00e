/* SPDX-License-Identifier: MIT */
/*
 * kpopd/mon-auth.c: the session monitor's logins by password (USER/PASS,
 * and the password check of AUTH PLAIN and LOGIN), APOP and KPOP (krb5
 * sendauth), and what every login shares: the count of
 * attempts, the answer (M_AUTH_RESULT), a refusal after the delay, the
 * SASL proxy policy for Kerberos principals.  A handler that proves who
 * the user is returns MON_LOGIN; monitor.c then finishes the login.
 */
#include "config.h"

#include <krb5.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/krb5tok.h"
#include "common/log.h"
#include "common/sasl.h"
#include "kpopd/kpopd.h"
#include "kpopd/mon-int.h"
#include "kpopd/passwd.h"
#include "kpopd/pwcache.h"
#include "kpopd/template.h"
#include "kpopd/user.h"

/* m->user has proved who they are, by method: monitor.c goes on. */
int
mon_auth_proved(struct mon *m, const char *method)
{
	util_strlcpy(m->method, method, sizeof(m->method));
	return MON_LOGIN;
}

/*
 * Drop the security layer of a SASL exchange that did not end in a login
 * (refused after it, or followed by a new attempt): a later login by any
 * other method must not start it.
 */
static void
layer_drop(struct mon *m)
{
	xsasl_server_free(m->layer);
	m->layer = NULL;
}

int
mon_auth_reply(struct mon *m, enum kp_status r, const char *text)
{
	if (r != KP_OK)
		layer_drop(m);
	mon_report_login(m, r);
	ipc_reset(&m->out);
	ipc_put_status(&m->out, r);
	ipc_put_str(&m->out, r == KP_OK ? m->user : "");
	ipc_put_str(&m->out, text);
	ipc_put_u32(&m->out, r == KP_OK && m->layer != NULL ?
	    (uint32_t)xsasl_server_maxout(m->layer) : 0);
	return ipc_send(m->sock, M_AUTH_RESULT, &m->out, -1);
}

/*
 * Count a login attempt (mon_cmds[], MC_ATTEMPT): 1 if it may go on, 0
 * (logged) past the limit.
 */
int
mon_auth_attempt(struct mon *m)
{
	layer_drop(m);
	if (++m->tries <= MON_AUTH_TRIES)
		return 1;
	log_notice("too many login attempts from %s: ending the session",
	    m->s->peer);
	return 0;
}

/*
 * The login-failure line kpopd(8) documents for fail2ban and log parsers:
 * "login-failed peer= user= method= reason=", reason last, free text.
 * who is the name tried, or "(SASL)" when the exchange never named one.
 */
static void
log_failed(const struct mon *m, const char *who, const char *why)
{
	/* Escaped, at most four bytes each; a long name is cut ("..."). */
	char peer[4 * sizeof(m->s->peer)], user[160], method[64];

	(void)log_value(peer, sizeof(peer), m->s->peer);
	(void)log_value(user, sizeof(user), strcmp(who, "(SASL)") == 0 ?
	    "" : who);
	mon_auth_method(m, method, sizeof(method));
	log_notice("login-failed peer=%s user=%s method=%s reason=%s", peer,
	    user, method, why);
}

void
mon_auth_method(const struct mon *m, char *buf, size_t len)
{
	char sasl[8 + KPOPD_MECH_MAX];
	const char *method = "";

	switch (m->req) {
	case M_AUTH_PASS:
		method = "password";
		break;
	case M_AUTH_APOP:
		method = "APOP";
		break;
	case M_KPOP_APREQ:
	case M_KPOP_USER:
		method = "KPOP";
		break;
	case M_SASL_START:
	case M_SASL_STEP:
		util_snprintf(sasl, sizeof(sasl), "SASL-%s", m->mech);
		method = sasl;
		break;
	default:
		break;
	}
	(void)log_value(buf, len, method);
}

/* A refused login: logged with the reason, answered after the delay. */
int
mon_auth_refused(struct mon *m, const char *who, const char *why)
{
	log_failed(m, who, why);
	mon_limits_fail_wait(m);
	return mon_auth_reply(m, KP_AUTH, "invalid user name or password");
}

/*
 * The password check password_check names, for user: KP_OK, KP_AUTH or
 * KP_TEMP, with a message for the log in err.  USER/PASS and the SASL
 * mechanisms that carry a password (PLAIN, LOGIN) go through it alike.
 */
static int
password_check(struct mon *m, const char *user, const char *pass,
    char *err, size_t errlen)
{
	char princ[KPOPD_USER_MAX + 64], svc[300];
	int r;

	if (!user_name_ok(user)) {
		util_strlcpy(err, "unacceptable user name", errlen);
		return KP_AUTH;
	}
	if (strcmp(m->c->password_check, "krb5") == 0) {
		if (template_expand(m->c->krb5_principal, user, "", princ,
		    sizeof(princ), NULL) == -1) {
			util_strlcpy(err, "krb5_principal does not expand",
			    errlen);
			return KP_TEMP;
		}
		util_snprintf(svc, sizeof(svc), "%s/%s", m->c->service,
		    m->c->hostname);
		/* auth_cache_ttl: the master may know this pair already. */
		switch (mon_limits_pw_cached(m, user, pass)) {
		case PWC_GOOD:
			log_debug("%s: password accepted from the cache", user);
			return KP_OK;
		case PWC_BAD:
			util_strlcpy(err, "password refused (cached: the KDC "
			    "refused the same one moments ago)", errlen);
			return KP_AUTH;
		default:
			break;
		}
		r = pw_check_krb5(princ, pass, m->c->keytab, svc, err,
		    errlen);
		mon_limits_pw_checked(m, r);
		return r;
	}
	if (strcmp(m->c->password_check, "sasl") == 0)
		return pw_check_sasl(user, pass, m->c->service,
		    m->c->hostname, m->c->sasldb, err, errlen);
	util_strlcpy(err, "password logins are disabled (password_check = "
	    "none)", errlen);
	return KP_AUTH;
}

int
mon_auth_pass(struct mon *m)
{
	char pass[KPOPD_PASS_MAX], err[512];
	int r;

	if (ipc_get_str(&m->in, m->user, sizeof(m->user)) == -1 ||
	    ipc_get_str(&m->in, pass, sizeof(pass)) == -1 ||
	    ipc_end(&m->in) == -1)
		return -1;
	r = password_check(m, m->user, pass, err, sizeof(err));
	util_wipe(pass, sizeof(pass));
	if (r == KP_TEMP) {
		log_err("cannot check the password of %s now (the client "
		    "is told to try later): %s", m->user, err);
		return mon_auth_reply(m, KP_TEMP,
		    "cannot check passwords now, try again later");
	}
	if (r != KP_OK)
		return mon_auth_refused(m, m->user, err);
	return mon_auth_proved(m, "password");
}

/*
 * xsasl_server_opts.checkpass of PLAIN and LOGIN, arg the struct mon:
 * USER/PASS's check, for the authentication identity Cyrus SASL read
 * from the exchange (the proxy policy has it act as no one else).  The
 * name stays in m->user for the log line of a refusal.
 */
int
mon_auth_checkpass(void *arg, const char *user, const char *pass,
    size_t passlen, char *err, size_t errlen)
{
	struct mon *m = arg;
	char pw[PW_PASSWORD_MAX + 1];
	int r;

	if (util_strlcpy(m->user, user, sizeof(m->user)) == -1) {
		util_strlcpy(err, "unacceptable user name", errlen);
		return KP_AUTH;
	}
	if ((r = pw_check_form(pass, passlen, err, errlen)) != KP_OK)
		return r;
	memcpy(pw, pass, passlen);
	pw[passlen] = '\0';
	r = password_check(m, m->user, pw, err, errlen);
	util_wipe(pw, sizeof(pw));
	return r;
}

/* ---- What SASL logins share with the others ---- */

/* Whether mech's identities are Kerberos principals. */
int
mon_auth_krb5_mech(const char *mech)
{
	return strcmp(mech, "GSSAPI") == 0 || strncmp(mech, "GS2-KRB5", 8) == 0;
}

/*
 * The SASL proxy policy: may authid act as authzid?  For Kerberos
 * principals: system users by krb5_kuserok (.k5login, auth_to_local);
 * virtual users only as the name the principal maps to, since kuserok
 * says yes to any name without a passwd entry.  Other mechanisms: no.
 */
int
mon_auth_authorize(void *arg, const char *authid, const char *authzid)
{
	struct mon *m = arg;

	if (!mon_auth_krb5_mech(m->mech))
		return 0;
	return user_principal_may(strcmp(m->c->user_type, "virtual") == 0,
	    authid, authzid);
}

/*
 * The likely cause behind a Kerberos failure message (from the GSSAPI
 * plugin or krb5), in words an admin can act on; NULL when unknown.
 */
const char *
mon_auth_krb5_hint(const char *msg)
{
	static const struct {
		const char	*needle;
		const char	*hint;
	} hints[] = {
		{ "No key table entry found", "the keytab has no key for the "
		    "service principal the client asked for: check hostname "
		    "and the keytab (kpopd -t)" },
		{ "Key table file", "the keytab cannot be read: check keytab "
		    "and its permissions (kpopd -t)" },
		{ "Clock skew too great", "the clocks of the client, kpopd or "
		    "the KDC differ by more than 5 minutes" },
		{ "replay", "a replayed authenticator, or two logins in the "
		    "same instant with the same ticket" },
		{ "Ticket expired", "the client's ticket has expired: kinit "
		    "again" },
		{ "integrity check failed", "the keytab's key is not the "
		    "KDC's: the keytab is out of date (key version)" },
		{ "Cannot find KDC", "the KDC cannot be found from krb5.conf" },
		{ "Wrong principal", "the client asked for another service "
		    "principal than kpopd's" },
	};
	size_t i;

	for (i = 0; i < KP_NELEM(hints); i++)
		if (strcasestr(msg, hints[i].needle) != NULL)
			return hints[i].hint;
	return NULL;
}

/* The Cyrus SASL options every use shares: service, host, sasldb. */
void
mon_auth_sasl_opts(const struct mon *m, struct xsasl_server_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->service = m->c->service;
	o->hostname = m->c->hostname;
	o->sasldb = m->c->sasldb;
}

/* ---- KPOP (krb5 sendauth on 1109) ---- */

static int
kpop_reply(struct mon *m, int ok, const void *data, size_t len)
{
	ipc_reset(&m->out);
	ipc_put_u32(&m->out, (uint32_t)ok);
	ipc_put_bytes(&m->out, data, len);
	return ipc_send(m->sock, M_KPOP_RESULT, &m->out, -1);
}

/*
 * Verify the client's AP-REQ with the service key from the keytab, with
 * the replay cache on (krb5_rd_req opens the default one for the server
 * principal).  Answers the AP-REP for mutual authentication, or a
 * KRB-ERROR for the client to show.
 */
int
mon_auth_kpop_apreq(struct mon *m)
{
	krb5_context ctx = NULL;
	krb5_auth_context ac = NULL;
	krb5_keytab kt = NULL;
	krb5_principal server = NULL;
	krb5_ticket *tkt = NULL;
	krb5_flags opts = 0;
	krb5_data in, rep, errpkt;
	krb5_error_code ret;
	const void *req;
	char svc[300], *cname = NULL;
	const char *msg, *hint;
	size_t reqlen;
	int r;

	memset(&rep, 0, sizeof(rep));
	memset(&errpkt, 0, sizeof(errpkt));
	if (ipc_get_bytes(&m->in, &req, &reqlen) == -1 ||
	    ipc_end(&m->in) == -1)
		return -1;
	if ((ret = krb5_init_context(&ctx)) != 0) {
		log_err("KPOP login refused: Kerberos cannot start "
		    "(error %ld)", (long)ret);
		return kpop_reply(m, 0, NULL, 0);
	}
	util_snprintf(svc, sizeof(svc), "%s/%s", m->c->service,
	    m->c->hostname);
	if ((ret = krb5_parse_name(ctx, svc, &server)) != 0 ||
	    (ret = (m->c->keytab != NULL ? krb5_kt_resolve(ctx, m->c->keytab,
	    &kt) : krb5_kt_default(ctx, &kt))) != 0 ||
	    (ret = krb5_auth_con_init(ctx, &ac)) != 0)
		goto refused;
	in.magic = 0;
	in.data = (char *)(uintptr_t)req;
	in.length = (unsigned int)reqlen;
	if ((ret = krb5_rd_req(ctx, &ac, &in, server, kt, &opts, &tkt)) != 0)
		goto refused;
	if ((ret = krb5_unparse_name(ctx, tkt->enc_part2->client, &cname)) !=
	    0 || ((opts & AP_OPTS_MUTUAL_REQUIRED) &&
	    (ret = krb5_mk_rep(ctx, ac, &rep)) != 0))
		goto refused;
	util_strlcpy(m->principal, cname, sizeof(m->principal));
	log_info("KPOP: %s authenticated (the session is not encrypted)",
	    cname);
	r = kpop_reply(m, 1, rep.data, rep.length);
	goto out;
refused:
	msg = krb5_get_error_message(ctx, ret);
	if (krb5tok_sname(req, reqlen, m->asked, sizeof(m->asked)) == -1)
		util_strlcpy(m->asked, "(not a ticket)", sizeof(m->asked));
	hint = mon_auth_krb5_hint(msg);
	{
		char why[1024];

		util_snprintf(why, sizeof(why), "ticket refused: %s%s%s; the "
		    "client asked for %s, kpopd is %s", msg, hint != NULL ?
		    "; likely cause: " : "", hint != NULL ? hint : "",
		    m->asked, svc);
		log_failed(m, "", why);
	}
	krb5_free_error_message(ctx, msg);
	{
		krb5_error e;

		memset(&e, 0, sizeof(e));
		e.error = ret > ERROR_TABLE_BASE_krb5 &&
		    ret < ERROR_TABLE_BASE_krb5 + 128 ?
		    (krb5_ui_4)(ret - ERROR_TABLE_BASE_krb5) :
		    (krb5_ui_4)(KRB5KRB_ERR_GENERIC - ERROR_TABLE_BASE_krb5);
		e.server = server;
		(void)krb5_us_timeofday(ctx, &e.stime, &e.susec);
		if (server == NULL || krb5_mk_error(ctx, &e, &errpkt) != 0)
			memset(&errpkt, 0, sizeof(errpkt));
	}
	mon_limits_fail_wait(m);
	r = kpop_reply(m, 0, errpkt.data, errpkt.length);
out:
	krb5_free_data_contents(ctx, &rep);
	krb5_free_data_contents(ctx, &errpkt);
	krb5_free_unparsed_name(ctx, cname);
	if (tkt != NULL)
		krb5_free_ticket(ctx, tkt);
	if (ac != NULL)
		krb5_auth_con_free(ctx, ac);
	if (kt != NULL)
		krb5_kt_close(ctx, kt);
	krb5_free_principal(ctx, server);
	krb5_free_context(ctx);
	return r;
}

/*
 * After a good AP-REQ, USER names the local user: the principal must be
 * allowed to act as it (krb5_kuserok for system users; for virtual ones,
 * the name it maps to).
 */
int
mon_auth_kpop_user(struct mon *m)
{
	char why[KPOPD_USER_MAX * 2 + 64];
	int allowed;

	if (ipc_get_str(&m->in, m->user, sizeof(m->user)) == -1 ||
	    ipc_end(&m->in) == -1)
		return -1;
	util_strlcpy(m->mech, "GSSAPI", sizeof(m->mech));
	allowed = user_name_ok(m->user) &&
	    mon_auth_authorize(m, m->principal, m->user) == 1;
	if (!allowed) {
		util_snprintf(why, sizeof(why), "KPOP principal %s may not "
		    "act as %s", m->principal, m->user);
		return mon_auth_refused(m, m->user, why);
	}
	return mon_auth_proved(m, "KPOP");
}

/* ---- APOP ---- */

/* The greeting's timestamp (RFC 1939 s.7): new for every session. */
int
mon_auth_apop_challenge(struct mon *m)
{
	unsigned char rnd[8];
	char hex[17];
	size_t i;

	if (!m->c->apop || ipc_end(&m->in) == -1 ||
	    RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	for (i = 0; i < sizeof(rnd); i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	util_snprintf(m->apop_challenge, sizeof(m->apop_challenge),
	    "<%ld.%ld.%s@%s>", (long)getpid(), (long)time(NULL), hex,
	    m->c->hostname);
	ipc_reset(&m->out);
	ipc_put_str(&m->out, m->apop_challenge);
	return ipc_send(m->sock, M_APOP_CHALLENGE, &m->out, -1);
}

int
mon_auth_apop(struct mon *m)
{
	struct xsasl_server_opts o;
	char digest[64], err[300];
	int r;

	if (ipc_get_str(&m->in, m->user, sizeof(m->user)) == -1 ||
	    ipc_get_str(&m->in, digest, sizeof(digest)) == -1 ||
	    ipc_end(&m->in) == -1)
		return -1;
	if (!user_name_ok(m->user))
		return mon_auth_refused(m, m->user, "unacceptable user name");
	mon_auth_sasl_opts(m, &o);
	o.mechs = "";
	r = xsasl_checkapop(&o, m->apop_challenge, m->user, digest, err,
	    sizeof(err));
	if (r == KP_TEMP) {
		log_err("cannot check the APOP login of %s now (the client "
		    "is told to try later): %s", m->user, err);
		return mon_auth_reply(m, KP_TEMP,
		    "cannot check passwords now, try again later");
	}
	if (r != KP_OK)
		return mon_auth_refused(m, m->user, err);
	return mon_auth_proved(m, "APOP");
}
