/* SPDX-License-Identifier: MIT */
/*
 * kpopd/mon-limits.c: the session monitor's questions to the master
 * about the NAT-safe limits (report.h; the master's answers are
 * limits.c's): the failed-login penalty of this address, the per
 * user+address session limit, and the password-check cache.  The
 * monitor asks on its report socket and waits MON_ASK_MS at most for the
 * answer carrying the same sequence number; without a master (kpopd -i)
 * or without an answer it goes on as if the feature were off: the fixed
 * auth_fail_delay, no limit, no cache.  A kick that arrives meanwhile is
 * kept for mon_report_wait.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/log.h"
#include "kpopd/mon-int.h"
#include "kpopd/pwcache.h"
#include "kpopd/report.h"

/* The question being built, and the answer read. */
static struct ipc_buf qb, ab;

static void
ask_begin(struct mon *m)
{
	ipc_reset(&qb);
	ipc_put_u32(&qb, ++m->ask_seq);
}

/* The master is gone or confused: no more reports or questions. */
static void
hang_up(struct mon *m)
{
	close(m->report);
	m->report = -1;
}

/*
 * Send the question in qb (type) and, if answer is not NULL, wait for
 * its answer.  0, or -1: go on without one.
 */
static int
ask(struct mon *m, uint32_t type, uint32_t *answer)
{
	int64_t until;
	uint32_t t, seq, v;
	int left, r;

	if (m->report == -1 || m->kicked ||
	    ipc_send(m->report, type, &qb, -1) == -1)
		return -1;
	if (answer == NULL)
		return 0;
	until = util_now_ms() + MON_ASK_MS;
	while ((left = (int)(until - util_now_ms())) > 0) {
		r = ipc_recv(m->report, &t, &ab, NULL, left);
		if (r == -1 && errno == ETIMEDOUT)
			break;
		if (r == 0 && t == R_KICK) {
			m->kicked = 1;
			return -1;
		}
		if (r != 0 || t != R_ANSWER || ipc_get_u32(&ab, &seq) == -1 ||
		    ipc_get_u32(&ab, &v) == -1 || ipc_end(&ab) == -1) {
			hang_up(m);
			return -1;
		}
		if (seq == m->ask_seq) {
			*answer = v;
			return 0;
		}
		/* The late answer to an earlier question: not this one. */
	}
	log_warn("the master did not answer within %d ms; going on "
	    "without it", MON_ASK_MS);
	return -1;
}

void
mon_limits_fail_wait(struct mon *m)
{
	uint32_t ms = m->c->auth_fail_delay * 1000;

	ask_begin(m);
	if (ask(m, R_FAILED, &ms) == 0 && ms > 300 * 1000)
		ms = 300 * 1000;	/* whatever it says */
	if (ms > 0)
		util_sleep_ms(ms);
}

int
mon_limits_userip(struct mon *m)
{
	uint32_t yes = 1;

	ask_begin(m);
	ipc_put_str(&qb, m->user);
	if (ask(m, R_USERIP, &yes) == -1 || yes)
		return 1;
	log_notice("max_sessions_per_user_ip (%u) reached for %s from %s: "
	    "refused with [IN-USE]", m->c->max_sessions_per_user_ip, m->user,
	    m->s->peer);
	return 0;
}

int
mon_limits_pw_cached(struct mon *m, const char *user, const char *pass)
{
	uint32_t r = PWC_NONE;

	m->pw_keyed = m->pw_fresh = 0;
	if (m->c->auth_cache_ttl == 0 || m->report == -1 ||
	    strcmp(m->c->password_check, "krb5") != 0 ||
	    pwcache_key(user, pass, m->pw_key) == -1)
		return PWC_NONE;
	m->pw_keyed = 1;
	ask_begin(m);
	ipc_put_bytes(&qb, m->pw_key, sizeof(m->pw_key));
	if (ask(m, R_PW_ASK, &r) == -1 || (r != PWC_GOOD && r != PWC_BAD))
		r = PWC_NONE;
	return (int)r;
}

void
mon_limits_pw_checked(struct mon *m, int result)
{
	if (!m->pw_keyed)
		return;
	if (result == KP_OK) {
		m->pw_fresh = 1;	/* R_LOGIN takes it */
		return;
	}
	if (result == KP_AUTH) {
		ask_begin(m);
		ipc_put_bytes(&qb, m->pw_key, sizeof(m->pw_key));
		(void)ask(m, R_PW_BAD, NULL);
	}
	util_wipe(m->pw_key, sizeof(m->pw_key));
	m->pw_keyed = 0;
}
