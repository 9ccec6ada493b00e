/* SPDX-License-Identifier: MIT */
/*
 * kpop/poll.c: poll mode (kpop.h; kpop --daemon SECONDS, or daemon =
 * SECONDS in the config): poll every account, sleep, repeat.  SIGHUP
 * rereads the configuration (a bad one is refused, the old one kept),
 * SIGUSR1 polls now, SIGTERM and SIGINT end the fetch in hand after its
 * current message (fetch_stop) and exit 0.  A failing account backs off
 * (twice the interval per failure in a row, capped) while the others
 * keep their schedule; each poll of an account ends in one log line.
 * Before a poll, the Kerberos ticket's end is checked and a ticket that
 * is gone or ends before the next poll is reported with what to do.
 * One poller per state directory: an fcntl lock on its daemon.pid,
 * which also tells kpop --quit whom to stop.  In the background (syslog,
 * facility mail, as fetchmail) unless -F or started by systemd (stderr
 * is the journal).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <krb5.h>

#include "common/log.h"
#include "common/util.h"
#include "kpop/kpop.h"
#include "kpop/state.h"

/* A failing account waits at most this many intervals, */
#define POLL_BACKOFF_MAX	8
/* and no longer than an hour (unless the interval itself is longer). */
#define POLL_BACKOFF_CAP_S	3600
/* kpop --quit waits this long for the poller to finish its message. */
#define POLL_QUIT_WAIT_S	60
#define POLL_PIDFILE		"daemon.pid"

static volatile sig_atomic_t got_hup, got_usr1, got_term;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = fetch_stop = 1;
}

/* The accounts polled, and when each is next due. */
struct poller {
	const struct poll_ops	*ops;
	struct account		 acc[ACCOUNTS_MAX];
	size_t			 n;
	long long		 due[ACCOUNTS_MAX];	/* util_now_ms */
	unsigned int		 fails[ACCOUNTS_MAX];
	unsigned int		 interval;
};

/* ---- the lock: one poller per state directory ---- */

/* STATEDIR/daemon.pid into path; 0, or -1 with err. */
static int
pid_path(const char *statedir, char *path, size_t len, char *err,
    size_t errlen)
{
	char dir[PATH_MAX];

	if (statedir == NULL) {
		if (st_default_dir(dir, sizeof(dir), err, errlen) != KP_OK)
			return -1;
		statedir = dir;
	}
	if (util_snprintf(path, len, "%s/%s", statedir, POLL_PIDFILE) == -1) {
		util_snprintf(err, errlen, "%s: path too long", statedir);
		return -1;
	}
	return 0;
}

/*
 * Open path, making its directory (mode 700) if need be: the
 * descriptor, or -1 with err.
 */
static int
pid_open(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	char *slash;
	int fd;

	util_strlcpy(dir, path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
			util_snprintf(err, errlen, "%s: %s", dir,
			    strerror(errno));
			return -1;
		}
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1)
		util_snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return fd;
}

/* Take the lock and write our pid: 0, or -1 with err. */
static int
pid_lock(int fd, const char *path, char *err, size_t errlen)
{
	char buf[32];
	pid_t other;
	int n;

	if (util_trylock(fd) != 0) {
		other = (pid_t)util_lock_holder(fd);
		util_snprintf(err, errlen, "kpop --daemon is already running "
		    "(pid %ld, %s); kpop --quit stops it", (long)other, path);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || util_write_all(fd, buf, (size_t)n,
	    0) == -1) {
		util_snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
poll_quit(const char *statedir)
{
	char path[PATH_MAX], err[512];
	pid_t pid;
	int fd, i;

	if (pid_path(statedir, path, sizeof(path), err, sizeof(err)) == -1) {
		out_warn("%s", err);
		return KX_CONFIG;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1 ||
	    (pid = (pid_t)util_lock_holder(fd)) == 0) {
		out_warn("no kpop --daemon is running (%s)", path);
		if (fd != -1)
			close(fd);
		return KX_NOMAIL;
	}
	if (kill(pid, SIGTERM) == -1) {
		out_warn("cannot stop kpop --daemon (pid %ld): %s", (long)pid,
		    strerror(errno));
		close(fd);
		return KX_SOFTWARE;
	}
	/* It finishes the message in hand first: wait, a bounded while. */
	for (i = 0; i < POLL_QUIT_WAIT_S * 10 && util_lock_holder(fd) != 0; i++)
		util_sleep_ms(100);
	close(fd);
	if (i == POLL_QUIT_WAIT_S * 10) {
		out_warn("kpop --daemon (pid %ld) was told to stop but is still "
		    "running after %d s", (long)pid, POLL_QUIT_WAIT_S);
		return KX_TEMP;
	}
	out_say("stopped kpop --daemon (pid %ld)", (long)pid);
	return KX_OK;
}

/* ---- the Kerberos ticket ---- */

/*
 * Whether any account logs in with a ticket: 2 if one must (gssapi,
 * kpop), 1 if one may (the automatic choice), else 0.
 */
static int
wants_ticket(const struct poller *pl)
{
	int w = 0;
	size_t i;

	for (i = 0; i < pl->n; i++) {
		const char *au = pl->acc[i].auth;

		if (strcasecmp(au, "gssapi") == 0 ||
		    account_is_kpop(&pl->acc[i]))
			return 2;
		if (au[0] == '\0' || strcmp(au, "*") == 0)
			w = 1;
	}
	return w;
}

/*
 * Say, once per poll, when the ticket is gone, has expired or ends
 * before the next poll (next_s from now), and what to do about it.
 */
static void
ticket_check(const struct poller *pl, unsigned int next_s)
{
	static const char todo[] = "run kinit, or keep a ticket from a "
	    "keytab with k5start (k5start -K 10 -f KEYTAB PRINCIPAL) or "
	    "krenew (krenew -K 10, while it is renewable)";
	krb5_context ctx = NULL;
	krb5_ccache cc = NULL;
	krb5_principal me = NULL, tgs = NULL;
	krb5_cc_cursor cur;
	krb5_creds cr;
	krb5_timestamp end = 0;
	char *name = NULL, when[64];
	const krb5_data *realm;
	time_t now = time(NULL), t;
	struct tm tm;
	int want = wants_ticket(pl);

	if (want == 0 || krb5_init_context(&ctx) != 0)
		return;
	if (krb5_cc_default(ctx, &cc) != 0 ||
	    krb5_cc_get_principal(ctx, cc, &me) != 0) {
		if (want == 2)
			log_warn("no Kerberos ticket: GSSAPI and KPOP logins "
			    "fail until you %s", todo);
		goto out;
	}
	realm = krb5_princ_realm(ctx, me);
	if (krb5_unparse_name(ctx, me, &name) != 0 ||
	    krb5_build_principal_ext(ctx, &tgs, realm->length, realm->data,
	    (unsigned int)strlen(KRB5_TGS_NAME), KRB5_TGS_NAME, realm->length,
	    realm->data, 0) != 0 ||
	    krb5_cc_start_seq_get(ctx, cc, &cur) != 0)
		goto out;
	while (krb5_cc_next_cred(ctx, cc, &cur, &cr) == 0) {
		if (krb5_principal_compare(ctx, cr.server, tgs))
			end = cr.times.endtime;
		krb5_free_cred_contents(ctx, &cr);
	}
	(void)krb5_cc_end_seq_get(ctx, cc, &cur);
	t = (time_t)(uint32_t)end;
	if (end != 0 && localtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	else
		util_strlcpy(when, "?", sizeof(when));
	if (end == 0)
		log_warn("no Kerberos ticket-granting ticket for %s: GSSAPI "
		    "and KPOP logins fail until you %s", name, todo);
	else if (t <= now)
		log_warn("the Kerberos ticket of %s expired at %s: GSSAPI and "
		    "KPOP logins fail until you %s", name, when, todo);
	else if (t < now + (time_t)next_s)
		log_warn("the Kerberos ticket of %s expires at %s, before the "
		    "next poll in %u s: %s", name, when, next_s, todo);
out:
	if (name != NULL)
		krb5_free_unparsed_name(ctx, name);
	krb5_free_principal(ctx, tgs);
	krb5_free_principal(ctx, me);
	if (cc != NULL)
		krb5_cc_close(ctx, cc);
	krb5_free_context(ctx);
}

/* ---- the loop ---- */

/* The wait after fails failures in a row, in seconds. */
static unsigned int
backoff(unsigned int interval, unsigned int fails)
{
	unsigned long long d = interval, cap;

	cap = (unsigned long long)interval * POLL_BACKOFF_MAX;
	if (cap > POLL_BACKOFF_CAP_S)
		cap = POLL_BACKOFF_CAP_S;
	if (cap < interval)
		cap = interval;
	while (fails-- > 0 && d < cap)
		d *= 2;
	return (unsigned int)(d < cap ? d : cap);
}

/* Read the configuration: 0, or -1 (logged, the old one kept). */
static int
reload(struct poller *pl, unsigned int first)
{
	static struct account fresh[ACCOUNTS_MAX];
	char err[512];
	size_t n, i;
	unsigned int interval;

	if (pl->ops->load(fresh, &n, &interval, err, sizeof(err)) == -1) {
		log_err("%s: the configuration is refused%s", err, first ? "" :
		    "; still polling with the one before");
		return -1;
	}
	if (interval == 0 && !first) {
		log_notice("the configuration sets no daemon interval: still "
		    "polling every %u s", pl->interval);
		interval = pl->interval;
	}
	for (i = 0; i < pl->n; i++)
		account_free(&pl->acc[i]);
	memcpy(pl->acc, fresh, n * sizeof(fresh[0]));
	pl->n = n;
	pl->interval = interval;
	for (i = 0; i < n; i++) {
		pl->due[i] = util_now_ms();
		pl->fails[i] = 0;
	}
	return 0;
}

/* Poll account i (due): its one line, its next time. */
static void
poll_one(struct poller *pl, size_t i)
{
	struct account *a = &pl->acc[i];
	char why[LOG_LINE_MAX];
	unsigned int wait;
	int r;

	out_hold(1);
	r = pl->ops->run(a);
	if (r == KX_OK || r == KX_NOMAIL || fetch_stop) {
		out_hold(0);
		pl->fails[i] = 0;
		pl->due[i] = util_now_ms() + (long long)pl->interval * 1000;
		return;
	}
	out_take_held(why, sizeof(why));
	out_hold(0);
	wait = backoff(pl->interval, ++pl->fails[i]);
	log_warn("%s: %s; next try in %u s (%u failure%s in a row)",
	    a->name, why[0] ? why : "failed", wait, pl->fails[i],
	    pl->fails[i] == 1 ? "" : "s");
	pl->due[i] = util_now_ms() + (long long)wait * 1000;
}

/* Sleep until ms (util_now_ms) or a signal, whichever is first. */
static void
sleep_until(long long ms, const sigset_t *block)
{
	sigset_t old;
	struct timespec ts;
	long long left;

	sigprocmask(SIG_BLOCK, block, &old);
	left = ms - util_now_ms();
	if (!got_hup && !got_usr1 && !got_term && left > 0) {
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000L;
		(void)ppoll(NULL, 0, &ts, &old);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/*
 * Go to the background: a child in a session of its own carries on;
 * the parent exits 0 once the child holds the lock (or with its error).
 * Returns in the child only.
 */
static void
detach(int lockfd, const char *path)
{
	char err[512], ok = 0;
	int p[2], nul;
	pid_t pid;

	if (pipe(p) == -1 || (pid = fork()) == -1) {
		out_warn("cannot go to the background: %s", strerror(errno));
		exit(KX_SOFTWARE);
	}
	if (pid > 0) {
		close(p[1]);
		while (read(p[0], &ok, 1) == -1 && errno == EINTR)
			continue;
		exit(ok ? KX_OK : KX_TEMP);
	}
	close(p[0]);
	(void)setsid();
	if (pid_lock(lockfd, path, err, sizeof(err)) == -1) {
		out_warn("%s", err);
		exit(KX_TEMP);
	}
	if ((nul = open("/dev/null", O_RDWR)) != -1) {
		(void)dup2(nul, 0);
		(void)dup2(nul, 1);
		(void)dup2(nul, 2);
		if (nul > 2)
			close(nul);
	}
	log_open("kpop", LOG_DEST_SYSLOG, LOG_MAIL);
	ok = 1;
	if (util_write_all(p[1], &ok, 1, -1) == -1)
		log_warn("cannot tell the parent it is running: %s",
		    strerror(errno));
	close(p[1]);
}

int
poll_run(const struct poll_ops *ops, const char *statedir, int foreground)
{
	static struct poller pl;
	struct sigaction sa;
	sigset_t block;
	char path[PATH_MAX], err[512];
	long long next;
	size_t i;
	int fd, polled;

	pl.ops = ops;
	out_opts.log = 1;
	out_opts.progress = 0;
	log_open("kpop", LOG_DEST_STDERR, LOG_MAIL);
	if (reload(&pl, 1) == -1)
		return KX_CONFIG;
	if (pid_path(statedir, path, sizeof(path), err, sizeof(err)) == -1 ||
	    (fd = pid_open(path, err, sizeof(err))) == -1) {
		log_err("%s", err);
		return KX_CONFIG;
	}
	if (!foreground && !log_stderr_is_journal()) {
		/* Said here, on the terminal, not in the background. */
		if (util_lock_holder(fd) != 0 && pid_lock(fd, path, err,
		    sizeof(err)) == -1) {
			log_err("%s", err);
			return KX_TEMP;
		}
		detach(fd, path);
	} else if (pid_lock(fd, path, err, sizeof(err)) == -1) {
		log_err("%s", err);
		return KX_TEMP;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	log_notice("polling %zu account%s every %u s (pid %ld)", pl.n,
	    pl.n == 1 ? "" : "s", pl.interval, (long)getpid());
	while (!got_term) {
		if (got_hup) {
			got_hup = 0;
			if (reload(&pl, 0) == 0)
				log_notice("configuration reread: polling %zu "
				    "account%s every %u s", pl.n, pl.n == 1 ?
				    "" : "s", pl.interval);
		}
		if (got_usr1) {
			got_usr1 = 0;
			for (i = 0; i < pl.n; i++)
				pl.due[i] = util_now_ms();
		}
		polled = 0;
		for (i = 0; i < pl.n && !got_term; i++) {
			if (pl.due[i] > util_now_ms())
				continue;
			if (!polled++)
				ticket_check(&pl, pl.interval);
			poll_one(&pl, i);
		}
		next = util_now_ms() + (long long)pl.interval * 1000;
		for (i = 0; i < pl.n; i++)
			if (pl.due[i] < next)
				next = pl.due[i];
		if (!got_term)
			sleep_until(next, &block);
	}
	log_notice("stopping (signal)");
	for (i = 0; i < pl.n; i++)
		account_free(&pl.acc[i]);
	(void)unlink(path);
	close(fd);
	return KX_OK;
}
