/* SPDX-License-Identifier: MIT */
/*
 * kpopd/mon-int.h: what the session monitor's files share (monitor.c: the
 * dispatch and the session; mon-auth.c: logins by password, APOP and
 * KPOP, and what all logins share; mon-sasl.c: SASL logins), and nothing
 * else includes.
 */
#ifndef KPOPD_MON_INT_H
#define KPOPD_MON_INT_H

#include <stddef.h>
#include <stdint.h>

#include "common/ipc.h"
#include "common/krb5tok.h"
#include "common/sasl.h"
#include "kpopd/kpopd.h"

struct maildrop;
struct xsasl_server_opts;

/* The phase of the session (one at a time). */
enum mon_state { MS_PREAUTH = 1, MS_AUTHED = 2, MS_DONE = 4 };

struct mon {
	const struct session_start	*s;
	const struct kpopd_conf		*c;
	enum mon_state			 state;
	int				 sock;
	struct maildrop			*md;
	unsigned int			 tries;
	uint32_t			 used;	/* MC_ONCE requests made */
	uint32_t			 req;	/* the request answered now */
	char				 user[KPOPD_USER_MAX];
	char				 method[64];	/* of a MON_LOGIN */
	struct xsasl_server		*sasl;	/* an AUTH exchange */
	struct xsasl_server		*layer;	/* its security layer */
	int				 sasl_final;	/* final data sent */
	int				 sasl_first;	/* no client data yet */
	char				 bound[XSASL_CB_NAME_MAX];
	/* The service principal the client's ticket is for, for logs. */
	char				 asked[KRB5TOK_NAME_MAX];
	char				 mech[KPOPD_MECH_MAX];
	/* The principal a good KPOP AP-REQ proved. */
	char				 principal[KPOPD_USER_MAX];
	char				 apop_challenge[320];
	struct ipc_buf			 in, out;
};

/*
 * A request handler, its body in m->in: returns 0 (answered), -1 (end
 * the session), or MON_LOGIN: m->user has proved who they are, by
 * m->method, and monitor.c finishes the login.
 */
#define MON_LOGIN	1
typedef int mon_handler(struct mon *);

/* mon-auth.c: the handlers of M_AUTH_PASS, M_APOP_CHALLENGE, M_AUTH_APOP,
   M_KPOP_APREQ and M_KPOP_USER. */
mon_handler	mon_auth_pass, mon_auth_apop_challenge, mon_auth_apop,
		mon_auth_kpop_apreq, mon_auth_kpop_user;

/* mon-sasl.c: the handlers of M_SASL_START, M_SASL_STEP, M_SASL_ABORT. */
mon_handler	mon_sasl_start, mon_sasl_step, mon_sasl_abort;

/*
 * mon-auth.c: answer a login with M_AUTH_RESULT (a refusal drops any
 * security layer).  Returns 0 or -1.
 */
int	mon_auth_reply(struct mon *, enum kp_status, const char *text)
	    KP_NONNULL(1, 3);
/* mon-auth.c: a refused login: logged with why, answered after the
   delay.  Returns 0 or -1. */
int	mon_auth_refused(struct mon *, const char *who, const char *why)
	    KP_NONNULL(1, 2, 3);
/* mon-auth.c: record how the user proved who they are; MON_LOGIN. */
int	mon_auth_proved(struct mon *, const char *method) KP_NONNULL(1, 2);
/* mon-auth.c: count a login attempt; 1 if it may go on, 0 (logged) not. */
int	mon_auth_attempt(struct mon *) KP_NONNULL(1);
/*
 * mon-auth.c: the login method of the request m->req (the last one before
 * the login) as the log's method= field: password, APOP, KPOP, SASL-MECH,
 * or "-".
 */
void	mon_auth_method(const struct mon *, char *buf, size_t len)
	    KP_NONNULL(1, 2);
/* mon-auth.c: whether mech's identities are Kerberos principals. */
int	mon_auth_krb5_mech(const char *mech) KP_NONNULL(1);
/* mon-auth.c: the SASL proxy policy (xsasl_server_opts.authorize), arg
   the struct mon. */
int	mon_auth_authorize(void *arg, const char *authid, const char *authzid);
/* mon-auth.c: the likely cause of a Kerberos failure message, or NULL. */
const char *mon_auth_krb5_hint(const char *msg) KP_NONNULL(1);
/* mon-auth.c: the Cyrus SASL options every use shares. */
void	mon_auth_sasl_opts(const struct mon *, struct xsasl_server_opts *)
	    KP_NONNULL(1, 2);

#endif
