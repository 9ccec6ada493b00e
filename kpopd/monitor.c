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
#include <krb5.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/krb5tok.h"
#include "common/log.h"
#include "common/mech.h"
#include "common/sasl.h"
#include "kpopd/kpopd.h"
#include "kpopd/maildrop.h"
#include "kpopd/passwd.h"
#ifdef KPOP_FUZZ
#include "kpopd/mon-fuzz.h"
#endif

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
	struct xsasl_server		*sasl;	/* an AUTH exchange */
	struct xsasl_server		*layer;	/* its security layer */
	int				 sasl_final;	/* final data sent */
	int				 sasl_first;	/* no client data yet */
	char				 bound[XSASL_CB_NAME_MAX];
	/* The service principal the client's ticket is for, for logs. */
	char				 asked[KRB5TOK_NAME_MAX];
	char				 mech[KPOPD_MECH_MAX];
	char				 principal[KPOPD_USER_MAX];	/* KPOP */
	char				 apop_challenge[320];
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

static int
mon_reply_auth(struct mon *m, enum auth_result r, const char *text)
{
	if (r != AUTH_OK)
		layer_drop(m);
	ipc_reset(&m->out);
	ipc_put_u32(&m->out, r);
	ipc_put_str(&m->out, r == AUTH_OK ? m->user : "");
	ipc_put_str(&m->out, text);
	ipc_put_u32(&m->out, r == AUTH_OK && m->layer != NULL ?
	    (uint32_t)xsasl_server_maxout(m->layer) : 0);
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
 * %% a percent sign; a leading "~/" is the home directory.  If trustedp
 * is not NULL, *trustedp is how much of the result the administrator
 * chose (md_opts.trusted): a leading home directory (passwd's), or what
 * comes before the directory in which a user-dependent expansion starts;
 * 0 if nothing depends on the user.  Returns 0 or -1 (too long, or an
 * unknown %-sequence).
 */
static int
expand(const char *tmpl, const char *user, const char *home, char *out,
    size_t outlen, size_t *trustedp)
{
	const char *dom = strpbrk(user, "@+");
	size_t o = 0, n, k, trusted = 0;
	int fixed = 0;
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
		trusted = n;
		fixed = 1;
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
			if (!fixed && *tmpl == 'h' && o == 0) {
				/* A leading home directory: passwd's. */
				trusted = strlen(home);
				fixed = 1;
			} else if (!fixed && *tmpl != '%') {
				/* Up to the directory this name is in. */
				for (k = o; k > 0 && out[k - 1] != '/'; k--)
					;
				trusted = k > 1 ? k - 1 : k;
				fixed = 1;
			}
		}
		n = strlen(add);
		if (o + n >= outlen)
			return -1;
		memcpy(out + o, add, n);
		o += n;
	}
	out[o] = '\0';
	if (trustedp != NULL)
		*trustedp = trusted;
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

void
kpopd_groups(const char *name, gid_t gid, gid_t *groups, int *ngroupsp)
{
	int ngroups = KPOPD_GROUPS_MAX;

	if (getgrouplist(name, gid, groups, &ngroups) == -1) {
		log_warn("%s is in more than %d groups; using its primary "
		    "group only", name, KPOPD_GROUPS_MAX);
		groups[0] = gid;
		ngroups = 1;
	}
	*ngroupsp = ngroups;
}

int
kpopd_spool_gid(const char *spool_group, gid_t *gidp)
{
	struct group *gr;

	if (spool_group == NULL || spool_group[0] == '\0')
		return 0;
	if ((gr = getgrnam(spool_group)) == NULL) {
		log_warn("spool_group '%s' does not exist", spool_group);
		return 0;
	}
	*gidp = gr->gr_gid;
	return 1;
}

/*
 * Become the owner of the maildrop: its uid, its primary group and its
 * supplementary groups.  For an mbox (spool 1), spool_group becomes the
 * saved set-group-ID, and only that: maildrop.c makes it the effective
 * gid just while it creates or removes files in the mbox's directory
 * (the dotlock in a root:mail 2775 spool, as Debian's MDAs make it; the
 * session lock; the journal) and drops it again.  A Maildir session has
 * no trace of it.  Fills in o's spool fields.  Returns 0 or -1 (logged).
 */
static int
drop_to(struct mon *m, const struct passwd *pw, int spool, struct md_opts *o)
{
	gid_t own[KPOPD_GROUPS_MAX], sgid = pw->pw_gid;
	const gid_t *groups = own;
	int ngroups, have_spool;
	const struct kpopd_ident *v = m->s->virt;

	if (!m->s->privsep)
		return 0;
	if (pw->pw_uid == 0) {
		log_err("refusing to serve %s as uid 0", m->user);
		return -1;
	}
	if (v != NULL && v->ok && v->uid == pw->pw_uid &&
	    v->gid == pw->pw_gid) {
		/* The virtual users' account, looked up by the master. */
		groups = v->groups;
		ngroups = v->ngroups;
		have_spool = v->spool_ok;
		if (have_spool)
			sgid = v->spool_gid;
	} else {
		kpopd_groups(pw->pw_name, pw->pw_gid, own, &ngroups);
		have_spool = spool && kpopd_spool_gid(m->c->spool_group,
		    &sgid);
	}
	if (!spool || !have_spool)
		sgid = pw->pw_gid;
	if (setgroups((size_t)ngroups, groups) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, sgid) == -1 ||
	    setuid(pw->pw_uid) == -1) {
		log_err("cannot become %s: %s", pw->pw_name, strerror(errno));
		return -1;
	}
	if (setuid(0) != -1) {
		log_err("privileges could be regained; stopping");
		return -1;
	}
	if (sgid != pw->pw_gid) {
		o->spool.ok = 1;
		o->spool.gid = sgid;
	}
	return 0;
}

/*
 * Whether pw's primary group is its own (a user private group, as
 * Debian's adduser makes them: same name, no other members), so that a
 * maildrop directory writable by that group lets no other account in.
 */
static int
own_group(const struct passwd *pw)
{
	struct group *gr;
	size_t i;

	if ((gr = getgrgid(pw->pw_gid)) == NULL ||
	    strcmp(gr->gr_name, pw->pw_name) != 0)
		return 0;
	for (i = 0; gr->gr_mem[i] != NULL; i++)
		if (strcmp(gr->gr_mem[i], pw->pw_name) != 0)
			return 0;
	return 1;
}

/* The session whose maildrop is being opened, for mon_note. */
static struct mon *note_mon;

/* md_opts.note: a message file left out of the snapshot, and why. */
static void
mon_note(const char *msg)
{
	char shown[PATH_MAX + 128];

	log_printable(shown, sizeof(shown), msg, strlen(msg));
	log_notice("%s: %s: %s", note_mon != NULL ? note_mon->s->peer : "-",
	    note_mon != NULL ? note_mon->user : "-", shown);
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

/* Count a login attempt: 1 if it may go on, 0 (logged) past the limit. */
static int
attempt_allowed(struct mon *m)
{
	layer_drop(m);
	if (++m->tries <= MON_AUTH_TRIES)
		return 1;
	log_notice("%s: too many login attempts", m->s->peer);
	return 0;
}

/* A refused login: logged with the reason, answered after the delay. */
static int
login_refused(struct mon *m, const char *who, const char *why)
{
	char shown[96];

	log_printable(shown, sizeof(shown), who, strlen(who));
	log_notice("%s: login as '%s' failed: %s", m->s->peer, shown, why);
	if (m->c->auth_fail_delay > 0)
		sleep(m->c->auth_fail_delay);
	return mon_reply_auth(m, AUTH_BAD, "invalid user name or password");
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
		return login_refused(m, m->user, "unacceptable user name");
	if (strcmp(m->c->user_type, "virtual") == 0)
		pw = getpwnam(m->c->virtual_user);
	else
		pw = getpwnam(m->user);
	if (pw == NULL) {
		util_snprintf(err, sizeof(err), "no local account '%s'",
		    strcmp(m->c->user_type, "virtual") == 0 ?
		    m->c->virtual_user : m->user);
		return login_refused(m, m->user, err);
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
	memset(&o, 0, sizeof(o));
	if (expand(mpath, m->user, pw->pw_dir, path, sizeof(path),
	    &o.trusted) == -1 || path[0] != '/') {
		close(ldfd);
		log_err("maildrop '%s' does not expand to an absolute path "
		    "for %s", mpath, m->user);
		return mon_reply_auth(m, AUTH_PERM, "maildrop misconfigured");
	}
	o.group_ok = own_group(pw);
	o.own_gid = pw->pw_gid;
	o.note = mon_note;
	note_mon = m;
	if (drop_to(m, pw, fmt == MD_MBOX, &o) == -1) {
		close(ldfd);
		mon_reply_auth(m, AUTH_TEMP, "internal error");
		return -1;
	}
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
	log_info("%s: %s logged in (%s), %zu messages", m->s->peer, m->user,
	    method, md_count(m->md));
	if (mon_reply_auth(m, AUTH_OK, method) == -1)
		return -1;
	return send_snapshot(m);
}

static int
do_auth_pass(struct mon *m)
{
	char pass[KPOPD_PASS_MAX], princ[KPOPD_USER_MAX + 64];
	char err[512], svc[300];
	int r;

	if (ipc_get_str(&m->in, m->user, sizeof(m->user)) == -1 ||
	    ipc_get_str(&m->in, pass, sizeof(pass)) == -1 ||
	    ipc_end(&m->in) == -1)
		return -1;
	if (!attempt_allowed(m))
		return -1;
	if (!user_name_ok(m->user)) {
		r = PW_BAD;
		util_strlcpy(err, "unacceptable user name", sizeof(err));
	} else if (strcmp(m->c->password_check, "krb5") == 0) {
		if (expand(m->c->krb5_principal, m->user, "", princ,
		    sizeof(princ), NULL) == -1) {
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
		r = pw_check_sasl(m->user, pass, m->c->service,
		    m->c->hostname, m->c->sasldb, err, sizeof(err));
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
	if (r != PW_OK)
		return login_refused(m, m->user, err);
	return finish_login(m, "password");
}

/* ---- SASL (RFC 5034) ---- */

/* Whether mech's identities are Kerberos principals. */
static int
mech_is_krb5(const char *mech)
{
	return strcmp(mech, "GSSAPI") == 0 || strncmp(mech, "GS2-KRB5", 8) == 0;
}

/*
 * The local user a principal maps to (krb5_aname_to_localname: the
 * default realm, or what auth_to_local rules in krb5.conf accept).
 * Returns 0 with the name in out, or -1 (a realm or name the site does
 * not accept).
 */
static int
principal_to_user(const char *principal, char *out, size_t outlen)
{
	krb5_context ctx;
	krb5_principal p = NULL;
	int r = -1;

	if (krb5_init_context(&ctx) != 0)
		return -1;
	if (krb5_parse_name(ctx, principal, &p) == 0 &&
	    krb5_aname_to_localname(ctx, p, (int)outlen, out) == 0)
		r = 0;
	if (p != NULL)
		krb5_free_principal(ctx, p);
	krb5_free_context(ctx);
	return r;
}

/*
 * The SASL proxy policy: may authid act as authzid?  For Kerberos
 * principals: system users by krb5_kuserok (.k5login, auth_to_local);
 * virtual users only as the name the principal maps to, since kuserok
 * says yes to any name without a passwd entry.  Other mechanisms: no.
 */
static int
mon_authorize(void *arg, const char *authid, const char *authzid)
{
	struct mon *m = arg;
	char mapped[KPOPD_USER_MAX];
	krb5_context ctx;
	krb5_principal p = NULL;
	int ok = 0;

	if (!mech_is_krb5(m->mech))
		return 0;
	if (strcmp(m->c->user_type, "virtual") == 0)
		return principal_to_user(authid, mapped, sizeof(mapped)) == 0 &&
		    strcmp(mapped, authzid) == 0;
	if (krb5_init_context(&ctx) != 0)
		return 0;
	if (krb5_parse_name(ctx, authid, &p) == 0)
		ok = krb5_kuserok(ctx, p, authzid) ? 1 : 0;
	if (p != NULL)
		krb5_free_principal(ctx, p);
	krb5_free_context(ctx);
	return ok;
}

static int
sasl_cont(struct mon *m, const void *data, size_t len)
{
	ipc_reset(&m->out);
	ipc_put_bytes(&m->out, data, len);
	return ipc_send(m->sock, M_SASL_CONT, &m->out, -1);
}

/* The exchange is over and it succeeded: who is logging in? */
static int
sasl_done(struct mon *m)
{
	char authid[KPOPD_USER_MAX], user[KPOPD_USER_MAX], method[64];
	unsigned int ssf = xsasl_server_ssf(m->sasl);

	/* Copies: the connection that holds them is freed on the way. */
	if (util_strlcpy(authid, xsasl_server_authid(m->sasl),
	    sizeof(authid)) == -1 || util_strlcpy(user,
	    xsasl_server_user(m->sasl), sizeof(user)) == -1) {
		xsasl_server_free(m->sasl);
		m->sasl = NULL;
		return login_refused(m, "(SASL)", "identity too long");
	}

	if (ssf > 0 && xsasl_server_maxout(m->sasl) == 0) {
		xsasl_server_free(m->sasl);
		m->sasl = NULL;
		return login_refused(m, authid, "a security layer with no "
		    "room for data was negotiated");
	}
	if (mech_is_krb5(m->mech) && (user[0] == '\0' ||
	    strcmp(user, authid) == 0)) {
		if (principal_to_user(authid, m->user, sizeof(m->user)) == -1) {
			char why[300];

			util_snprintf(why, sizeof(why), "principal %s maps to "
			    "no local user (realm not accepted?)", authid);
			xsasl_server_free(m->sasl);
			m->sasl = NULL;
			return login_refused(m, authid, why);
		}
	} else {
		/* authzid, if any, was allowed by mon_authorize. */
		util_strlcpy(m->user, user, sizeof(m->user));
	}
	log_info("%s: %s authenticated by %s as %s%s%s%s", m->s->peer, authid,
	    m->mech, m->user, ssf > 0 ? ", with a security layer" : "",
	    m->bound[0] != '\0' ? ", channel binding " : "", m->bound);
	util_snprintf(method, sizeof(method), "SASL %s%s", m->mech,
	    ssf > 1 ? " + privacy layer" : ssf == 1 ? " + integrity layer" :
	    "");
	if (ssf > 0)
		m->layer = m->sasl;	/* kept: it encodes from now on */
	else
		xsasl_server_free(m->sasl);
	m->sasl = NULL;
	return finish_login(m, method);
}

/*
 * The likely cause behind a Kerberos failure message (from the GSSAPI
 * plugin or krb5), in words an admin can act on; NULL when unknown.
 */
static const char *
krb5_hint(const char *msg)
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

/* Act on the outcome of a start or step. */
static int
sasl_outcome(struct mon *m, int r, const void *out, size_t outlen)
{
	switch (r) {
	case XSASL_MORE:
		return sasl_cont(m, out, outlen);
	case XSASL_DONE:
		if (outlen > 0) {
			/* RFC 5034 s.4: final data goes as a challenge. */
			m->sasl_final = 1;
			return sasl_cont(m, out, outlen);
		}
		return sasl_done(m);
	case XSASL_TEMP:
		{
			const char *hint = krb5_hint(xsasl_server_error(
			    m->sasl));

			log_err("%s: SASL %s could not be checked: %s%s%s%s%s",
			    m->s->peer, m->mech, xsasl_server_error(m->sasl),
			    hint != NULL ? "; likely cause: " : "",
			    hint != NULL ? hint : "", m->asked[0] != '\0' ?
			    "; the client asked for " : "", m->asked);
		}
		xsasl_server_free(m->sasl);
		m->sasl = NULL;
		return mon_reply_auth(m, AUTH_TEMP,
		    "cannot authenticate now, try again later");
	default:
		{
			char why[700];

			const char *hint = krb5_hint(xsasl_server_error(
			    m->sasl));

			util_snprintf(why, sizeof(why), "SASL %s: %s%s%s%s%s",
			    m->mech, xsasl_server_error(m->sasl),
			    hint != NULL ? "; likely cause: " : "",
			    hint != NULL ? hint : "", m->asked[0] != '\0' ?
			    "; the client asked for " : "", m->asked);
			xsasl_server_free(m->sasl);
			m->sasl = NULL;
			return login_refused(m, "(SASL)", why);
		}
	}
}

/* The Cyrus SASL options every use shares: service, host, sasldb. */
static void
sasl_opts(const struct mon *m, struct xsasl_server_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->service = m->c->service;
	o->hostname = m->c->hostname;
	o->sasldb = m->c->sasldb;
}

/* Whether mech is one the configuration allows. */
static int
mech_allowed(const struct kpopd_conf *c, const char *mech)
{
	return c->sasl_mechanisms != NULL &&
	    mech_listed(c->sasl_mechanisms, mech, strlen(mech));
}

/*
 * Note the channel binding a GS2-style client (SCRAM, GS2-KRB5) asks for
 * in its first message's header (RFC 5802 s.7: "p=type," after an
 * optional "F,"), for the log; Cyrus SASL checks it.
 */
static void
note_binding(struct mon *m, const void *data, size_t len)
{
	const char *p = data;
	size_t i;

	m->bound[0] = '\0';
	m->sasl_first = 0;
	if (mech_is_krb5(m->mech) && krb5tok_sname(data, len, m->asked,
	    sizeof(m->asked)) == -1)
		m->asked[0] = '\0';
	if (len >= 2 && p[0] == 'F' && p[1] == ',') {
		p += 2;
		len -= 2;
	}
	if (len < 3 || p[0] != 'p' || p[1] != '=')
		return;
	for (i = 2; i < len && p[i] != ',' && i - 2 < sizeof(m->bound) - 1;
	    i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return;
	if (i < len && p[i] == ',') {
		memcpy(m->bound, p + 2, i - 2);
		m->bound[i - 2] = '\0';
	}
}

static int
do_sasl_start(struct mon *m)
{
	struct xsasl_server_opts o;
	const void *in, *out = NULL, *cb;
	char err[256], cb_name[32];
	size_t inlen, outlen = 0, i, cblen;
	uint32_t has_in, tls_ssf;
	int r;

	xsasl_server_free(m->sasl);
	m->sasl = NULL;
	m->sasl_final = 0;
	if (ipc_get_str(&m->in, m->mech, sizeof(m->mech)) == -1 ||
	    ipc_get_u32(&m->in, &has_in) == -1 ||
	    ipc_get_bytes(&m->in, &in, &inlen) == -1 ||
	    ipc_get_u32(&m->in, &tls_ssf) == -1 ||
	    ipc_get_str(&m->in, cb_name, sizeof(cb_name)) == -1 ||
	    ipc_get_bytes(&m->in, &cb, &cblen) == -1 ||
	    ipc_end(&m->in) == -1 || tls_ssf > 256 || cblen > 64)
		return -1;
	for (i = 0; m->mech[i] != '\0'; i++)
		if (m->mech[i] >= 'a' && m->mech[i] <= 'z')
			m->mech[i] = (char)(m->mech[i] - 'a' + 'A');
	if (!attempt_allowed(m))
		return -1;
	if (!mech_allowed(m->c, m->mech))
		return login_refused(m, "(SASL)", "mechanism not allowed");
	sasl_opts(m, &o);
	o.mechs = m->c->sasl_mechanisms;
	o.keytab = m->c->keytab;
	/* Inside TLS a layer adds nothing: TLS is the external SSF. */
	o.max_ssf = tls_ssf > 0 ? 0 : m->c->sasl_max_ssf;
	o.ext_ssf = tls_ssf;
	if (cb_name[0] != '\0') {
		o.cb_name = cb_name;
		o.cb_data = cb;
		o.cb_len = cblen;
	}
	o.authorize = mon_authorize;
	o.authorize_arg = m;
	m->sasl_first = 1;
	if (has_in)
		note_binding(m, in, inlen);
	if ((m->sasl = xsasl_server_new(&o, err, sizeof(err))) == NULL) {
		log_err("%s: %s", m->s->peer, err);
		return mon_reply_auth(m, AUTH_TEMP,
		    "cannot authenticate now, try again later");
	}
	r = xsasl_server_start(m->sasl, m->mech, in, inlen, has_in != 0, &out,
	    &outlen);
	return sasl_outcome(m, r, out, outlen);
}

static int
do_sasl_step(struct mon *m)
{
	const void *in, *out = NULL;
	size_t inlen, outlen = 0;
	int r;

	if (m->sasl == NULL || ipc_get_bytes(&m->in, &in, &inlen) == -1 ||
	    ipc_end(&m->in) == -1)
		return -1;
	if (m->sasl_final) {
		m->sasl_final = 0;
		if (inlen != 0) {
			xsasl_server_free(m->sasl);
			m->sasl = NULL;
			return login_refused(m, "(SASL)", "data after the "
			    "final challenge");
		}
		return sasl_done(m);
	}
	if (m->sasl_first)
		note_binding(m, in, inlen);
	r = xsasl_server_step(m->sasl, in, inlen, &out, &outlen);
	return sasl_outcome(m, r, out, outlen);
}

static int
do_sasl_abort(struct mon *m)
{
	if (ipc_end(&m->in) == -1)
		return -1;
	xsasl_server_free(m->sasl);
	m->sasl = NULL;
	m->sasl_final = 0;
	return 0;
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
static int
do_kpop_apreq(struct mon *m)
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
	const char *msg;
	size_t reqlen;
	int r;

	memset(&rep, 0, sizeof(rep));
	memset(&errpkt, 0, sizeof(errpkt));
	if (m->principal[0] != '\0' ||
	    ipc_get_bytes(&m->in, &req, &reqlen) == -1 ||
	    ipc_end(&m->in) == -1)
		return -1;
	if ((ret = krb5_init_context(&ctx)) != 0) {
		log_err("%s: KPOP: cannot start Kerberos: error %ld",
		    m->s->peer, (long)ret);
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
	log_info("%s: KPOP: %s authenticated (the session is not encrypted)",
	    m->s->peer, cname);
	r = kpop_reply(m, 1, rep.data, rep.length);
	goto out;
refused:
	msg = krb5_get_error_message(ctx, ret);
	if (krb5tok_sname(req, reqlen, m->asked, sizeof(m->asked)) == -1)
		util_strlcpy(m->asked, "(not a ticket)", sizeof(m->asked));
	log_notice("%s: KPOP: AP-REQ refused: %s%s%s; the client asked for "
	    "%s, kpopd is %s", m->s->peer, msg, krb5_hint(msg) != NULL ?
	    "; likely cause: " : "", krb5_hint(msg) != NULL ? krb5_hint(msg) :
	    "", m->asked, svc);
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
	if (m->c->auth_fail_delay > 0)
		sleep(m->c->auth_fail_delay);
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
static int
do_kpop_user(struct mon *m)
{
	char why[KPOPD_USER_MAX * 2 + 64];
	int allowed;

	if (m->principal[0] == '\0' ||
	    ipc_get_str(&m->in, m->user, sizeof(m->user)) == -1 ||
	    ipc_end(&m->in) == -1)
		return -1;
	if (!attempt_allowed(m))
		return -1;
	util_strlcpy(m->mech, "GSSAPI", sizeof(m->mech));
	allowed = user_name_ok(m->user) &&
	    mon_authorize(m, m->principal, m->user) == 1;
	if (!allowed) {
		util_snprintf(why, sizeof(why), "KPOP principal %s may not "
		    "act as %s", m->principal, m->user);
		return login_refused(m, m->user, why);
	}
	return finish_login(m, "KPOP");
}

/* ---- APOP ---- */

/* The greeting's timestamp (RFC 1939 s.7): new for every session. */
static int
do_apop_challenge(struct mon *m)
{
	unsigned char rnd[8];
	char hex[17];
	size_t i;

	if (!m->c->apop || m->apop_challenge[0] != '\0' ||
	    ipc_end(&m->in) == -1 || RAND_bytes(rnd, sizeof(rnd)) != 1)
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

static int
do_auth_apop(struct mon *m)
{
	struct xsasl_server_opts o;
	char digest[64], err[300];
	int r;

	if (m->apop_challenge[0] == '\0' ||
	    ipc_get_str(&m->in, m->user, sizeof(m->user)) == -1 ||
	    ipc_get_str(&m->in, digest, sizeof(digest)) == -1 ||
	    ipc_end(&m->in) == -1)
		return -1;
	if (!attempt_allowed(m))
		return -1;
	if (!user_name_ok(m->user))
		return login_refused(m, m->user, "unacceptable user name");
	sasl_opts(m, &o);
	o.mechs = "";
	r = xsasl_checkapop(&o, m->apop_challenge, m->user, digest, err,
	    sizeof(err));
	if (r == XSASL_TEMP) {
		log_err("%s: APOP for %s could not be checked: %s",
		    m->s->peer, m->user, err);
		return mon_reply_auth(m, AUTH_TEMP,
		    "cannot check passwords now, try again later");
	}
	if (r != XSASL_DONE)
		return login_refused(m, m->user, err);
	return finish_login(m, "APOP");
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
		if (r != MD_OK)
			log_warn("%s: message %u: %s", m->user, i + 1, err);
		else
			fds[nfds++] = fd;
		ipc_put_u32(&m->out, (uint32_t)-r);
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
	/*
	 * Let the maildrop go before the client hears the +OK: a client
	 * that logs in again at once must find it free, not [IN-USE].
	 */
	md_close(m->md);
	m->md = NULL;
	m->state = MS_DONE;
	ipc_reset(&m->out);
	ipc_put_u32(&m->out, (uint32_t)-r);
	ipc_put_str(&m->out, r == MD_OK ? "" : err);
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

	if (m->layer == NULL || ipc_get_bytes(&m->in, &in, &inlen) == -1 ||
	    ipc_end(&m->in) == -1)
		return -1;
	r = encode ? xsasl_server_encode(m->layer, in, inlen, &out, &outlen) :
	    xsasl_server_decode(m->layer, in, inlen, &out, &outlen);
	if (r == -1 || outlen > IPC_MSG_MAX - 16) {
		log_notice("%s: %s: security layer: %s", m->s->peer, m->user,
		    r == -1 ? xsasl_server_error(m->layer) : "packet too big");
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

/* What the net process may ask, and when. */
static const struct mon_cmd mon_cmds[] = {
	{ M_AUTH_PASS, MS_PREAUTH, do_auth_pass },
	{ M_SASL_START, MS_PREAUTH, do_sasl_start },
	{ M_SASL_STEP, MS_PREAUTH, do_sasl_step },
	{ M_SASL_ABORT, MS_PREAUTH, do_sasl_abort },
	{ M_KPOP_APREQ, MS_PREAUTH, do_kpop_apreq },
	{ M_KPOP_USER, MS_PREAUTH, do_kpop_user },
	{ M_APOP_CHALLENGE, MS_PREAUTH, do_apop_challenge },
	{ M_AUTH_APOP, MS_PREAUTH, do_auth_apop },
	{ M_GET_MSG, MS_AUTHED, do_get_msg },
	{ M_TOUCH, MS_AUTHED, do_touch },
	{ M_QUIT, MS_AUTHED, do_quit },
	{ M_LAYER_ENCODE, MS_AUTHED | MS_DONE, do_layer_encode },
	{ M_LAYER_DECODE, MS_AUTHED | MS_DONE, do_layer_decode },
};

/*
 * Answer one request of the net process, its body in m->in: if the table
 * permits it in this state, run its handler.  Returns 0, or -1 to end
 * the session (not permitted, malformed, or the handler said so).
 */
static int
mon_request(struct mon *m, uint32_t type)
{
	size_t i;

	for (i = 0; i < KP_NELEM(mon_cmds); i++)
		if (mon_cmds[i].type == type)
			break;
	if (i == KP_NELEM(mon_cmds) ||
	    (mon_cmds[i].states & (int)m->state) == 0) {
		log_err("%s: request %u not permitted in state %d; "
		    "ending the session", m->s->peer, type, m->state);
		return -1;
	}
	if (mon_cmds[i].fn(m) == -1) {
		if (m->in.bad)
			log_err("%s: malformed request %u; ending the "
			    "session", m->s->peer, type);
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
	m->s = s;
	m->c = s->conf;
	m->state = MS_PREAUTH;
	m->sock = sock;
	if (principal != NULL)
		util_strlcpy(m->principal, principal, sizeof(m->principal));
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

void
monitor_main(const struct session_start *s)
{
	struct sigaction sa;
	struct mon *m;
	uint32_t type;
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
		if (mon_request(m, type) == -1)
			break;
	}
	/* Without a QUIT, nothing is deleted. */
	if (m->md != NULL)
		md_close(m->md);
	close(m->sock);
	st = 0;
	if (waitpid(net_pid, &st, WNOHANG) == 0) {
		kill(net_pid, SIGKILL);
		waitpid(net_pid, &st, 0);
	}
	/*
	 * A dying process closes its descriptors before it can be reaped:
	 * the status is its own even when our SIGKILL came after.
	 */
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		log_err("%s: net process killed by the sandbox (SIGSYS): a "
		    "system call outside its allow-list, named in the kernel "
		    "log (audit type=1326, syscall=); session ended",
		    s->peer);
	_exit(0);
}
