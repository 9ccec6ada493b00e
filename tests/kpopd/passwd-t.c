/* SPDX-License-Identifier: MIT */
/*
 * tests/kpopd/passwd-t.c: tests for kpopd/passwd.c against real realms
 * made with kdc-test: good and bad passwords, unknown users and realms,
 * expired and disabled accounts; malformed passwords and keytab faults
 * refused before any KDC is asked (a trap KDC that only listens proves
 * it); a second realm of the same name standing in for a spoofed KDC,
 * which must fail verification; a KDC that is down.  Then Cyrus SASL
 * against sasldb files made with saslpasswd2, and saslauthd not running.
 *
 * Needs kdc-test ($KPOP_SRCDIR/kdc-test/kdc-test) and the krb5-kdc,
 * krb5-admin-server and krb5-user packages; the sasldb part needs
 * saslpasswd2 (sasl2-bin) and is skipped without it.  Scratch files go in
 * a directory made under $KPOP_TEST_TMP (else $TMPDIR or /tmp) and
 * removed at exit, the realms with it, even on a bail or a signal.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/limits.h"
#include "kpopd/passwd.h"
#include "tap/basic.h"

#define REALM		"KPOP.TEST"
/* A KDC that is down must be noticed within this many seconds. */
#define DOWN_MAX_SECS	5.0
/* The whole test is stopped after this long, realms and all. */
#define TEST_ALARM	120
/* Arguments run() passes on. */
#define RUN_ARGS_MAX	15
/* kpopd's hostname in the sasldb part: the realm of a bare name. */
#define SASL_HOST	"pop.passwd-t.test"
/* Tests in the sasldb part, skipped as a block without saslpasswd2. */
#define SASLDB_TESTS	22

static pid_t	 main_pid;
static char	 kdc_test[PATH_MAX];
static char	 scratch[PATH_MAX];
static char	 realm1[PATH_MAX], realm2[PATH_MAX];
static volatile sig_atomic_t realm1_up, realm2_up, scratch_made;
static char	 keytab1[PATH_MAX], keytab2[PATH_MAX];
static int	 trap_udp = -1, trap_tcp = -1, trap_port;
static volatile pid_t run_child;	/* what run() waits for, or 0 */

/*
 * Run argv (argv[0] a path) with input (or nothing) on its stdin and its
 * stdout into out (outlen bytes, NUL-terminated) or to our stderr.
 * Returns the exit status, or -1 if it did not exit normally.  Uses only
 * async-signal-safe calls when input and out are NULL, for the cleanup.
 */
static int
run(const char *const argv[], const char *input, char *out, size_t outlen)
{
	char *args[RUN_ARGS_MAX + 1];
	int inp[2] = { -1, -1 }, outp[2] = { -1, -1 };
	size_t got = 0;
	ssize_t n, w;
	pid_t pid;
	size_t i;
	int status;

	/* execv() takes char *const[] but changes nothing: copy pointers. */
	for (i = 0; argv[i] != NULL; i++)
		if (i == RUN_ARGS_MAX)
			return -1;
	memcpy(args, argv, (i + 1) * sizeof(argv[0]));
	if ((input != NULL && pipe(inp) == -1) ||
	    (out != NULL && pipe(outp) == -1))
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		if (input != NULL) {
			(void)dup2(inp[0], 0);
			(void)close(inp[0]);
			(void)close(inp[1]);
		}
		(void)dup2(out != NULL ? outp[1] : 2, 1);
		if (out != NULL) {
			(void)close(outp[0]);
			(void)close(outp[1]);
		}
		execv(args[0], args);
		_exit(127);
	}
	run_child = pid;
	if (input != NULL) {
		(void)close(inp[0]);
		w = write(inp[1], input, strlen(input));
		(void)w;
		(void)close(inp[1]);
	}
	if (out != NULL) {
		(void)close(outp[1]);
		/* Read to EOF, keeping what fits, so the child never blocks. */
		for (;;) {
			char sink[512];

			if (got < outlen - 1)
				n = read(outp[0], out + got, outlen - 1 - got);
			else
				n = read(outp[0], sink, sizeof(sink));
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			if (got < outlen - 1)
				got += (size_t)n;
		}
		out[got] = '\0';
		(void)close(outp[0]);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			run_child = 0;
			return -1;
		}
	run_child = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
realm_stop(const char *dir, volatile sig_atomic_t *up)
{
	const char *argv[] = { kdc_test, "stop", dir, NULL };

	if (!*up)
		return;
	*up = 0;
	/* A start stopped by a signal may have removed it already. */
	if (access(dir, F_OK) == 0)
		(void)run(argv, NULL, NULL, 0);
}

/* Stop the realms and remove the scratch directory; main process only. */
static void
cleanup(void)
{
	const char *argv[] = { "/bin/rm", "-rf", scratch, NULL };

	if (getpid() != main_pid)
		return;
	realm_stop(realm2, &realm2_up);
	realm_stop(realm1, &realm1_up);
	if (scratch_made) {
		scratch_made = 0;
		(void)run(argv, NULL, NULL, 0);
	}
}

static void
on_signal(int sig)
{
	static const char msg[] = "Bail out! stopped by a signal\n";
	ssize_t w;

	if (getpid() == main_pid) {
		w = write(1, msg, sizeof(msg) - 1);
		(void)w;
		/* Let a kdc-test start under way undo itself first. */
		if (run_child > 0) {
			(void)kill(run_child, SIGTERM);
			(void)waitpid(run_child, NULL, 0);
			run_child = 0;
		}
		cleanup();
	}
	_exit(128 + sig);
}

/* bail(), but stop the realms first: bail() does not run atexit. */
static void	die(const char *, ...) TAP_PRINTF(1, 2)
		    __attribute__((__noreturn__));

static void
die(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cleanup();
	bail("%s", msg);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
path_join(char *dst, size_t dstlen, const char *dir, const char *name)
{
	int n = snprintf(dst, dstlen, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= dstlen)
		die("path too long: %s/%s", dir, name);
}

/*
 * Set the environment from "export NAME=VALUE" lines, VALUE as printf %q
 * writes it for a plain word (backslash escapes only).
 */
static void
load_env(char *text)
{
	char *line, *next, *eq, *r, *w;

	for (line = text; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line == '\0')
			continue;
		if (strncmp(line, "export ", 7) != 0 ||
		    (eq = strchr(line + 7, '=')) == NULL)
			die("kdc-test env: unexpected line '%s'", line);
		*eq = '\0';
		if (eq[1] == '$' || eq[1] == '\'' || eq[1] == '"')
			die("kdc-test env: cannot unquote %s", line + 7);
		for (r = w = eq + 1; *r != '\0'; r++) {
			if (*r == '\\' && r[1] != '\0')
				r++;
			*w++ = *r;
		}
		*w = '\0';
		if (setenv(line + 7, eq + 1, 1) == -1)
			die("setenv %s", line + 7);
	}
}

/* Start a realm in dir (realm name REALM) and note that it runs. */
static void
realm_start(const char *dir, volatile sig_atomic_t *up)
{
	const char *argv[] = { kdc_test, "start", dir, "--realm", REALM,
	    NULL };

	/* Marked first: a start that fails halfway cleans up after itself. */
	*up = 1;
	if (run(argv, NULL, NULL, 0) != 0) {
		*up = 0;
		die("kdc-test start %s failed (a missing realm is a failure)",
		    dir);
	}
}

static void
realm_env(const char *dir)
{
	const char *argv[] = { kdc_test, "env", dir, NULL };
	char out[8192];

	if (run(argv, NULL, out, sizeof(out)) != 0)
		die("kdc-test env %s failed", dir);
	load_env(out);
}

/* Run kadmin.local -q query in the realm the environment points at. */
static void
kadmin(const char *query)
{
	static const char *const where[] = { "/usr/sbin/kadmin.local",
	    "/usr/local/sbin/kadmin.local", "/sbin/kadmin.local" };
	const char *argv[] = { NULL, "-r", REALM, "-q", query, NULL };
	char out[4096];
	size_t i;

	for (i = 0; i < KP_NELEM(where); i++)
		if (access(where[i], X_OK) == 0)
			break;
	if (i == KP_NELEM(where))
		die("kadmin.local not found (Debian package krb5-admin-server)");
	argv[0] = where[i];
	if (run(argv, NULL, out, sizeof(out)) != 0)
		die("kadmin.local -q '%s' failed", query);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f;

	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) == EOF)
		die("cannot write %s", path);
}

/* A krb5.conf for REALM whose one KDC is 127.0.0.1:port. */
static void
write_krb5_conf(const char *path, int port, int tcp_only)
{
	char text[1024];

	(void)snprintf(text, sizeof(text),
	    "[libdefaults]\n"
	    "\tdefault_realm = %s\n"
	    "\tdns_lookup_kdc = false\n"
	    "\tdns_lookup_realm = false\n"
	    "\trdns = false\n"
	    "\tdns_canonicalize_hostname = false\n"
	    "\tqualify_shortname = \"\"\n"
	    "%s"
	    "[realms]\n"
	    "\t%s = {\n"
	    "\t\tkdc = 127.0.0.1:%d\n"
	    "\t}\n"
	    "[domain_realm]\n"
	    "\tlocalhost = %s\n",
	    REALM, tcp_only ? "\tudp_preference_limit = 1\n" : "", REALM,
	    port, REALM);
	write_file(path, text);
}

/*
 * The trap KDC: a UDP socket and a listening TCP socket on one loopback
 * port that never answer; any request sent to it stays readable there.
 */
static void
trap_open(void)
{
	struct sockaddr_in sin;
	socklen_t len;
	int tries, one = 1;

	for (tries = 0; tries < 10; tries++) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(sin);
		if ((trap_udp = socket(AF_INET, SOCK_DGRAM, 0)) == -1 ||
		    bind(trap_udp, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    getsockname(trap_udp, (struct sockaddr *)&sin, &len) == -1)
			die("trap: cannot bind a UDP socket");
		if ((trap_tcp = socket(AF_INET, SOCK_STREAM, 0)) == -1)
			die("trap: socket");
		(void)setsockopt(trap_tcp, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		if (bind(trap_tcp, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		    listen(trap_tcp, 8) == 0) {
			trap_port = ntohs(sin.sin_port);
			return;
		}
		(void)close(trap_udp);
		(void)close(trap_tcp);
	}
	die("trap: no port free for both UDP and TCP");
}

/* Has anything reached the trap?  Waits up to ms milliseconds. */
static int
trap_hit(int ms)
{
	struct pollfd pfd[2];

	pfd[0].fd = trap_udp;
	pfd[0].events = POLLIN;
	pfd[1].fd = trap_tcp;
	pfd[1].events = POLLIN;
	return poll(pfd, 2, ms) > 0;
}

/* A loopback port where nothing listens, for UDP or TCP (at the moment). */
static int
closed_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, port;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		die("cannot find a closed port");
	port = ntohs(sin.sin_port);
	(void)close(fd);
	return port;
}

/*
 * Check one pw_check_krb5 call: the result, a reason in err, and that err
 * does not hold the password.  Leaves err in errout if not NULL.
 */
static void
check_krb5(int want, const char *reason, const char *principal,
    const char *password, const char *keytab, const char *service,
    const char *what, char *errout)
{
	char err[ERR_MSG_MAX];
	int rv;

	memset(err, 'X', sizeof(err));
	rv = pw_check_krb5(principal, password, keytab, service, err,
	    sizeof(err));
	is_int(rv, want, "%s", what);
	ok(memchr(err, '\0', sizeof(err)) != NULL &&
	    strstr(err, reason) != NULL &&
	    (strlen(password) < 4 || strstr(err, password) == NULL),
	    "%s: the log message says '%s'", what, reason);
	diag("err: %s", memchr(err, '\0', sizeof(err)) != NULL ? err : "?");
	if (errout != NULL)
		(void)util_strlcpy(errout, err, ERR_MSG_MAX);
}

/* The same for pw_check_sasl. */
static void
check_sasl(int want, const char *reason, const char *user,
    const char *password, const char *sasldb, const char *what)
{
	char err[ERR_MSG_MAX];
	int rv;

	memset(err, 'X', sizeof(err));
	rv = pw_check_sasl(user, password, "pop", SASL_HOST, sasldb, err,
	    sizeof(err));
	is_int(rv, want, "%s", what);
	ok(memchr(err, '\0', sizeof(err)) != NULL &&
	    strstr(err, reason) != NULL &&
	    (strlen(password) < 4 || strstr(err, password) == NULL),
	    "%s: the log message says '%s'", what, reason);
	diag("err: %s", memchr(err, '\0', sizeof(err)) != NULL ? err : "?");
}

static void
setup(void)
{
	const char *src, *base;
	struct sigaction sa;
	int n;

	main_pid = getpid();
	if ((src = getenv("KPOP_SRCDIR")) == NULL || *src == '\0')
		src = ".";
	n = snprintf(kdc_test, sizeof(kdc_test), "%s/kdc-test/kdc-test",
	    src);
	if (n < 0 || (size_t)n >= sizeof(kdc_test) ||
	    access(kdc_test, X_OK) != 0)
		bail("no kdc-test at %s (set KPOP_SRCDIR)", kdc_test);
	if ((base = getenv("KPOP_TEST_TMP")) == NULL || *base == '\0')
		if ((base = getenv("TMPDIR")) == NULL || *base == '\0')
			base = "/tmp";
	n = snprintf(scratch, sizeof(scratch), "%s/passwd-t.XXXXXX", base);
	if (n < 0 || (size_t)n >= sizeof(scratch) || mkdtemp(scratch) == NULL)
		bail("cannot make a scratch directory under %s", base);
	scratch_made = 1;
	if (atexit(cleanup) != 0)
		die("atexit");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigaction(SIGALRM, &sa, NULL);
	alarm(TEST_ALARM);
	path_join(realm1, sizeof(realm1), scratch, "realm1");
	path_join(realm2, sizeof(realm2), scratch, "realm2");
	path_join(keytab1, sizeof(keytab1), realm1, "pop.keytab");
	path_join(keytab2, sizeof(keytab2), realm2, "pop.keytab");
}

/* The real realm: right and wrong passwords, users, realms, accounts. */
static void
test_realm(void)
{
	char err_pw[ERR_MSG_MAX], err_user[ERR_MSG_MAX];
	const char *ccname;
	struct stat st;
	char *ktenv;

	check_krb5(KP_OK, "verified", "alice", "alice-pw", keytab1,
	    "pop/localhost", "alice, right password", NULL);
	check_krb5(KP_OK, "verified", "alice@" REALM, "alice-pw", keytab1,
	    "pop/localhost", "alice@" REALM ", right password", NULL);
	check_krb5(KP_OK, "verified", "bob", "bob-pw", NULL, NULL,
	    "default keytab (KRB5_KTNAME) and host/ key", NULL);
	if ((ktenv = getenv("KRB5_KTNAME")) == NULL)
		die("no KRB5_KTNAME");
	check_krb5(KP_OK, "verified", "carol", "carol-pw", ktenv,
	    "pop/localhost@" REALM, "FILE: keytab name, service with realm",
	    NULL);

	/* Nothing was written to the credential cache KRB5CCNAME names. */
	if ((ccname = getenv("KRB5CCNAME")) == NULL ||
	    strncmp(ccname, "FILE:", 5) != 0)
		die("KRB5CCNAME is not a FILE: cache");
	ok(lstat(ccname + 5, &st) == -1 && errno == ENOENT,
	    "no credential cache file written (%s)", ccname);

	check_krb5(KP_AUTH, "Password incorrect", "alice", "wrong-pw",
	    keytab1, "pop/localhost", "wrong password", err_pw);
	check_krb5(KP_AUTH, "not found", "nosuch", "alice-pw", keytab1,
	    "pop/localhost", "unknown principal", err_user);
	ok(strcmp(err_pw, err_user) != 0,
	    "wrong password and unknown user log different reasons");
	check_krb5(KP_AUTH, "Password incorrect", "bob", "alice-pw", keytab1,
	    "pop/localhost", "another user's password", NULL);
	check_krb5(KP_AUTH, "does not know", "alice@NO.SUCH.TEST", "alice-pw",
	    keytab1, "pop/localhost", "a realm krb5.conf does not know",
	    NULL);
	check_krb5(KP_AUTH, "cannot parse", "alice@A@B", "alice-pw", keytab1,
	    "pop/localhost", "malformed principal name", NULL);

	/* Accounts the KDC refuses, whatever the password. */
	kadmin("modprinc -allow_tix carol");
	kadmin("modprinc -pwexpire \"2000-01-01\" bob");
	kadmin("addprinc -pw dave-pw -expire \"2000-01-01\" dave");
	check_krb5(KP_AUTH, "revoked", "carol", "carol-pw", keytab1,
	    "pop/localhost", "disabled account (-allow_tix)", NULL);
	check_krb5(KP_AUTH, "expired", "bob", "bob-pw", keytab1,
	    "pop/localhost", "expired password", NULL);
	check_krb5(KP_AUTH, "expired", "dave", "dave-pw", keytab1,
	    "pop/localhost", "expired account", NULL);
}

/*
 * Refusals that must come before any KDC is asked: malformed passwords
 * and names, keytab faults.  The KDC is the trap, which never answers.
 */
static void
test_no_kdc_contact(void)
{
	char conf[PATH_MAX], junk[PATH_MAX], nokt[PATH_MAX], err[ERR_MSG_MAX];
	char big[2001], exact[PW_PASSWORD_MAX + 2];
	double t0;
	pid_t pid;
	int status;

	trap_open();
	path_join(conf, sizeof(conf), scratch, "trap.conf");
	write_krb5_conf(conf, trap_port, 0);
	if (setenv("KRB5_CONFIG", conf, 1) == -1)
		die("setenv");

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	check_krb5(KP_AUTH, "empty password", "alice", "", keytab1,
	    "pop/localhost", "empty password", NULL);
	check_krb5(KP_AUTH, "CR or LF", "alice", "alice-pw\r", keytab1,
	    "pop/localhost", "password with CR", NULL);
	check_krb5(KP_AUTH, "CR or LF", "alice", "alice\npw", keytab1,
	    "pop/localhost", "password with LF", NULL);
	check_krb5(KP_AUTH, "longer than", "alice", big, keytab1,
	    "pop/localhost", "password of 2000 bytes", NULL);
	check_krb5(KP_AUTH, "empty user", "", "alice-pw", keytab1,
	    "pop/localhost", "empty principal", NULL);
	is_int(pw_check_form("ab\0cd", 5, err, sizeof(err)), KP_AUTH,
	    "pw_check_form: NUL inside a counted password");
	ok(strstr(err, "NUL") != NULL, "pw_check_form: says NUL");
	memset(exact, 'y', sizeof(exact));
	is_int(pw_check_form(exact, PW_PASSWORD_MAX, err, sizeof(err)), KP_OK,
	    "pw_check_form: PW_PASSWORD_MAX bytes are fine");
	is_int(pw_check_form(exact, PW_PASSWORD_MAX + 1, err, sizeof(err)),
	    KP_AUTH, "pw_check_form: PW_PASSWORD_MAX + 1 bytes are not");

	/* The server's keytab problems: [SYS/TEMP], even for a bad password. */
	check_krb5(KP_TEMP, "no usable key for pop/nosuchhost", "alice",
	    "alice-pw", keytab1, "pop/nosuchhost",
	    "keytab without the service key", NULL);
	check_krb5(KP_TEMP, "server problem", "alice", "wrong-pw", keytab1,
	    "pop/nosuchhost", "keytab without the service key, bad password",
	    NULL);
	path_join(nokt, sizeof(nokt), scratch, "no-such.keytab");
	check_krb5(KP_TEMP, "no-such.keytab", "alice", "alice-pw", nokt,
	    "pop/localhost", "nonexistent keytab", NULL);
	path_join(junk, sizeof(junk), scratch, "junk.keytab");
	write_file(junk, "this is not a keytab\n");
	check_krb5(KP_TEMP, "server problem", "alice", "alice-pw", junk,
	    "pop/localhost", "unreadable keytab (not a keytab)", NULL);
	check_krb5(KP_TEMP, "server problem", "alice", "alice-pw", scratch,
	    "pop/localhost", "keytab path is a directory", NULL);

	ok(!trap_hit(0), "none of these reached the KDC");

	/* Control: a well-formed request does reach the trap. */
	fflush(stdout);
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		alarm(30);
		status = pw_check_krb5("alice", "alice-pw", keytab1,
		    "pop/localhost", err, sizeof(err));
		_exit(status == KP_OK ? 0 : 1);
	}
	t0 = now();
	ok(trap_hit(5000), "control: a good request reaches the trap KDC "
	    "(after %.2f s)", now() - t0);
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, &status, 0);
	(void)close(trap_udp);
	(void)close(trap_tcp);
}

/* A second realm of the same name stands in for a spoofed KDC. */
static void
test_spoof_and_down(void)
{
	char conf2[PATH_MAX], down[PATH_MAX];
	unsigned long long kdc2_port;
	const char *p;
	double t0, dt;

	realm_start(realm2, &realm2_up);
	realm_env(realm2);
	if ((p = getenv("KDC_TEST_PORT")) == NULL ||
	    util_parse_uint(p, strlen(p), 65535, &kdc2_port) == -1)
		die("no KDC_TEST_PORT for realm2");
	path_join(conf2, sizeof(conf2), scratch, "realm2.conf");
	write_krb5_conf(conf2, (int)kdc2_port, 0);
	if (setenv("KRB5_CONFIG", conf2, 1) == -1)
		die("setenv");

	check_krb5(KP_OK, "verified", "alice", "alice-pw", keytab2,
	    "pop/localhost", "the second KDC accepts alice-pw (own keytab)",
	    NULL);
	check_krb5(KP_AUTH, "verification failed", "alice", "alice-pw",
	    keytab1, "pop/localhost",
	    "spoofed KDC: accepted password, verification fails", NULL);
	check_krb5(KP_AUTH, "verification failed", "alice", "alice-pw",
	    keytab1, NULL, "spoofed KDC, host/ key from the keytab", NULL);

	/* Now it goes down: nothing listens on its port any more. */
	realm_stop(realm2, &realm2_up);
	t0 = now();
	check_krb5(KP_TEMP, "no KDC answered", "alice", "alice-pw", keytab1,
	    "pop/localhost", "KDC down (stopped)", NULL);
	dt = now() - t0;
	ok(dt < DOWN_MAX_SECS, "KDC down noticed in %.3f s", dt);

	path_join(down, sizeof(down), scratch, "down-tcp.conf");
	write_krb5_conf(down, closed_port(), 1);
	if (setenv("KRB5_CONFIG", down, 1) == -1)
		die("setenv");
	t0 = now();
	check_krb5(KP_TEMP, "no KDC answered", "alice", "alice-pw", keytab1,
	    "pop/localhost", "KDC down (closed port, TCP only)", NULL);
	dt = now() - t0;
	ok(dt < DOWN_MAX_SECS, "KDC down over TCP noticed in %.3f s", dt);
}

/* Find saslpasswd2, or return NULL. */
static const char *
find_saslpasswd2(void)
{
	static const char *const where[] = { "/usr/sbin/saslpasswd2",
	    "/usr/local/sbin/saslpasswd2", "/usr/bin/saslpasswd2" };
	size_t i;

	for (i = 0; i < KP_NELEM(where); i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

/* Add user (with -u realm unless realm is NULL) to the sasldb db. */
static void
saslpasswd(const char *prog, const char *db, const char *realm,
    const char *user, const char *pw)
{
	const char *argv[10];
	char input[128];
	char out[1024];
	int i = 0;

	argv[i++] = prog;
	argv[i++] = "-p";
	argv[i++] = "-c";
	argv[i++] = "-f";
	argv[i++] = db;
	if (realm != NULL) {
		argv[i++] = "-u";
		argv[i++] = realm;
	}
	argv[i++] = user;
	argv[i] = NULL;
	(void)snprintf(input, sizeof(input), "%s\n", pw);
	if (run(argv, input, out, sizeof(out)) != 0)
		die("saslpasswd2 -f %s %s failed", db, user);
}

static void
test_sasl(void)
{
	static const char *const mux[] = { "/run/saslauthd/mux",
	    "/var/run/saslauthd/mux" };
	char db1[PATH_MAX], db2[PATH_MAX], nodb[PATH_MAX];
	const char *prog;
	struct stat st;
	size_t i;

	if ((prog = find_saslpasswd2()) == NULL) {
		for (i = 0; i < SASLDB_TESTS; i++)
			skip("no saslpasswd2 (Debian package sasl2-bin)");
		return;
	}
	path_join(db1, sizeof(db1), scratch, "sasldb1");
	path_join(db2, sizeof(db2), scratch, "sasldb2");
	path_join(nodb, sizeof(nodb), scratch, "no-such-sasldb");
	saslpasswd(prog, db1, REALM, "alice", "alice-sasl");
	saslpasswd(prog, db1, SASL_HOST, "erin", "erin-sasl");
	saslpasswd(prog, db1, NULL, "fred", "fred-sasl");
	saslpasswd(prog, db2, REALM, "alice", "alice-other");

	check_sasl(KP_OK, "verified by sasldb", "alice@" REALM, "alice-sasl",
	    db1, "sasldb: right password (user@REALM, saslpasswd2 -u REALM)");
	check_sasl(KP_AUTH, "Password incorrect", "alice@" REALM, "wrong-pw",
	    db1, "sasldb: wrong password");
	check_sasl(KP_AUTH, "unknown user", "nosuch@" REALM, "alice-sasl",
	    db1, "sasldb: unknown user");
	check_sasl(KP_AUTH, "unknown user", "alice", "alice-sasl", db1,
	    "sasldb: bare name is in hostname's realm, not " REALM);
	check_sasl(KP_OK, "verified", "erin", "erin-sasl", db1,
	    "sasldb: bare name (saslpasswd2 -u hostname)");
	check_sasl(KP_AUTH, "unknown user", "fred", "fred-sasl", db1,
	    "sasldb: bare name not in the machine's realm (saslpasswd2 "
	    "without -u) but hostname's");
	check_sasl(KP_OK, "verified", "alice@" REALM, "alice-other", db2,
	    "a second sasldb in the same process");
	check_sasl(KP_AUTH, "Password incorrect", "alice@" REALM, "alice-sasl",
	    db2, "the second sasldb has its own password");
	check_sasl(KP_TEMP, "cannot open sasldb", "alice@" REALM,
	    "alice-sasl", nodb, "nonexistent sasldb");
	check_sasl(KP_AUTH, "empty password", "alice@" REALM, "", db1,
	    "sasldb: empty password");
	for (i = 0; i < KP_NELEM(mux); i++)
		if (stat(mux[i], &st) == 0)
			break;
	if (i < KP_NELEM(mux)) {
		skip("saslauthd runs here (%s): cannot test it down", mux[i]);
		skip("saslauthd runs here (%s): cannot test it down", mux[i]);
	} else
		check_sasl(KP_TEMP, "saslauthd", "alice", "alice-sasl", NULL,
		    "saslauthd not running");
}

int
main(void)
{
	plan(86);
	setup();

	realm_start(realm1, &realm1_up);
	realm_env(realm1);
	test_realm();
	test_no_kdc_contact();
	test_spoof_and_down();
	test_sasl();

	cleanup();
	return 0;
}
