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

#include <arpa/inet.h>
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
#include "kpopd/title.h"

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

/*
 * Ask the master whether addr may have one more session (R_PEER), and
 * wait for its answer, MON_PEER_WAIT_MS at most: KP_OK or KP_TEMP, and
 * *kicked set if kpopctl kicked the session meanwhile.  Without a master
 * (kpopd -i) there is nothing to count: KP_OK.
 */
static int
ask_master(struct mon *m, const char *addr, int *kicked)
{
	struct pollfd pfd;
	uint32_t type;
	int64_t until = util_now_ms() + MON_PEER_WAIT_MS, left;
	int r;

	*kicked = 0;
	if (m->report == -1)
		return KP_OK;
	ipc_reset(&rb);
	ipc_put_str(&rb, addr);
	if (ipc_send(m->report, R_PEER, &rb, -1) == -1)
		return KP_TEMP;
	while ((left = until - util_now_ms()) > 0) {
		pfd.fd = m->report;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR)
			break;
		if ((r = ipc_recv(m->report, &type, &rb, NULL, 0)) == -1 &&
		    errno == ETIMEDOUT)
			continue;	/* nothing yet */
		if (r != 0)
			break;		/* the master is gone */
		if (type == R_PEER_OK || type == R_PEER_OVER)
			return type == R_PEER_OK ? KP_OK : KP_TEMP;
		if (type == R_KICK) {
			*kicked = 1;
			return KP_TEMP;
		}
	}
	log_warn("%s: no word from the master on this session's address; "
	    "refusing it", addr);
	return KP_TEMP;
}

int
mon_report_peer(struct mon *m)
{
	char addr[sizeof(m->ss.peer)], was[sizeof(m->ss.peer)];
	unsigned char a[16];
	int family, st, kicked;

	if (ipc_get_str(&m->in, addr, sizeof(addr)) == -1 ||
	    ipc_end(&m->in) == -1)
		return -1;
	/* Before anything else: no login has been tried under another. */
	if (!m->s->proxy || m->tries > 0 || m->principal[0] != '\0' ||
	    m->apop_challenge[0] != '\0' || m->sasl != NULL) {
		log_err("the net process sent a PROXY address out of order "
		    "(not first, or not on a proxy listener): ending the "
		    "session");
		return -1;
	}
	/* The way kpopd writes every address, or nothing. */
	family = inet_pton(AF_INET, addr, a) == 1 ? AF_INET :
	    inet_pton(AF_INET6, addr, a) == 1 ? AF_INET6 : 0;
	if (family == 0 || inet_ntop(family, a, addr, sizeof(addr)) == NULL) {
		m->in.bad = 1;
		return -1;
	}
	util_strlcpy(was, m->ss.peer, sizeof(was));
	util_strlcpy(m->ss.peer, addr, sizeof(m->ss.peer));
	title_set("kpopd: %s AUTHORIZATION", addr);
	st = ask_master(m, addr, &kicked);
	if (kicked) {
		mon_report_kicked(m);
		return -1;
	}
	log_info("PROXY: client %s through %s%s", addr, was, st == KP_OK ?
	    "" : "; refused: max_sessions_per_ip reached for it");
	ipc_reset(&m->out);
	ipc_put_status(&m->out, st);
	return ipc_send(m->sock, M_PROXY_RESULT, &m->out, -1);
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
