/*
 * kpopd/monitor.c: the session monitor.  One per connection, forked by the
 * master.  It forks the net process, which owns the client socket and
 * parses every byte the client sends, and answers the net process's typed
 * requests from a table of what is permitted in the current state.  It is
 * root until a login succeeds (to read the keytab and the state
 * directory), then becomes the mail user, opens and locks the maildrop,
 * hands message descriptors to the net process, and applies deletions at
 * QUIT.  A request that is not permitted, or malformed, ends the session.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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
#include "kpopd/kpopd.h"
#include "kpopd/maildrop.h"
#include "kpopd/passwd.h"

/* Password attempts a session may make before the monitor gives up. */
#define MON_AUTH_TRIES	10
/* An [IN-USE] maildrop is tried again this often, this far apart (1 s):
   the session holding it may be ending. */
#define MON_INUSE_TRIES		10
#define MON_INUSE_WAIT_US	100000
/* Snapshot entries per M_SNAP_PART: each at most 8 + 4 + 70 bytes. */
#define MON_SNAP_BATCH	700

enum mon_state { MS_PREAUTH = 1, MS_AUTHED = 2, MS_DONE = 4 };

struct mon {
	const struct session_start	*s;
	const struct kpopd_conf		*c;
	enum mon_state			 state;
	int				 sock;
	struct maildrop			*md;
	unsigned int			 tries;
	char				 user[KPOPD_USER_MAX];
	struct ipc_buf			 in, out;
};

struct mon_cmd {
	uint32_t	 type;
	int		 states;
	int		(*fn)(struct mon *);
};

static pid_t	net_pid = -1;

/* SIGTERM (shutdown, or an idle takeover): end as if the client left. */
static void
mon_term(int sig)
{
	(void)sig;
	if (net_pid > 0)
		kill(net_pid, SIGKILL);
	_exit(0);
}

static int
mon_reply_auth(struct mon *m, enum auth_result r, const char *text)
{
	ipc_reset(&m->out);
	ipc_put_u32(&m->out, r);
	ipc_put_str(&m->out, r == AUTH_OK ? m->user : "");
	ipc_put_str(&m->out, text);
	return ipc_send(m->sock, M_AUTH_RESULT, &m->out, -1);
}

/*
 * Whether name is acceptable as a login name: printable, valid UTF-8
 * (RFC 6856), no path separators or leading dot, bounded.
 */
static int
user_name_ok(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t i, n = strlen(name), k;

	if (n == 0 || n >= KPOPD_USER_MAX || name[0] == '.' || name[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f || p[i] == '/' ||
		    p[i] == '%' || p[i] == '\\')
			return 0;
		if (p[i] < 0x80)
			continue;
		/* A UTF-8 sequence: lead byte, then continuation bytes. */
		if ((p[i] & 0xe0) == 0xc0 && p[i] >= 0xc2)
			k = 1;
		else if ((p[i] & 0xf0) == 0xe0)
			k = 2;
		else if ((p[i] & 0xf8) == 0xf0 && p[i] <= 0xf4)
			k = 3;
		else
			return 0;
		if (i + k >= n)
			return 0;
		for (; k > 0; k--)
			if ((p[++i] & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

/*
 * Expand a template: %u the user, %d the domain (after '@' or '+' in the
 * user name, empty if none), %l the local part, %h the home directory,
 * %% a percent sign; a leading "~/" is the home directory.  Returns 0 or
 * -1 (too long, or an unknown %-sequence).
 */
static int
expand(const char *tmpl, const char *user, const char *home, char *out,
    size_t outlen)
{
	const char *dom = strpbrk(user, "@+");
	size_t o = 0, n;
	const char *add;
	char local[KPOPD_USER_MAX];

	util_strlcpy(local, user, sizeof(local));
	if (dom != NULL)
		local[dom - user] = '\0';
	if (tmpl[0] == '~' && tmpl[1] == '/') {
		if ((n = strlen(home)) >= outlen)
			return -1;
		memcpy(out, home, n);
		o = n;
		tmpl++;
	}
	for (; *tmpl != '\0'; tmpl++) {
		char one[2] = { *tmpl, '\0' };

		add = one;
		if (*tmpl == '%') {
			switch (*++tmpl) {
			case 'u':
				add = user;
				break;
			case 'l':
				add = local;
				break;
			case 'd':
				add = dom != NULL ? dom + 1 : "";
				break;
			case 'h':
				add = home;
				break;
			case '%':
				add = "%";
				break;
			default:
				return -1;
			}
		}
		n = strlen(add);
		if (o + n >= outlen)
			return -1;
		memcpy(out + o, add, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
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
	/* Size 1 marks a record that has seen a login. */
	if (pwrite(fd, "x", 1, 0) != 1 || futimens(fd, NULL) == -1)
		log_warn("cannot stamp the login-delay record: %s",
		    strerror(errno));
	close(fd);
}

/*
 * Become the owner of the maildrop: its uid, its primary group, its
 * supplementary groups, and spool_group (so that dotlocks can be made in
 * a root:mail 2775 spool, as Debian's MDAs make them).  Returns 0 or -1
 * (logged).
 */
static int
drop_to(struct mon *m, const struct passwd *pw)
{
	gid_t groups[KPOPD_GROUPS_MAX];
	int ngroups = KPOPD_GROUPS_MAX - 1;
	struct group *gr;

	if (!m->s->privsep)
		return 0;
	if (pw->pw_uid == 0) {
		log_err("refusing to serve %s as uid 0", m->user);
		return -1;
	}
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &ngroups) == -1) {
		log_warn("%s is in more than %d groups; using its primary "
		    "group only", pw->pw_name, KPOPD_GROUPS_MAX - 1);
		groups[0] = pw->pw_gid;
		ngroups = 1;
	}
	if (m->c->spool_group != NULL && m->c->spool_group[0] != '\0') {
		if ((gr = getgrnam(m->c->spool_group)) == NULL)
			log_warn("spool_group '%s' does not exist",
			    m->c->spool_group);
		else
			groups[ngroups++] = gr->gr_gid;
	}
	if (setgroups((size_t)ngroups, groups) == -1 ||
	    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1) {
		log_err("cannot become %s: %s", pw->pw_name, strerror(errno));
		return -1;
	}
	if (setuid(0) != -1) {
		log_err("privileges could be regained; stopping");
		return -1;
	}
	return 0;
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

static int
do_auth_pass(struct mon *m)
{
	char pass[KPOPD_PASS_MAX], princ[KPOPD_USER_MAX + 64];
	char err[512], path[KPOPD_PATH_MAX], svc[300];
	const char *mpath;
	struct passwd *pw;
	enum md_format fmt;
	struct md_opts o;
	int r, ldfd = -1, tries;

	if (ipc_get_str(&m->in, m->user, sizeof(m->user)) == -1 ||
	    ipc_get_str(&m->in, pass, sizeof(pass)) == -1 ||
	    ipc_end(&m->in) == -1)
		return -1;
	if (++m->tries > MON_AUTH_TRIES) {
		log_notice("%s: too many login attempts", m->s->peer);
		return -1;
	}
	if (!user_name_ok(m->user)) {
		r = PW_BAD;
		util_strlcpy(err, "unacceptable user name", sizeof(err));
	} else if (strcmp(m->c->password_check, "krb5") == 0) {
		if (expand(m->c->krb5_principal, m->user, "", princ,
		    sizeof(princ)) == -1) {
			r = PW_TEMP;
			util_strlcpy(err, "krb5_principal does not expand",
			    sizeof(err));
		} else {
			util_snprintf(svc, sizeof(svc), "%s/%s",
			    m->c->service, m->c->hostname);
			r = pw_check_krb5(princ, pass, m->c->keytab, svc, err,
			    sizeof(err));
		}
	} else if (strcmp(m->c->password_check, "sasl") == 0) {
		r = pw_check_sasl(m->user, pass, m->c->service, m->c->sasldb,
		    err, sizeof(err));
	} else {
		r = PW_BAD;
		util_strlcpy(err, "password logins are disabled "
		    "(password_check = none)", sizeof(err));
	}
	util_wipe(pass, sizeof(pass));
	if (r == PW_TEMP) {
		log_err("%s: cannot check the password of %s: %s",
		    m->s->peer, m->user, err);
		return mon_reply_auth(m, AUTH_TEMP,
		    "cannot check passwords now, try again later");
	}
	pw = NULL;
	if (r == PW_OK) {
		if (strcmp(m->c->user_type, "virtual") == 0)
			pw = getpwnam(m->c->virtual_user);
		else
			pw = getpwnam(m->user);
		if (pw == NULL) {
			r = PW_BAD;
			util_snprintf(err, sizeof(err), "no local account "
			    "'%s'", strcmp(m->c->user_type, "virtual") == 0 ?
			    m->c->virtual_user : m->user);
		}
	}
	if (r != PW_OK) {
		char shown[96];

		log_printable(shown, sizeof(shown), m->user, strlen(m->user));
		log_notice("%s: login as '%s' failed: %s", m->s->peer, shown,
		    err);
		if (m->c->auth_fail_delay > 0)
			sleep(m->c->auth_fail_delay);
		return mon_reply_auth(m, AUTH_BAD,
		    "invalid user name or password");
	}

	if (login_delay_check(m, &ldfd)) {
		log_notice("%s: %s logged in again within login_delay",
		    m->s->peer, m->user);
		return mon_reply_auth(m, AUTH_LOGIN_DELAY,
		    "wait before logging in again");
	}
	fmt = strncmp(m->c->maildrop, "maildir:", 8) == 0 ? MD_MAILDIR :
	    MD_MBOX;
	mpath = strchr(m->c->maildrop, ':') + 1;
	if (expand(mpath, m->user, pw->pw_dir, path, sizeof(path)) == -1) {
		close(ldfd);
		log_err("maildrop '%s' does not expand for %s", mpath,
		    m->user);
		return mon_reply_auth(m, AUTH_PERM, "maildrop misconfigured");
	}
	if (drop_to(m, pw) == -1) {
		close(ldfd);
		mon_reply_auth(m, AUTH_TEMP, "internal error");
		return -1;
	}
	memset(&o, 0, sizeof(o));
	o.lock_timeout = m->c->lock_timeout;
	o.takeover_idle = m->c->takeover_idle;
	o.create = (fmt == MD_MAILDIR);
	/*
	 * A client that reconnects right after dropping its connection
	 * finds the old session still letting go: give it a moment.
	 */
	for (tries = 0;; tries++) {
		r = md_open(fmt, path, &o, &m->md, err, sizeof(err));
		if (r != MD_INUSE || tries == MON_INUSE_TRIES)
			break;
		usleep(MON_INUSE_WAIT_US);
	}
	if (r != MD_OK) {
		close(ldfd);
		log_notice("%s: %s: cannot open the maildrop %s: %s",
		    m->s->peer, m->user, path, err);
		mon_reply_auth(m, r == MD_INUSE ? AUTH_INUSE :
		    r == MD_PERM ? AUTH_PERM : AUTH_TEMP,
		    r == MD_INUSE ? "maildrop is in use by another session" :
		    "cannot open the maildrop");
		return -1;
	}
	login_delay_stamp(ldfd);
	m->state = MS_AUTHED;
	log_info("%s: %s logged in (password), %zu messages", m->s->peer,
	    m->user, md_count(m->md));
	if (mon_reply_auth(m, AUTH_OK, "") == -1)
		return -1;
	return send_snapshot(m);
}

static int
do_get_msg(struct mon *m)
{
	char err[256] = "";
	uint32_t i;
	off_t off = 0, len = 0;
	int fd = -1, r;

	if (ipc_get_u32(&m->in, &i) == -1 || ipc_end(&m->in) == -1 ||
	    i >= md_count(m->md))
		return -1;
	md_touch(m->md);
	r = md_msg_fd(m->md, i, &fd, &off, &len, err, sizeof(err));
	if (r != MD_OK)
		log_warn("%s: message %u: %s", m->user, i + 1, err);
	ipc_reset(&m->out);
	ipc_put_u32(&m->out, (uint32_t)-r);
	ipc_put_u64(&m->out, (uint64_t)off);
	ipc_put_u64(&m->out, (uint64_t)len);
	ipc_put_str(&m->out, err);
	r = ipc_send(m->sock, M_MSG, &m->out, r == MD_OK ? fd : -1);
	if (fd >= 0)
		close(fd);
	return r;
}

static int
do_touch(struct mon *m)
{
	if (ipc_end(&m->in) == -1)
		return -1;
	md_touch(m->md);
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
	r = ndel == 0 ? MD_OK : md_commit(m->md, del, err, sizeof(err));
	free(del);
	if (r != MD_OK)
		log_err("%s: deleting %zu messages failed: %s", m->user, ndel,
		    err);
	else if (ndel > 0)
		log_info("%s: deleted %zu messages", m->user, ndel);
	ipc_reset(&m->out);
	ipc_put_u32(&m->out, (uint32_t)-r);
	ipc_put_str(&m->out, r == MD_OK ? "" : err);
	r = ipc_send(m->sock, M_QUIT_RESULT, &m->out, -1);
	md_close(m->md);
	m->md = NULL;
	m->state = MS_DONE;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}

/* What the net process may ask, and when. */
static const struct mon_cmd mon_cmds[] = {
	{ M_AUTH_PASS, MS_PREAUTH, do_auth_pass },
	{ M_GET_MSG, MS_AUTHED, do_get_msg },
	{ M_TOUCH, MS_AUTHED, do_touch },
	{ M_QUIT, MS_AUTHED, do_quit },
};

void
monitor_main(const struct session_start *s)
{
	struct sigaction sa;
	struct mon *m;
	uint32_t type;
	size_t i;
	int sv[2], r, st;

	if ((m = calloc(1, sizeof(*m))) == NULL || ipc_pair(sv) == -1) {
		log_err("%s: cannot start a session: %s", s->peer,
		    strerror(errno));
		_exit(71);
	}
	m->s = s;
	m->c = s->conf;
	m->state = MS_PREAUTH;
	m->sock = sv[0];
	switch ((net_pid = fork())) {
	case -1:
		log_err("%s: fork: %s", s->peer, strerror(errno));
		_exit(71);
	case 0:
		close(sv[0]);
		net_main(s, sv[1]);
	default:
		break;
	}
	close(sv[1]);
	close(s->fd);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = mon_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	for (;;) {
		r = ipc_recv(m->sock, &type, &m->in, NULL, -1);
		if (r == 1)
			break;		/* the net process is gone */
		if (r == -1) {
			log_err("%s: bad message from the net process: %s",
			    s->peer, strerror(errno));
			break;
		}
		for (i = 0; i < KP_NELEM(mon_cmds); i++)
			if (mon_cmds[i].type == type)
				break;
		if (i == KP_NELEM(mon_cmds) ||
		    (mon_cmds[i].states & (int)m->state) == 0) {
			log_err("%s: request %u not permitted in state %d; "
			    "ending the session", s->peer, type, m->state);
			break;
		}
		if (mon_cmds[i].fn(m) == -1) {
			if (m->in.bad)
				log_err("%s: malformed request %u; ending the "
				    "session", s->peer, type);
			break;
		}
	}
	/* Without a QUIT, nothing is deleted. */
	if (m->md != NULL)
		md_close(m->md);
	close(m->sock);
	if (waitpid(net_pid, &st, WNOHANG) == 0) {
		kill(net_pid, SIGKILL);
		waitpid(net_pid, &st, 0);
	}
	_exit(0);
}
