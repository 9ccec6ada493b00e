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
#include "common/limits.h"
#include "common/sasl.h"
#include "kpopd/kpopd.h"

struct maildrop;
struct xsasl_server_opts;

/* The phase of the session (one at a time). */
enum mon_state { MS_PREAUTH = 1, MS_AUTHED = 2, MS_DONE = 4 };

struct mon {
	const struct session_start	*s;	/* &ss */
	struct session_start		 ss;	/* ours: peer may change */
	const struct kpopd_conf		*c;
	enum mon_state			 state;
	int				 sock;
	int				 report;	/* to the master, or -1 */
	int				 client;	/* a copy, for a kick; -1 */
	uint32_t			 req;	/* the request being answered */
	uint64_t			 bytes;	/* the net process says sent */
	uint64_t			 bytes_told;	/* to the master */
	int64_t				 told_ms;
	uint32_t			 ask_seq;	/* the last question */
	int				 kicked;	/* while asking one */
	/* The password-check key (pwcache.h) of the password being
	   checked; pw_fresh: the KDC just accepted it (R_LOGIN takes it). */
	unsigned char			 pw_key[PWCACHE_KEY_LEN];
	int				 pw_keyed, pw_fresh;
	struct maildrop			*md;
	unsigned int			 tries;
	uint32_t			 used;	/* MC_ONCE requests made */
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

/* mon-report.c: the handler of M_PROXY (the client's address from a
   PROXY header, checked with the master). */
mon_handler	mon_report_peer;

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
/*
 * mon-report.c: tell the master (report.h), never waiting for it: a login
 * answered with result (an enum kp_status; its method from m->req, the
 * user when KP_OK); UPDATE; the bytes the net process sent (sent at most
 * every MON_REPORT_MS unless now).  mon_report_end sends what is left and
 * closes the socket.
 */
void	mon_report_login(struct mon *, int result) KP_NONNULL(1);
void	mon_report_update(struct mon *) KP_NONNULL(1);
void	mon_report_bytes(struct mon *, uint64_t bytes, int now)
	    KP_NONNULL(1);
void	mon_report_end(struct mon *) KP_NONNULL(1);
/*
 * mon-report.c: wait for the net process's next request (into m->in, as
 * ipc_recv returns) or the master's kick: MON_KICKED.  Then
 * mon_report_kicked ends the session as a dropped connection would: the
 * maildrop let go without a commit, M_KICKED to the net process, the
 * client socket shut down, and a moment for the net process to log.
 */
#define MON_KICKED	2
int	mon_report_wait(struct mon *, uint32_t *typep) KP_NONNULL(1, 2)
	    KP_WUR;
void	mon_report_kicked(struct mon *) KP_NONNULL(1);
/*
 * mon-report.c: let the net process finish (it may be telling the client
 * why the session ends) for MON_KICK_WAIT_MS at most, taking its last
 * byte count; other requests are ignored.
 */
void	mon_report_drain(struct mon *) KP_NONNULL(1);
/*
 * mon-limits.c: the questions to the master (report.h), each answered
 * within MON_ASK_MS or done without.  mon_limits_fail_wait: a login was
 * refused; wait the delay the master sets for this address (the
 * failed-login penalty), auth_fail_delay without one.  mon_limits_userip:
 * 1 if m->user may log in from this address (max_sessions_per_user_ip),
 * 0 (logged) if not: the caller answers [IN-USE].
 */
void	mon_limits_fail_wait(struct mon *) KP_NONNULL(1);
int	mon_limits_userip(struct mon *) KP_NONNULL(1) KP_WUR;
/*
 * mon-limits.c: the password-check cache (auth_cache_ttl, password_check
 * = krb5): what the master knows of user and pass (PWC_NONE, PWC_GOOD,
 * PWC_BAD; PWC_NONE without a cache), the key kept in m; then, after a
 * check by the KDC, its result (an enum kp_status): a good one rides on
 * the login's report, a refusal is told at once.
 */
int	mon_limits_pw_cached(struct mon *, const char *user, const char *pass)
	    KP_NONNULL(1, 2, 3);
void	mon_limits_pw_checked(struct mon *, int result) KP_NONNULL(1);
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
/* mon-auth.c: USER/PASS's password check, as the checkpass of the SASL
   mechanisms that carry a password (PLAIN, LOGIN); arg the struct mon. */
int	mon_auth_checkpass(void *arg, const char *user, const char *pass,
	    size_t passlen, char *err, size_t errlen);
/* mon-auth.c: the likely cause of a Kerberos failure message, or NULL. */
const char *mon_auth_krb5_hint(const char *msg) KP_NONNULL(1);
/* mon-auth.c: the Cyrus SASL options every use shares. */
void	mon_auth_sasl_opts(const struct mon *, struct xsasl_server_opts *)
	    KP_NONNULL(1, 2);

#endif
