/* SPDX-License-Identifier: MIT */
/*
 * kpopd/sessions.c: the master's table of sessions (sessions.h).  Each
 * record is a monitor the master forked, its client's address, when it
 * started, and what its monitor reported over the session's own
 * SEQPACKET socketpair (report.h): the login (user, method), UPDATE, the
 * bytes sent.  The master's end of each pair is non-blocking and watched
 * through one epoll descriptor; a report is believed only for the
 * session it came from, and a session that sends a malformed one is not
 * heard again.  The counters go to stats.c; kpopctl's who and kick are
 * answered here.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/log.h"
#include "common/status.h"
#include "kpopd/kpopd.h"
#include "kpopd/limits.h"
#include "kpopd/pwcache.h"
#include "kpopd/report.h"
#include "kpopd/sessions.h"
#include "kpopd/stats.h"

enum sess_state { SS_AUTH, SS_TRANS, SS_UPDATE };

static const char *const state_names[] = {
	"AUTHORIZATION", "TRANSACTION", "UPDATE"
};

struct sess {
	pid_t		 pid;		/* the monitor */
	int		 rfd;		/* our end of its reports, or -1 */
	int64_t		 start_ms;	/* util_now_ms() at the fork */
	time_t		 start;
	enum sess_state	 state;
	int		 claimed;	/* user: a login under way (R_USERIP) */
	int		 dropping;	/* SIGTERMed for a new connection */
	int64_t		 active_ms;	/* the last question it asked */
	uint64_t	 bytes;		/* sent, as last reported */
	char		 peer[64];
	char		 user[KPOPD_USER_MAX];		/* "" before login */
	char		 method[KPOPD_MECH_MAX];	/* "" before login */
	/*
	 * On a proxy listener: peer is the balancer's until the monitor
	 * reports the client's (R_PEER), and the session counts towards
	 * no address's limit until then; per_ip is the limit to apply.
	 */
	enum { PX_NO, PX_WAIT, PX_KNOWN } proxied;
	unsigned int	 per_ip;
};

static struct sess	*tab;
static size_t		 ntab, captab;
static int		 epfd = -1;
static int		 pending[2] = { -1, -1 };	/* made, not yet added */
/* Some report end of ours could not be moved to MASTER_FD_HIGH or up. */
static int		 low_ends;
static struct ipc_buf	 rb;

int
sessions_prepare(int *childfd)
{
	struct sess *grown;
	size_t cap;
	int fd;

	if (epfd == -1 && (epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		log_err("epoll: %s", strerror(errno));
		return -1;
	}
	if (ntab == captab) {
		cap = captab == 0 ? 16 : captab * 2;
		if ((grown = realloc(tab, cap * sizeof(*tab))) == NULL) {
			log_err("out of memory for the session table");
			return -1;
		}
		tab = grown;
		captab = cap;
	}
	if (ipc_pair(pending) == -1) {
		log_err("socketpair: %s", strerror(errno));
		pending[0] = pending[1] = -1;
		return -1;
	}
	/* Ours goes high, out of the way of the child's (sessions_forked). */
	if ((fd = fcntl(pending[0], F_DUPFD_CLOEXEC, MASTER_FD_HIGH)) != -1) {
		close(pending[0]);
		pending[0] = fd;
	} else
		low_ends = 1;	/* a descriptor limit too low: the loop */
	/* Neither side ever waits for the other. */
	(void)fcntl(pending[0], F_SETFL, O_NONBLOCK);
	(void)fcntl(pending[1], F_SETFL, O_NONBLOCK);
	*childfd = pending[1];
	return 0;
}

void
sessions_cancel(void)
{
	if (pending[0] != -1)
		close(pending[0]);
	if (pending[1] != -1)
		close(pending[1]);
	pending[0] = pending[1] = -1;
}

void
sessions_add(pid_t pid, const char *peer)
{
	struct epoll_event ev;
	struct sess *s = &tab[ntab++];

	memset(s, 0, sizeof(*s));
	s->pid = pid;
	s->rfd = pending[0];
	s->start_ms = util_now_ms();
	s->start = time(NULL);
	s->state = SS_AUTH;
	util_strlcpy(s->peer, peer, sizeof(s->peer));
	close(pending[1]);
	pending[0] = pending[1] = -1;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = s->rfd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, s->rfd, &ev) == -1) {
		log_err("epoll_ctl: %s", strerror(errno));
		close(s->rfd);
		s->rfd = -1;
	}
	stats_session_start();
}

void
sessions_proxied(unsigned int per_ip)
{
	if (ntab == 0)
		return;
	tab[ntab - 1].proxied = PX_WAIT;
	tab[ntab - 1].per_ip = per_ip;
}

void
sessions_forked(const int *keep, size_t nkeep)
{
	size_t i;
	int ranged = !low_ends;

	if (epfd != -1)
		close(epfd);
	/*
	 * No session may hear or speak for another.  Every report end of
	 * ours is at MASTER_FD_HIGH or above, and nothing else is unless
	 * the low range ran out; then the child's own may be up there too.
	 */
	for (i = 0; i < nkeep; i++)
		if (keep[i] >= MASTER_FD_HIGH)
			ranged = 0;
#ifdef HAVE_CLOSE_RANGE
	if (ranged && close_range(MASTER_FD_HIGH, ~0U, 0) == 0)
		return;
#else
	(void)ranged;
#endif
	for (i = 0; i < ntab; i++)
		if (tab[i].rfd != -1)
			close(tab[i].rfd);
	if (pending[0] != -1)
		close(pending[0]);
}

size_t
sessions_count(void)
{
	return ntab;
}

unsigned int
sessions_from(const char *peer)
{
	unsigned int n = 0;
	size_t i;

	for (i = 0; i < ntab; i++)
		if (tab[i].proxied != PX_WAIT && strcmp(tab[i].peer, peer) == 0)
			n++;
	return n;
}

/* Since when s has been idle, as far as the master can tell. */
static int64_t
idle_since(const struct sess *s)
{
	return s->active_ms > s->start_ms ? s->active_ms : s->start_ms;
}

int
sessions_full(unsigned int max)
{
	struct sess *old = NULL;
	size_t i, live = 0;

	for (i = 0; i < ntab; i++) {
		if (tab[i].dropping)
			continue;
		live++;
		if (tab[i].state == SS_AUTH && !tab[i].claimed &&
		    (old == NULL || idle_since(&tab[i]) < idle_since(old)))
			old = &tab[i];
	}
	if (live < max)
		return 0;
	if (old == NULL)
		return 1;
	/* Its monitor ends it as at shutdown: the net process goes. */
	kill(old->pid, SIGTERM);
	old->dropping = 1;
	stats_refused(STATS_IDLE_DROPPED);
	log_notice("max_sessions (%u) reached: dropping the oldest idle "
	    "pre-login session (process %ld from %s, idle %lld s) for a new "
	    "connection", max, (long)old->pid, old->peer,
	    (long long)((util_now_ms() - idle_since(old)) / 1000));
	return 0;
}

int
sessions_fd(void)
{
	return epfd;
}

/* Stop listening to s: it ended, or it said something malformed. */
static void
hang_up(struct sess *s)
{
	if (s->rfd == -1)
		return;
	(void)epoll_ctl(epfd, EPOLL_CTL_DEL, s->rfd, NULL);
	close(s->rfd);
	s->rfd = -1;
}

/* Copy what a session says into out: printable, no blanks. */
static void
copy_shown(char *out, size_t len, const char *in)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < len; i++)
		out[i] = in[i] > 0x20 && in[i] < 0x7f ? in[i] : '?';
	out[i] = '\0';
}

/* Sessions of user (as shown) from peer, logged in or logging in. */
static unsigned int
user_ip_count(const struct sess *self, const char *user, const char *peer)
{
	unsigned int n = 0;
	size_t i;

	for (i = 0; i < ntab; i++)
		if (&tab[i] != self && !tab[i].dropping &&
		    (tab[i].state != SS_AUTH || tab[i].claimed) &&
		    strcmp(tab[i].user, user) == 0 &&
		    strcmp(tab[i].peer, peer) == 0)
			n++;
	return n;
}

/*
 * A question from s's monitor (report.h), in rb after its type: answered
 * at once, for s's own address and state; an answer it has no room for
 * is dropped (the monitor goes on without).  0, or -1 if malformed.
 */
static int
question(struct sess *s, uint32_t type)
{
	char user[KPOPD_USER_MAX];
	const void *key = NULL;
	size_t keylen = 0;
	uint32_t seq, answer = 0;
	static struct ipc_buf out;

	if (ipc_get_u32(&rb, &seq) == -1)
		return -1;
	if ((type == R_PW_ASK || type == R_PW_BAD) &&
	    ipc_get_bytes(&rb, &key, &keylen) == -1)
		return -1;
	if (type == R_USERIP && ipc_get_str(&rb, user, sizeof(user)) == -1)
		return -1;
	if (ipc_end(&rb) == -1)
		return -1;
	s->active_ms = util_now_ms();
	/* After the login a session has nothing to ask of the cache. */
	if (s->state != SS_AUTH)
		type = type == R_PW_BAD ? 0 : R_ANSWER;
	switch (type) {
	case R_FAILED:
		answer = limits_failed(s->peer);
		break;
	case R_PW_ASK:
		answer = (uint32_t)limits_pw_lookup(key, keylen);
		break;
	case R_PW_BAD:
		limits_pw_bad(key, keylen);
		return 0;
	case R_USERIP:
		copy_shown(user, sizeof(user), user);
		answer = limits_userip_ok(s->peer, user_ip_count(s, user,
		    s->peer));
		if (answer) {
			util_strlcpy(s->user, user, sizeof(s->user));
			s->claimed = 1;
		}
		break;
	case 0:
		return 0;
	default:
		break;
	}
	ipc_reset(&out);
	ipc_put_u32(&out, seq);
	ipc_put_u32(&out, answer);
	(void)!ipc_send(s->rfd, R_ANSWER, &out, -1);
	return 0;
}

/*
 * R_PEER: a proxied session's client address, once.  Counted under it
 * from now on, or refused (R_PEER_OVER) when max_sessions_per_ip
 * sessions from it are open.  0, or -1 if it was malformed.
 */
static int
take_peer(struct sess *s)
{
	char addr[sizeof(s->peer)];
	unsigned char a[16];
	int family, over;

	if (ipc_get_str(&rb, addr, sizeof(addr)) == -1 ||
	    ipc_end(&rb) == -1 || s->proxied != PX_WAIT)
		return -1;
	family = inet_pton(AF_INET, addr, a) == 1 ? AF_INET :
	    inet_pton(AF_INET6, addr, a) == 1 ? AF_INET6 : 0;
	if (family == 0 || inet_ntop(family, a, addr, sizeof(addr)) == NULL)
		return -1;
	over = !limits_peer_ok(addr, sessions_from(addr), s->per_ip);
	util_strlcpy(s->peer, addr, sizeof(s->peer));
	s->proxied = PX_KNOWN;
	if (over) {
		stats_refused(STATS_MAX_PER_IP);
		log_notice("max_sessions_per_ip reached for %s (through a "
		    "PROXY listener): refusing session %ld", addr,
		    (long)s->pid);
	}
	(void)!ipc_send(s->rfd, over ? R_PEER_OVER : R_PEER_OK, NULL, -1);
	return 0;
}

/* One report from s, in rb.  0, or -1 if it was malformed. */
static int
take_report(struct sess *s, uint32_t type)
{
	char method[KPOPD_MECH_MAX], user[KPOPD_USER_MAX];
	const void *key;
	size_t keylen;
	uint64_t bytes;
	int result;

	switch (type) {
	case R_LOGIN:
		if (ipc_get_status(&rb, &result) == -1 ||
		    ipc_get_str(&rb, method, sizeof(method)) == -1 ||
		    ipc_get_str(&rb, user, sizeof(user)) == -1 ||
		    ipc_get_bytes(&rb, &key, &keylen) == -1 ||
		    ipc_end(&rb) == -1)
			return -1;
		stats_login(method, result);
		if (result == KP_OK && s->state == SS_AUTH) {
			/* The one report that may fill the cache. */
			limits_login_ok(s->peer, key, keylen);
			s->state = SS_TRANS;
			copy_shown(s->user, sizeof(s->user), user);
			util_strlcpy(s->method, stats_method_ok(method) ?
			    method : "other", sizeof(s->method));
		} else if (s->state == SS_AUTH) {
			s->claimed = 0;
			s->user[0] = '\0';
		}
		return 0;
	case R_UPDATE:
		if (ipc_end(&rb) == -1)
			return -1;
		if (s->state == SS_TRANS)
			s->state = SS_UPDATE;
		return 0;
	case R_PEER:
		return take_peer(s);
	case R_BYTES:
		if (ipc_get_u64(&rb, &bytes) == -1 || ipc_end(&rb) == -1)
			return -1;
		/* A counter only goes up, whatever a session says. */
		if (bytes > s->bytes) {
			stats_bytes(bytes - s->bytes);
			s->bytes = bytes;
		}
		return 0;
	case R_FAILED:
	case R_PW_ASK:
	case R_PW_BAD:
	case R_USERIP:
		return question(s, type);
	default:
		return -1;
	}
}

/* Read up to max reports of s. */
static void
read_reports(struct sess *s, size_t max)
{
	uint32_t type;
	size_t k;
	int r;

	for (k = 0; k < max && s->rfd != -1; k++) {
		r = ipc_recv(s->rfd, &type, &rb, NULL, 0);
		if (r == -1 && errno == ETIMEDOUT)
			return;		/* nothing more now */
		if (r == 0 && take_report(s, type) == 0)
			continue;
		if (r != 1)
			log_warn("session %ld (%s): malformed report %u; not "
			    "listening to it any more", (long)s->pid, s->peer,
			    r == 0 ? type : 0);
		hang_up(s);
	}
}

static struct sess *
by_fd(int fd)
{
	size_t i;

	for (i = 0; i < ntab; i++)
		if (tab[i].rfd == fd)
			return &tab[i];
	return NULL;
}

void
sessions_run(void)
{
	struct epoll_event ev[32];
	struct sess *s;
	int n, i;

	if (epfd == -1 || (n = epoll_wait(epfd, ev, 32, 0)) <= 0)
		return;
	for (i = 0; i < n; i++)
		if ((s = by_fd(ev[i].data.fd)) != NULL)
			read_reports(s, SESS_READ_BATCH);
}

void
sessions_reap(int (*other)(pid_t, int))
{
	pid_t pid;
	size_t i;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (other != NULL && other(pid, st))
			continue;
		for (i = 0; i < ntab; i++) {
			if (tab[i].pid != pid)
				continue;
			/* What it said before it went is still queued. */
			read_reports(&tab[i], SESS_DRAIN_MAX);
			hang_up(&tab[i]);
			stats_session_end(util_now_ms() - tab[i].start_ms);
			tab[i] = tab[--ntab];
			break;
		}
		if (WIFSIGNALED(st) && WTERMSIG(st) != SIGTERM)
			log_warn("session process %ld died of signal %d",
			    (long)pid, WTERMSIG(st));
	}
}

void
sessions_stop(int (*other)(pid_t, int))
{
	time_t until = time(NULL) + STOP_GRACE;
	size_t i;

	for (i = 0; i < ntab; i++)
		kill(tab[i].pid, SIGTERM);
	while (ntab > 0 && time(NULL) < until) {
		sessions_reap(other);
		if (ntab > 0)
			usleep(50000);
	}
	for (i = 0; i < ntab; i++)
		kill(tab[i].pid, SIGKILL);
	sessions_reap(other);
}

int
sessions_who(FILE *f)
{
	char when[32];
	struct tm tm;
	size_t i;

	fprintf(f, "%-12s %-15s %-20s %-13s %-8s %10s %s\n", "USER",
	    "ADDRESS", "START", "STATE", "METHOD", "BYTES", "PID");
	for (i = 0; i < ntab; i++) {
		const struct sess *s = &tab[i];

		if (gmtime_r(&s->start, &tm) == NULL ||
		    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ",
		    &tm) == 0)
			util_strlcpy(when, "-", sizeof(when));
		fprintf(f, "%-12s %-15s %-20s %-13s %-8s %10llu %ld\n",
		    s->user[0] != '\0' ? s->user : "-", s->peer, when,
		    state_names[s->state],
		    s->method[0] != '\0' ? s->method : "-",
		    (unsigned long long)s->bytes, (long)s->pid);
	}
	return ferror(f) ? -1 : 0;
}

/* target as kpopd writes addresses (inet_ntop), if it is one. */
static void
canonical(const char *target, char *out, size_t len)
{
	unsigned char a[16];

	util_strlcpy(out, target, len);
	if (inet_pton(AF_INET, target, a) == 1)
		(void)inet_ntop(AF_INET, a, out, (socklen_t)len);
	else if (inet_pton(AF_INET6, target, a) == 1)
		(void)inet_ntop(AF_INET6, a, out, (socklen_t)len);
}

unsigned int
sessions_kick(const char *target)
{
	char addr[64];
	unsigned int n = 0;
	size_t i;

	canonical(target, addr, sizeof(addr));
	for (i = 0; i < ntab; i++) {
		struct sess *s = &tab[i];

		if (strcmp(s->peer, addr) != 0 && (s->state == SS_AUTH ||
		    strcmp(s->user, target) != 0))
			continue;
		/*
		 * The monitor ends it and the net process logs end=kicked;
		 * one we cannot tell ends by SIGTERM, as at shutdown.
		 */
		if (s->rfd == -1 || ipc_send(s->rfd, R_KICK, NULL, -1) == -1)
			kill(s->pid, SIGTERM);
		log_notice("kpopctl: kicking session %ld: %s from %s",
		    (long)s->pid, s->user[0] != '\0' ? s->user : "-",
		    s->peer);
		n++;
	}
	return n;
}
