/* SPDX-License-Identifier: MIT */
/*
 * kpopd/mon-report.c: what a session's monitor tells the master about
 * its session (report.h: the login, UPDATE, the bytes the net process
 * says it sent) and how it obeys kpopctl kick.  The master's socket is
 * non-blocking on both ends: a report the master has no room for is
 * dropped, never waited for.  The net process never holds this socket:
 * it can tell the master its byte count only through M_TOUCH, and only
 * for its own session.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/log.h"
#include "kpopd/maildrop.h"
#include "kpopd/mon-int.h"
#include "kpopd/report.h"

/* Reports are built here, apart from the replies in m->out. */
static struct ipc_buf rb;

static void
report(struct mon *m, uint32_t type)
{
	if (m->report != -1)
		(void)!ipc_send(m->report, type, &rb, -1);
}

/* The method of the login being answered, named as kpopctl shows it. */
static const char *
login_method(const struct mon *m)
{
	switch (m->req) {
	case M_AUTH_PASS:
		return "USER";
	case M_AUTH_APOP:
		return "APOP";
	case M_KPOP_USER:
		return "KPOP";
	case M_SASL_START:
	case M_SASL_STEP:
		return m->mech[0] != '\0' ? m->mech : "SASL";
	default:
		return "other";
	}
}

void
mon_report_login(struct mon *m, int result)
{
	int fresh = result == KP_OK && m->pw_fresh;

	ipc_reset(&rb);
	ipc_put_status(&rb, result);
	ipc_put_str(&rb, login_method(m));
	ipc_put_str(&rb, result == KP_OK ? m->user : "");
	ipc_put_bytes(&rb, m->pw_key, fresh ? sizeof(m->pw_key) : 0);
	util_wipe(m->pw_key, sizeof(m->pw_key));
	m->pw_keyed = m->pw_fresh = 0;
	/*
	 * The master must hear that the login is done before we become
	 * the mail user: it then fills the cache from nothing more this
	 * session says.  If it cannot hear it, it hears nothing more.
	 */
	if (m->report != -1 && ipc_send(m->report, R_LOGIN, &rb, -1) == -1 &&
	    result == KP_OK) {
		close(m->report);
		m->report = -1;
	}
	util_wipe(rb.data, rb.len);
}

void
mon_report_update(struct mon *m)
{
	ipc_reset(&rb);
	report(m, R_UPDATE);
}

void
mon_report_bytes(struct mon *m, uint64_t bytes, int now)
{
	int64_t t = util_now_ms();

	m->bytes = bytes;
	if (m->bytes == m->bytes_told ||
	    (!now && t - m->told_ms < MON_REPORT_MS))
		return;
	m->bytes_told = m->bytes;
	m->told_ms = t;
	ipc_reset(&rb);
	ipc_put_u64(&rb, m->bytes);
	report(m, R_BYTES);
}

int
mon_report_wait(struct mon *m, uint32_t *typep)
{
	struct pollfd pfd[2];
	uint32_t type;
	int r;

	if (m->kicked)
		return MON_KICKED;	/* it came during a question */
	for (;;) {
		pfd[0].fd = m->sock;
		pfd[0].events = POLLIN;
		pfd[1].fd = m->report;	/* -1: not watched */
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		/* The master first: a kick beats the net process. */
		if (pfd[1].revents != 0) {
			r = ipc_recv(m->report, &type, &rb, NULL, 0);
			if (r == 0 && type == R_KICK)
				return MON_KICKED;
			if (r != -1 || errno != ETIMEDOUT) {
				/* The master is gone, or confused. */
				close(m->report);
				m->report = -1;
			}
		}
		if (pfd[0].revents != 0)
			return ipc_recv(m->sock, typep, &m->in, NULL, 0);
	}
}

void
mon_report_kicked(struct mon *m)
{
	log_notice("%s: %s: kicked by kpopctl; nothing deleted", m->s->peer,
	    m->user[0] != '\0' ? m->user : "-");
	/* As a dropped connection: no commit, the lock let go at once. */
	if (m->md != NULL) {
		md_close(m->md);
		m->md = NULL;
	}
	(void)!ipc_send(m->sock, M_KICKED, NULL, -1);
	if (m->client != -1)
		(void)shutdown(m->client, SHUT_RDWR);
	mon_report_drain(m);
}

void
mon_report_drain(struct mon *m)
{
	uint64_t bytes;
	uint32_t type;
	int64_t until, left;

	/* Nothing more from us: a request waiting for a reply gets EOF. */
	(void)shutdown(m->sock, SHUT_WR);
	until = util_now_ms() + MON_KICK_WAIT_MS;
	while ((left = until - util_now_ms()) > 0) {
		if (ipc_recv(m->sock, &type, &m->in, NULL, (int)left) != 0)
			break;
		if (type == M_TOUCH && ipc_get_u64(&m->in, &bytes) == 0)
			mon_report_bytes(m, bytes, 0);
	}
}

void
mon_report_end(struct mon *m)
{
	mon_report_bytes(m, m->bytes, 1);
	if (m->report != -1)
		close(m->report);
	m->report = -1;
}
