/* SPDX-License-Identifier: MIT */
/*
 * kpopd/monitor.c: the session monitor.  One per connection, forked by the
 * master.  It forks the net process, which owns the client socket and
 * parses every byte the client sends, and answers the net process's typed
 * requests from a table of what is permitted in the current state
 * (mon_cmds[]; the login handlers are mon-auth.c's and mon-sasl.c's).  It
 * is root until a login succeeds (to read the keytab and the state
 * directory), then becomes the mail user (drop.c), opens and locks the
 * maildrop, hands message descriptors to the net process, and applies
 * deletions at QUIT.  A request that is not permitted, or malformed, ends
 * the session.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/log.h"
#include "common/sasl.h"
#include "kpopd/drop.h"
#include "kpopd/kpopd.h"
#include "kpopd/maildrop.h"
#include "kpopd/mon-int.h"
#include "kpopd/pwcache.h"
#include "kpopd/template.h"
#include "kpopd/title.h"
#include "kpopd/user.h"
#ifdef KPOP_FUZZ
#include "kpopd/mon-fuzz.h"
#endif

/*
 * What a request may need beyond its phase (struct mon_cmd.need), read
 * from what the session holds (mon_now), so the table and the session
 * cannot disagree.
 */
#define MS_SASL		0x08	/* a SASL exchange runs (m->sasl) */
#define MS_TICKET	0x10	/* a KPOP AP-REQ proved m->principal */
#define MS_CHALLENGE	0x20	/* the APOP timestamp is made */
#define MS_LAYER	0x40	/* a SASL security layer runs (m->layer) */

/* How a request is limited (struct mon_cmd.flags). */
#define MC_ONCE		0x01	/* at most once a session */
#define MC_ATTEMPT	0x02	/* a login attempt: counted and capped */

struct mon_cmd {
	uint32_t	 type;
	int		 states;	/* the phases it is permitted in */
	int		 need;		/* MS_* bits that must all hold */
	int		 flags;		/* MC_* */
	mon_handler	*fn;
};

static pid_t	net_pid = -1;

/* How long the net process has to write its end line and exit. */
#define MON_NET_GRACE_MS	2000

static volatile sig_atomic_t	mon_terminated;

/*
 * SIGTERM (shutdown, or an idle takeover): end as if the client left.
 * The net process goes at once; the monitor's loop then sees it gone and
 * writes the end line for it.  After a login (as root) the net process
 * is another user's: then the monitor goes at once, letting go of the
 * maildrop, and the net process writes end=monitor when it notices.
 */
static void
mon_term(int sig)
{
	(void)sig;
	mon_terminated = 1;
	if (net_pid > 0 && kill(net_pid, SIGKILL) == -1)
		_exit(0);
}

/*
 * LOGIN-DELAY (RFC 2449 s.6.7): at most one login per login_delay seconds
 * per user.  The record is a file per user in state_dir/logins, opened
 * here while root; *fdp keeps it open to stamp after the login succeeds.
 * Returns 1 if the user must wait, 0 if not (or if the record cannot be
 * kept: that is logged, and does not lock anyone out).
 */
static int
login_delay_check(struct mon *m, int *fdp)
{
	char dir[KPOPD_PATH_MAX], path[KPOPD_PATH_MAX], name[KPOPD_USER_MAX];
	struct stat st;
	size_t i;
	int fd;

	*fdp = -1;
	if (m->c->login_delay == 0)
		return 0;
	util_strlcpy(name, m->user, sizeof(name));
	for (i = 0; name[i] != '\0'; i++)
		if (name[i] == '/')
			name[i] = '_';
	if (util_snprintf(dir, sizeof(dir), "%s/logins", m->c->state_dir) ==
	    -1 || util_snprintf(path, sizeof(path), "%s/%s", dir, name) == -1)
		return 0;
	(void)mkdir(m->c->state_dir, 0755);
	(void)mkdir(dir, 0700);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1) {
		log_warn("cannot keep the login-delay record %s: %s", path,
		    strerror(errno));
		return 0;
	}
	if (fstat(fd, &st) == 0 && st.st_size > 0 &&
	    time(NULL) < st.st_mtime + (time_t)m->c->login_delay) {
		close(fd);
		return 1;
	}
	*fdp = fd;
	return 0;
}

static void
login_delay_stamp(int fd)
{
	if (fd < 0)
		return;
	/*
	 * Size 1 marks a record that has seen a login; the write sets its
	 * mtime.  (futimens would need the file's owner, root, and this
	 * runs as the mail user on a descriptor opened as root.)
	 */
	if (pwrite(fd, "x", 1, 0) != 1)
		log_warn("cannot stamp the login-delay record: %s",
		    strerror(errno));
	close(fd);
}

/* The session whose maildrop is being opened, for mon_note. */
static struct mon *note_mon;

/* md_opts.note: a message file left out of the snapshot, and why. */
static void
mon_note(const char *msg)
{
	char shown[PATH_MAX + 128];

	log_printable(shown, sizeof(shown), msg, strlen(msg));
	log_notice("maildrop of %s: %s", note_mon != NULL ? note_mon->user :
	    "-", shown);
}

/* Send the snapshot: a head, then entries in batches. */
static int
send_snapshot(struct mon *m)
{
	size_t i, n = md_count(m->md), k;

	ipc_reset(&m->out);
	ipc_put_u64(&m->out, n);
	ipc_put_u64(&m->out, md_total(m->md));
	if (ipc_send(m->sock, M_SNAP_HEAD, &m->out, -1) == -1)
		return -1;
	for (i = 0; i < n; i += k) {
		k = n - i < MON_SNAP_BATCH ? n - i : MON_SNAP_BATCH;
		ipc_reset(&m->out);
		ipc_put_u32(&m->out, (uint32_t)k);
		for (size_t j = i; j < i + k; j++) {
			const struct md_msg *msg = md_msg(m->md, j);

			ipc_put_u64(&m->out, msg->size);
			ipc_put_str(&m->out, msg->uidl);
		}
		if (ipc_send(m->sock, M_SNAP_PART, &m->out, -1) == -1)
			return -1;
	}
	return 0;
}

/*
 * The user m->user has proved who they are (by method): find the account,
 * apply LOGIN-DELAY, become the owner, open the maildrop, answer, and send
 * the snapshot.  Returns 0, or -1 to end the session.
 */
static int
finish_login(struct mon *m, const char *method)
{
	char err[512], path[KPOPD_PATH_MAX];
	const char *mpath;
	struct passwd *pw;
	enum md_format fmt;
	struct md_opts o;
	int r, ldfd = -1, tries;

	if (!user_name_ok(m->user))
		return mon_auth_refused(m, m->user, "unacceptable user name");
	if (strcmp(m->c->user_type, "virtual") == 0)
		pw = getpwnam(m->c->virtual_user);
	else
		pw = getpwnam(m->user);
	if (pw == NULL) {
		util_snprintf(err, sizeof(err), "no local account '%s'",
		    strcmp(m->c->user_type, "virtual") == 0 ?
		    m->c->virtual_user : m->user);
		return mon_auth_refused(m, m->user, err);
	}
	if (!mon_limits_userip(m)) {
		(void)mon_auth_reply(m, KP_INUSE, "too many sessions of "
		    "yours from this address");
		return -1;
	}
	if (login_delay_check(m, &ldfd)) {
		log_notice("%s logged in again within login_delay; refused "
		    "with [LOGIN-DELAY]", m->user);
		return mon_auth_reply(m, KP_DELAY,
		    "wait before logging in again");
	}
	fmt = strncmp(m->c->maildrop, "maildir:", 8) == 0 ? MD_MAILDIR :
	    MD_MBOX;
	mpath = strchr(m->c->maildrop, ':') + 1;
	memset(&o, 0, sizeof(o));
	if (template_expand(mpath, m->user, pw->pw_dir, path, sizeof(path),
	    &o.trusted) == -1 || path[0] != '/') {
		close(ldfd);
		log_err("maildrop '%s' does not expand to an absolute path "
		    "for %s", mpath, m->user);
		return mon_auth_reply(m, KP_PERM, "maildrop misconfigured");
	}
	o.group_ok = user_own_group(pw);
	o.own_gid = pw->pw_gid;
	o.note = mon_note;
	note_mon = m;
	if (drop_mail_user(m->s, m->user, pw, fmt == MD_MBOX, &o.spool) ==
	    -1) {
		close(ldfd);
		mon_auth_reply(m, KP_TEMP, "internal error");
		return -1;
	}
	o.lock_timeout = m->c->lock_timeout;
	o.takeover_idle = m->c->takeover_idle;
	o.create = m->c->create_maildrop;
	o.uidl_format = m->c->uidl_format;
	/*
	 * A client that reconnects right after dropping its connection
	 * finds the old session still letting go: give it a moment.
	 */
	for (tries = 0;; tries++) {
		r = md_open(fmt, path, &o, &m->md, err, sizeof(err));
		if (r != KP_INUSE || tries == MON_INUSE_TRIES)
			break;
		usleep(MON_INUSE_WAIT_US);
	}
	if (r != KP_OK) {
		close(ldfd);
		log_notice("%s: cannot open the maildrop %s: %s", m->user,
		    path, err);
		mon_auth_reply(m, r == KP_INUSE ? KP_INUSE :
		    r == KP_PERM ? KP_PERM : KP_TEMP,
		    r == KP_INUSE ? "maildrop is in use by another session" :
		    "cannot open the maildrop");
		return -1;
	}
	login_delay_stamp(ldfd);
	m->state = MS_AUTHED;
	title_set("kpopd: %s %s TRANSACTION", m->user, m->s->peer);
	log_info("%s logged in (%s) from %s, %zu messages", m->user, method,
	    m->s->peer, md_count(m->md));
	if (mon_auth_reply(m, KP_OK, method) == -1)
		return -1;
	return send_snapshot(m);
}

static int
do_get_msg(struct mon *m)
{
	char err[256];
	uint32_t i, n, k;
	off_t off, len;
	int fds[IPC_FDS_MAX], nfds = 0, fd, r;

	if (ipc_get_u32(&m->in, &n) == -1 || n == 0 || n > IPC_FDS_MAX)
		return -1;
	md_touch(m->md);
	ipc_reset(&m->out);
	ipc_put_u32(&m->out, n);
	for (k = 0; k < n; k++) {
		if (ipc_get_u32(&m->in, &i) == -1 || i >= md_count(m->md)) {
			r = -1;
			goto out;
		}
		err[0] = '\0';
		fd = -1;
		off = len = 0;
		r = md_msg_fd(m->md, i, &fd, &off, &len, err, sizeof(err));
		if (r != KP_OK)
			log_warn("%s: cannot serve message %u: %s", m->user,
			    i + 1, err);
		else
			fds[nfds++] = fd;
		ipc_put_status(&m->out, r);
		ipc_put_u64(&m->out, (uint64_t)off);
		ipc_put_u64(&m->out, (uint64_t)len);
		ipc_put_str(&m->out, err);
	}
	r = ipc_end(&m->in) == -1 ? -1 :
	    ipc_send_fds(m->sock, M_MSG, &m->out, fds, (size_t)nfds);
out:
	while (nfds > 0)
		close(fds[--nfds]);
	return r;
}

static int
do_touch(struct mon *m)
{
	uint64_t bytes;

	if (ipc_get_u64(&m->in, &bytes) == -1 || ipc_end(&m->in) == -1)
		return -1;
	if (m->md != NULL)
		md_touch(m->md);
	mon_report_bytes(m, bytes, 0);
	return 0;
}

static int
do_quit(struct mon *m)
{
	const unsigned char *bits;
	unsigned char *del = NULL;
	const void *p;
	sigset_t set, old;
	char err[256] = "";
	uint32_t n;
	size_t len, i, ndel = 0;
	int r;

	if (ipc_get_u32(&m->in, &n) == -1 ||
	    ipc_get_bytes(&m->in, &p, &len) == -1 ||
	    ipc_end(&m->in) == -1 || n != md_count(m->md) ||
	    len != ((size_t)n + 7) / 8 || (del = calloc(n + 1, 1)) == NULL)
		return -1;
	bits = p;
	for (i = 0; i < n; i++)
		if (bits[i / 8] & (1U << (i % 8))) {
			del[i] = 1;
			ndel++;
		}
	/* A shutdown waits for the update: it is crash-safe, not instant. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, &old);
	r = ndel == 0 ? KP_OK : md_commit(m->md, del, err, sizeof(err));
	free(del);
	if (r != KP_OK)
		log_err("%s: deleting %zu messages at QUIT failed, all are "
		    "kept: %s", m->user, ndel, err);
	else if (ndel > 0)
		log_info("%s: deleted %zu messages", m->user, ndel);
	/*
	 * Let the maildrop go before the client hears the +OK: a client
	 * that logs in again at once must find it free, not [IN-USE].
	 */
	md_close(m->md);
	m->md = NULL;
	m->state = MS_DONE;
	title_set("kpopd: %s %s UPDATE", m->user, m->s->peer);
	mon_report_update(m);
	ipc_reset(&m->out);
	ipc_put_status(&m->out, r);
	ipc_put_str(&m->out, r == KP_OK ? "" : err);
	r = ipc_send(m->sock, M_QUIT_RESULT, &m->out, -1);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}

/* Encode or decode through the security layer, for the net process. */
static int
do_layer(struct mon *m, int encode)
{
	const void *in, *out;
	size_t inlen, outlen;
	int r;

	if (ipc_get_bytes(&m->in, &in, &inlen) == -1 ||
	    ipc_end(&m->in) == -1)
		return -1;
	r = encode ? xsasl_server_encode(m->layer, in, inlen, &out, &outlen) :
	    xsasl_server_decode(m->layer, in, inlen, &out, &outlen);
	if (r == -1 || outlen > IPC_MSG_MAX - 16) {
		log_notice("%s: the SASL security layer failed, ending the "
		    "session: %s", m->user, r == -1 ?
		    xsasl_server_error(m->layer) : "packet too big");
		return -1;
	}
	ipc_reset(&m->out);
	ipc_put_bytes(&m->out, out, outlen);
	return ipc_send(m->sock, M_LAYER_DATA, &m->out, -1);
}

static int
do_layer_encode(struct mon *m)
{
	return do_layer(m, 1);
}

static int
do_layer_decode(struct mon *m)
{
	return do_layer(m, 0);
}

/*
 * What the net process may ask, and when: the phases, what must hold,
 * and how often.  Nothing else is checked before a handler runs; the one
 * order a handler still checks itself is mon_sasl_step's after final
 * data (m->sasl_final), a step inside an exchange.
 */
static const struct mon_cmd mon_cmds[] = {
	{ M_AUTH_PASS, MS_PREAUTH, 0, MC_ATTEMPT, mon_auth_pass },
	{ M_SASL_START, MS_PREAUTH, 0, MC_ATTEMPT, mon_sasl_start },
	{ M_SASL_STEP, MS_PREAUTH, MS_SASL, 0, mon_sasl_step },
	{ M_SASL_ABORT, MS_PREAUTH, 0, 0, mon_sasl_abort },
	{ M_KPOP_APREQ, MS_PREAUTH, 0, MC_ONCE, mon_auth_kpop_apreq },
	{ M_KPOP_USER, MS_PREAUTH, MS_TICKET, MC_ATTEMPT, mon_auth_kpop_user },
	{ M_APOP_CHALLENGE, MS_PREAUTH, 0, MC_ONCE, mon_auth_apop_challenge },
	{ M_AUTH_APOP, MS_PREAUTH, MS_CHALLENGE, MC_ATTEMPT, mon_auth_apop },
	{ M_GET_MSG, MS_AUTHED, 0, 0, do_get_msg },
	{ M_TOUCH, MS_PREAUTH | MS_AUTHED | MS_DONE, 0, 0, do_touch },
	{ M_QUIT, MS_AUTHED, 0, MC_ONCE, do_quit },
	{ M_LAYER_ENCODE, MS_AUTHED | MS_DONE, MS_LAYER, 0, do_layer_encode },
	{ M_LAYER_DECODE, MS_AUTHED | MS_DONE, MS_LAYER, 0, do_layer_decode },
	{ M_PROXY, MS_PREAUTH, 0, MC_ONCE, mon_report_peer },
};

_Static_assert(KP_NELEM(mon_cmds) <= 32, "mon.used: a bit per request");

/* The session's state as mon_cmds[] reads it: the phase and MS_* bits. */
static int
mon_now(const struct mon *m)
{
	return (int)m->state | (m->sasl != NULL ? MS_SASL : 0) |
	    (m->principal[0] != '\0' ? MS_TICKET : 0) |
	    (m->apop_challenge[0] != '\0' ? MS_CHALLENGE : 0) |
	    (m->layer != NULL ? MS_LAYER : 0);
}

/* The index of type in mon_cmds[], or -1. */
static int
mon_cmd_find(uint32_t type)
{
	size_t i;

	for (i = 0; i < KP_NELEM(mon_cmds); i++)
		if (mon_cmds[i].type == type)
			return (int)i;
	return -1;
}

/*
 * Answer one request of the net process, its body in m->in: if the table
 * permits it in this state, run its handler.  Returns 0, or -1 to end
 * the session (not permitted, malformed, or the handler said so).
 */
static int
mon_request(struct mon *m, uint32_t type)
{
	const struct mon_cmd *c;
	int i, now = mon_now(m), r;

	if ((i = mon_cmd_find(type)) == -1 ||
	    ((c = &mon_cmds[i])->states & now) == 0 ||
	    (c->need & now) != c->need ||
	    ((c->flags & MC_ONCE) && (m->used & (1U << i)))) {
		log_err("the net process asked for something out of order "
		    "(request %u in state %#x): ending the session", type,
		    (unsigned int)now);
		return -1;
	}
	if (c->flags & MC_ONCE)
		m->used |= 1U << i;
	if (m->state == MS_PREAUTH)
		m->req = type;	/* after the login: the login's */
	if ((c->flags & MC_ATTEMPT) && !mon_auth_attempt(m))
		return -1;
	if ((r = c->fn(m)) == MON_LOGIN)
		r = finish_login(m, m->method);
	if (r == -1) {
		if (m->in.bad)
			log_err("the net process sent a malformed request "
			    "(%u): ending the session", type);
		return -1;
	}
	return 0;
}

#ifdef KPOP_FUZZ
/* The fuzzing entry points (mon-fuzz.h): never built into kpopd. */
struct mon *
mon_fuzz_new(const struct session_start *s, int sock, const char *principal)
{
	struct mon *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->ss = *s;
	m->s = &m->ss;
	m->c = s->conf;
	m->state = MS_PREAUTH;
	m->sock = sock;
	m->report = m->client = -1;
	if (principal != NULL) {
		/* As a good M_KPOP_APREQ leaves it. */
		util_strlcpy(m->principal, principal, sizeof(m->principal));
		m->used |= 1U << mon_cmd_find(M_KPOP_APREQ);
	}
	return m;
}

int
mon_fuzz_request(struct mon *m, uint32_t type, const void *body, size_t len)
{
	ipc_reset(&m->in);
	if (len > sizeof(m->in.data))
		return -1;
	memcpy(m->in.data, body, len);
	m->in.len = len;
	return mon_request(m, type);
}

int
mon_fuzz_state(const struct mon *m, const char **userp)
{
	*userp = m->user;
	return m->state == MS_PREAUTH ? 0 : m->state == MS_AUTHED ? 1 : 2;
}

void
mon_fuzz_free(struct mon *m)
{
	if (m == NULL)
		return;
	if (m->md != NULL)
		md_close(m->md);
	xsasl_server_free(m->sasl);
	xsasl_server_free(m->layer);
	free(m);
}

#endif

/*
 * The net process is gone or must go (ours: the monitor ended the
 * session): give it MON_NET_GRACE_MS to write its end line and exit (it
 * is waiting for an answer it will not get, or exiting), then kill it.
 * Exit status 0 means it wrote the end line; otherwise write it here,
 * with "-" for what only the net process knew.
 */
static void
mon_reap(const struct mon *m, time_t start, int ours)
{
	char peer[4 * sizeof(m->s->peer)], user[160], method[64];
	const char *end;
	long long until = util_now_ms() + MON_NET_GRACE_MS;
	pid_t r;
	int st = 0;

	while ((r = waitpid(net_pid, &st, WNOHANG)) == 0 &&
	    util_now_ms() < until)
		util_sleep_ms(10);
	if (r == 0) {
		/* Another user's: it writes its end line when it notices. */
		if (kill(net_pid, SIGKILL) == -1)
			return;
		while (waitpid(net_pid, &st, 0) == -1 && errno == EINTR)
			continue;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return;
	/*
	 * A dying process closes its descriptors before it can be reaped:
	 * the status is its own even when our SIGKILL came after.
	 */
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS) {
		log_err("net process killed by the sandbox (SIGSYS) "
		    "serving %s: a system call outside its allow-list, named "
		    "in the kernel log (audit type=1326, syscall=); session "
		    "ended", m->s->peer);
		end = "sandbox";
	} else if (mon_terminated)
		end = "terminated";
	else if (ours)
		end = "monitor";
	else if (WIFSIGNALED(st))
		end = "killed";
	else
		end = "error";
	(void)log_value(peer, sizeof(peer), m->s->peer);
	(void)log_value(user, sizeof(user), m->state != MS_PREAUTH ?
	    m->user : "");
	mon_auth_method(m, method, sizeof(method));
	log_notice("end=%s peer=%s user=%s method=%s tls=- layer=- retr=- "
	    "bytes=- dele=- time=%ld", end, peer, user, method,
	    (long)(time(NULL) - start));
}

void
monitor_main(const struct session_start *s)
{
	struct sigaction sa;
	struct mon *m;
	uint32_t type;
	time_t start;
	int sv[2], r;

	log_set_session(s->id);
	start = time(NULL);
	if ((m = calloc(1, sizeof(*m))) == NULL || ipc_pair(sv) == -1) {
		log_err("cannot start a session for %s: %s", s->peer,
		    strerror(errno));
		_exit(71);
	}
	m->ss = *s;
	m->s = s = &m->ss;
	title_set("kpopd: %s AUTHORIZATION", s->peer);
	m->c = s->conf;
	m->state = MS_PREAUTH;
	m->sock = sv[0];
	m->report = s->report;
	/* Kept only to shut it down on a kick: none without a master. */
	m->client = s->report != -1 ? s->fd : -1;
	switch ((net_pid = fork())) {
	case -1:
		log_err("cannot start a session for %s: no process for "
		    "the connection: %s", s->peer, strerror(errno));
		_exit(71);
	case 0:
		pwcache_forget();	/* the net process has no use for it */
		close(sv[0]);
		if (s->report != -1)
			close(s->report);	/* the master is not its to reach */
		net_main(s, sv[1]);
	default:
		break;
	}
	close(sv[1]);
	if (m->client == -1)
		close(s->fd);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = mon_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	for (;;) {
		r = mon_report_wait(m, &type);
		if (r == MON_KICKED) {
			mon_report_kicked(m);
			break;
		}
		if (r == 1)
			break;		/* the net process is gone */
		if (r == -1) {
			log_err("cannot read the net process's request, "
			    "ending the session: %s", strerror(errno));
			break;
		}
		if (mon_request(m, type) == -1) {
			mon_report_drain(m);
			break;
		}
	}
	/* Without a QUIT, nothing is deleted. */
	if (m->md != NULL)
		md_close(m->md);
	mon_report_end(m);
	close(m->sock);
	mon_reap(m, start, r != 1);
	_exit(0);
}

