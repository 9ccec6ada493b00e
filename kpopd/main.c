/* SPDX-License-Identifier: MIT */
/*
 * kpopd/main.c: the kpopd master process: command line, configuration,
 * listeners (bound here, or handed over by inetd or systemd), connection
 * limits, and a process per connection.  Signals: SIGHUP reloads the
 * configuration and the TLS certificate without touching sessions;
 * SIGTERM and SIGINT stop listening, end the sessions (as a dropped
 * connection would: nothing is deleted) and exit.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <getopt.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sasl.h"
#include "common/tls.h"
#include "kpopd/check.h"
#include "kpopd/ctl.h"
#include "kpopd/drop.h"
#include "kpopd/kpopd.h"
#include "kpopd/limits.h"
#include "kpopd/proxied.h"
#include "kpopd/refuse.h"
#include "kpopd/sessions.h"
#include "kpopd/stats.h"
#include "kpopd/title.h"
#include "kpopd/trusted.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#define DEFAULT_CONF	SYSCONFDIR "/kpopd/kpopd.conf"

struct listener {
	int			fd;
	enum listen_kind	kind;
	int			proxy;	/* a PROXY header comes first */
};

static struct listener	 listeners[LISTEN_MAX];
static size_t		 nlisteners;
static int		 sigpipe_fds[2] = { -1, -1 };
static volatile sig_atomic_t got_hup, got_term, got_chld;
static int		 opt_debug;	/* -d: debug, whatever log_level */

static void
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr, "usage: kpopd [-adfhintV] "
	    "[--kerberos] [--strict] [-c file] "
	    "[-o key=value]...\n"
	    "  -c file   configuration file (default " DEFAULT_CONF ")\n"
	    "  -o k=v    set a configuration key, after the file\n"
	    "  -f        stay in the foreground, log to stderr\n"
	    "  -d        debug: -f and log_level = debug\n"
	    "  -i        serve one connection on stdin/stdout (inetd)\n"
	    "  -t        check the configuration and exit\n"
	    "  -n        print the settings that differ from the defaults\n"
	    "  -a        print every setting\n"
	    "  --kerberos  -t, with every Kerberos key and check shown\n"
	    "  --strict  -t, and its warnings are errors (exit 78)\n"
	    "  -h        print this and exit\n"
	    "  -V        print the version and exit\n");
	exit(status);
}

static void
on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGCHLD)
		got_chld = 1;
	else
		got_term = 1;
	if (sigpipe_fds[1] != -1)
		(void)!write(sigpipe_fds[1], &c, 1);
	errno = saved;
}

static int
log_level_of(const char *s)
{
	if (strcmp(s, "err") == 0)
		return LOG_ERR;
	if (strcmp(s, "warning") == 0)
		return LOG_WARNING;
	if (strcmp(s, "notice") == 0)
		return LOG_NOTICE;
	if (strcmp(s, "debug") == 0)
		return LOG_DEBUG;
	return LOG_INFO;
}

/* The virtual users' account and groups (struct kpopd_ident), or none. */
static struct kpopd_ident virt;

static void
find_virtual(const struct kpopd_conf *c)
{
	struct passwd *pw;

	memset(&virt, 0, sizeof(virt));
	if (strcmp(c->user_type, "virtual") != 0 ||
	    (pw = getpwnam(c->virtual_user)) == NULL)
		return;
	virt.uid = pw->pw_uid;
	virt.gid = pw->pw_gid;
	drop_groups(pw->pw_name, pw->pw_gid, virt.groups, &virt.ngroups);
	virt.spool_ok = drop_spool_gid(c->spool_group, &virt.spool_gid);
	virt.ok = 1;
}

/*
 * Load, once and before any fork, what every session would otherwise load
 * for itself: Cyrus SASL's plugins (a dozen dlopen()s with their
 * libraries) and the NSS modules a group lookup pulls in.  Profiled, these
 * were most of a short session's CPU.  A failure here is not fatal: the
 * session tries again and reports it where it matters.
 */
static void
warm_up(const struct kpopd_conf *c)
{
	struct passwd *pw;
	gid_t groups[16];
	int ngroups = 16;
	char err[256];

	if ((c->sasl_mechanisms[0] != '\0' ||
	    strcmp(c->password_check, "sasl") == 0) &&
	    xsasl_server_init("kpopd", err, sizeof(err)) == -1)
		log_warn("%s", err);
	if ((pw = getpwnam(c->unpriv_user)) != NULL)
		(void)getgrouplist(pw->pw_name, pw->pw_gid, groups, &ngroups);
	find_virtual(c);
	if (c->net_sandbox && sandbox_prepare(err, sizeof(err)) == -1)
		log_err("%s", err);	/* each session will say so too */
}

/*
 * Parse "host:port" ("*:port", ":port", "[v6]:port") and bind a listener
 * for each address it resolves to.  Returns 0 or -1 with err set.
 */
static int
bind_spec(const char *spec, enum listen_kind kind, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], port[16];
	const char *colon;
	size_t hl;
	int fd, on = 1, r, n = 0;

	if ((colon = strrchr(spec, ':')) == NULL || colon[1] == '\0' ||
	    strlen(colon + 1) >= sizeof(port)) {
		util_snprintf(err, errlen, "listen address '%s' is not "
		    "HOST:PORT", spec);
		return -1;
	}
	hl = (size_t)(colon - spec);
	if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
		spec++;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		util_snprintf(err, errlen, "listen address '%s' too long",
		    spec);
		return -1;
	}
	memcpy(host, spec, hl);
	host[hl] = '\0';
	util_strlcpy(port, colon + 1, sizeof(port));
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	r = getaddrinfo(hl == 0 || strcmp(host, "*") == 0 ? NULL : host, port,
	    &hints, &res);
	if (r != 0) {
		util_snprintf(err, errlen, "listen address '%s': %s", spec,
		    gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (nlisteners == LISTEN_MAX) {
			util_snprintf(err, errlen, "more than %d listening "
			    "sockets", LISTEN_MAX);
			goto fail;
		}
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
			    sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    listen(fd, 128) == -1) {
			util_snprintf(err, errlen, "cannot listen on %s: %s",
			    spec, strerror(errno));
			close(fd);
			goto fail;
		}
		listeners[nlisteners].fd = fd;
		listeners[nlisteners].kind = kind;
		nlisteners++;
		n++;
	}
	freeaddrinfo(res);
	if (n == 0) {
		util_snprintf(err, errlen, "no usable address in '%s'", spec);
		return -1;
	}
	return 0;
fail:
	freeaddrinfo(res);
	return -1;
}

/* Bind every address of a comma-separated list. */
static int
bind_list(const char *list, enum listen_kind kind, char *err, size_t errlen)
{
	char *copy, *tok, *save = NULL;
	size_t first = nlisteners;
	int r = 0;

	if ((copy = strdup(list)) == NULL)
		return -1;
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL && r == 0;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (strcmp(tok, "proxy") != 0) {
			first = nlisteners;
			r = bind_spec(tok, kind, err, errlen);
		}
		while (strcmp(tok, "proxy") == 0 && first < nlisteners)
			listeners[first++].proxy = 1;	/* kconf_check's */
	}
	free(copy);
	return r;
}

/* The kind of a socket handed to us, from its local port. */
static enum listen_kind
kind_of_socket(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int port = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	if (port == 995)
		return LK_POP3S;
	if (port == 1109)
		return LK_KPOP;
	return LK_POP3;
}

static enum listen_kind
kind_of_name(const char *name, int fd)
{
	if (strcmp(name, "pop3s") == 0)
		return LK_POP3S;
	if (strcmp(name, "kpop") == 0)
		return LK_KPOP;
	if (strcmp(name, "pop3") == 0)
		return LK_POP3;
	return kind_of_socket(fd);
}

/*
 * systemd socket activation (sd_listen_fds(3), without libsystemd):
 * LISTEN_PID is us, LISTEN_FDS sockets from descriptor 3, their kinds from
 * LISTEN_FDNAMES (pop3, pop3s, kpop) or else the port.  Returns how many
 * were taken.
 */
static int
take_systemd_sockets(void)
{
	const char *pid = getenv("LISTEN_PID"), *nfds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	unsigned long long p, n, i;
	char name[32];
	size_t k;

	if (pid == NULL || nfds == NULL ||
	    util_parse_uint(pid, strlen(pid), 1ULL << 31, &p) == -1 ||
	    (pid_t)p != getpid() ||
	    util_parse_uint(nfds, strlen(nfds), LISTEN_MAX, &n) == -1)
		return 0;
	for (i = 0; i < n; i++) {
		int fd = 3 + (int)i;

		name[0] = '\0';
		if (names != NULL) {
			for (k = 0; names[k] != '\0' && names[k] != ':' &&
			    k < sizeof(name) - 1; k++)
				name[k] = names[k];
			name[k] = '\0';
			names = strchr(names, ':');
			if (names != NULL)
				names++;
		}
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		listeners[nlisteners].proxy = proxied_fdname(name);
		listeners[nlisteners].fd = fd;
		listeners[nlisteners].kind = kind_of_name(name, fd);
		nlisteners++;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return (int)n;
}

static void
peer_name(int fd, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	util_strlcpy(out, "unknown", len);
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == -1)
		return;
	if (ss.ss_family == AF_INET &&
	    inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host,
	    sizeof(host)) != NULL)
		util_strlcpy(out, host, len);
	else if (ss.ss_family == AF_INET6 &&
	    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host,
	    sizeof(host)) != NULL)
		util_strlcpy(out, host, len);
	else if (ss.ss_family == AF_UNIX)
		util_strlcpy(out, "local", len);
}

/*
 * TCP keepalive, so half-dead clients go away; and no Nagle: replies are
 * already batched into one write per burst of commands, and Nagle held
 * every small TLS record back for the client's delayed ACK (40 ms a
 * reply: 20 STLS sessions/s before, the benchmark found).
 */
static void
keepalive(int fd)
{
	int on = 1, idle = 300, intvl = 60, cnt = 5;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* A child of the master that is no session: a refusal or a check. */
static int
reaped_other(pid_t pid, int status)
{
	return refuse_reaped(pid, status) || check_reaped(pid, status);
}

/* A new session's own descriptors (client, report end), for the child. */
static int	child_keep[2];
static size_t	child_nkeep;

/* In a child of the master: let go of what only the master needs. */
static void
child_release(void)
{
	for (size_t i = 0; i < nlisteners; i++)
		close(listeners[i].fd);
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	close(sigpipe_fds[0]);
	close(sigpipe_fds[1]);
	sessions_forked(child_keep, child_nkeep);
	child_nkeep = 0;
	ctl_forked();
}

/* A session, or over a limit a refusal (refuse.c), for a new client. */
static void
accept_one(const struct listener *l, const struct kpopd_conf *c,
    SSL_CTX *tls, int privsep)
{
	struct session_start s;
	const char *why = NULL;
	char whybuf[128];
	pid_t pid;
	int fd;

	if ((fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_err("cannot accept a connection: %s",
			    strerror(errno));
		return;
	}
	memset(&s, 0, sizeof(s));
	peer_name(fd, s.peer, sizeof(s.peer));
	log_session_new(s.id, sizeof(s.id));
	s.conf = c;
	s.tls = tls;
	s.kind = l->kind;
	s.fd = fd;
	s.privsep = privsep;
	s.virt = &virt;
	if ((s.proxy = l->proxy) && proxied_accept(c, fd, s.peer) == -1) {
		close(fd);
		return;
	}
	/* A proxied session's address is known later (sessions.c). */
	if (!s.proxy && !trusted_peer(c, s.peer) &&
	    sessions_from(s.peer) >= c->max_sessions_per_ip) {
		util_snprintf(whybuf, sizeof(whybuf), "max_sessions_per_ip "
		    "reached for %s", s.peer);
		stats_refused(STATS_MAX_PER_IP);
		why = whybuf;
	} else if (sessions_full(c->max_sessions)) {
		stats_refused(STATS_MAX_SESSIONS);
		why = "max_sessions reached";
	}
	if (why != NULL && refuse_now(&s, why))
		return;
	if (why == NULL) {
		if (sessions_prepare(&s.report) == -1) {
			close(fd);
			return;
		}
		keepalive(fd);
	}
	child_keep[0] = fd;
	child_keep[1] = s.report;
	child_nkeep = why == NULL ? 2 : 1;
	switch ((pid = fork())) {
	case -1:
		child_nkeep = 0;
		log_err("cannot start a session for %s: %s", s.peer,
		    strerror(errno));
		if (why == NULL)
			sessions_cancel();
		close(fd);
		return;
	case 0:
		child_release();
		if (why != NULL)
			refuse_main(&s);
		monitor_main(&s);
	default:
		child_nkeep = 0;
		if (why != NULL)
			refuse_started(pid, &s, why);
		else
			sessions_add(pid, s.peer);
		if (why == NULL && s.proxy)
			sessions_proxied(c->max_sessions_per_ip);
		close(fd);
	}
}

static int
write_pidfile(const char *path)
{
	char buf[32];
	int fd, n;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1)
		return -1;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static void
daemonize(void)
{
	int fd;

	switch (fork()) {
	case -1:
		perror("kpopd: fork");
		exit(71);
	case 0:
		break;
	default:
		_exit(0);
	}
	setsid();
	if (chdir("/") == -1)
		exit(71);
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

static void
serve(struct kpopd_conf *c, SSL_CTX *tls, const char *path, int path_given,
    char **ov, int nov, int privsep)
{
	struct pollfd pfd[LISTEN_MAX + 3];
	struct sigaction sa;
	size_t i;
	char err[512];

	if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_err("cannot set up signal handling: %s",
		    strerror(errno));
		exit(71);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	for (i = 0; i < nlisteners; i++)
		fcntl(listeners[i].fd, F_SETFL, O_NONBLOCK);
	title_set("kpopd: master");
	limits_conf(c);
	log_notice("kpopd %s started, %zu listening sockets", PACKAGE_VERSION,
	    nlisteners);

	while (!got_term) {
		pfd[0].fd = sigpipe_fds[0];
		pfd[0].events = POLLIN;
		for (i = 0; i < nlisteners; i++) {
			pfd[i + 1].fd = listeners[i].fd;
			pfd[i + 1].events = POLLIN;
		}
		/* Reports from the sessions; kpopctl (a negative fd: none). */
		pfd[i + 1].fd = sessions_fd();
		pfd[i + 2].fd = ctl_fd();
		pfd[i + 1].events = pfd[i + 2].events = POLLIN;
		if (poll(pfd, nlisteners + 3, -1) == -1 && errno != EINTR) {
			log_err("cannot wait for connections, stopping: %s",
			    strerror(errno));
			break;
		}
		if (pfd[0].revents & POLLIN) {
			char drain[64];

			while (read(sigpipe_fds[0], drain, sizeof(drain)) > 0)
				continue;
		}
		sessions_run();
		if (got_chld) {
			got_chld = 0;
			sessions_reap(reaped_other);
		}
		ctl_run();
		if (got_hup) {
			struct kpopd_conf *n = calloc(1, sizeof(*n));
			SSL_CTX *ntls = NULL;

			got_hup = 0;
			util_strlcpy(err, "out of memory", sizeof(err));
			if (n != NULL && check_load(n, path, path_given, ov,
			    nov, 0, check_log_say, NULL, &ntls, err,
			    sizeof(err)) >= 0) {
				/* Sessions keep their own copies (fork). */
				kconf_free(c);
				*c = *n;
				limits_conf(c);
				SSL_CTX_free(tls);
				tls = ntls;
				log_set_level(opt_debug ? LOG_DEBUG :
				    log_level_of(c->log_level));
				log_set_facility(c->syslog_facility);
				/* Cyrus's kpopd.conf and plugins too. */
				xsasl_server_done();
				warm_up(c);
				log_notice("configuration reloaded");
				check_background(c, child_release);
			} else {
				log_err("reload failed, keeping the old "
				    "configuration: %s", err);
				if (n != NULL)
					kconf_free(n);
			}
			free(n);
		}
		if (got_term)
			break;
		for (i = 0; i < nlisteners; i++)
			if (pfd[i + 1].revents & POLLIN)
				accept_one(&listeners[i], c, tls, privsep);
	}
	for (i = 0; i < nlisteners; i++)
		close(listeners[i].fd);
	log_notice("stopping: ending %zu sessions", sessions_count());
	sessions_stop(reaped_other);
	ctl_close();
	if (c->pidfile != NULL)
		unlink(c->pidfile);
	SSL_CTX_free(tls);
}

int
main(int argc, char **argv)
{
	struct kpopd_conf conf;
	const char *path = DEFAULT_CONF;
	int path_given = 0, fg = 0, inetd = 0, check = 0, ch, strict = 0;
	int show = 0;		/* -n 1, -a 2: print the settings */
	char **ov = NULL;
	int nov = 0, privsep;
	SSL_CTX *tls = NULL;
	char err[512];

	static const struct option longopts[] = {
		{ "kerberos", no_argument, NULL, 'K' },
		{ "strict", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 }
	};
	int detail = 0;

	title_init(argc, argv);
	while ((ch = getopt_long(argc, argv, "ac:dfhino:tV", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'K':
			check = detail = 1;
			break;
		case 'S':
			check = strict = 1;
			break;
		case 'a':
			show = 2;
			break;
		case 'n':
			if (show == 0)
				show = 1;
			break;
		case 'c':
			path = optarg;
			path_given = 1;
			break;
		case 'd':
			opt_debug = fg = 1;
			break;
		case 'f':
			fg = 1;
			break;
		case 'i':
			inetd = 1;
			break;
		case 'o':
			if ((ov = realloc(ov, (size_t)(nov + 1) *
			    sizeof(*ov))) == NULL)
				abort();
			ov[nov++] = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'h':
			usage(0);
			break;
		case 'V':
			printf("kpopd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(64);
		}
	}
	if (optind != argc)
		usage(64);
	if (show) {
		/* What is in effect, checked as at start: no system needed. */
		if (kconf_load(&conf, path, path_given, ov, nov, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "kpopd: %s\n", err);
			kconf_free(&conf);
			free(ov);
			return 78;
		}
		ch = kconf_print(stdout, &conf, show == 2);
		kconf_free(&conf);
		free(ov);
		return ch == 0 && fflush(stdout) == 0 ? 0 : 71;
	}
	if (inetd && !check) {
		/*
		 * inetd gives the client socket as 0, 1 and 2.  Only POP3 goes
		 * to the client: stderr (ours and every library's) becomes
		 * /dev/null before anything can write there, so no process but
		 * the net process, which keeps a copy on purpose, holds the
		 * socket; diagnostics go to syslog.
		 */
		if ((ch = open("/dev/null", O_RDWR)) == -1 ||
		    dup2(ch, 2) == -1)
			return 71;
		if (ch > 2)
			close(ch);
		log_open("kpopd", LOG_DEST_SYSLOG, LOG_MAIL);
		if (opt_debug)
			log_set_level(LOG_DEBUG);
	}

	ch = check_load(&conf, path, path_given, ov, nov, !check ? 0 :
	    DIAG_F_NETWORK | (detail ? DIAG_F_DETAIL : 0), check ?
	    check_print_say : check_log_say, NULL, &tls, err, sizeof(err));
	if (ch == -1 || (check && strict && ch > 0)) {
		if (inetd && !check)
			log_err("%s", err);
		else if (ch > 0)
			fprintf(stderr, "kpopd: %d warning(s), errors with "
			    "--strict; see above\n", ch);
		else
			fprintf(stderr, "kpopd: %s\n", err);
		SSL_CTX_free(tls);
		kconf_free(&conf);
		free(ov);
		return 78;
	}
	if (check) {
		printf("kpopd: configuration OK (%s)%s\n", path, ch > 0 ?
		    ", with the warnings above" : "");
		SSL_CTX_free(tls);
		kconf_free(&conf);
		free(ov);
		return 0;
	}
	privsep = (geteuid() == 0);
	signal(SIGPIPE, SIG_IGN);

	if (inetd) {
		struct session_start s;

		/* stdout is the client: never log there. */
		log_open("kpopd", LOG_DEST_SYSLOG, conf.syslog_facility);
		log_set_level(opt_debug ? LOG_DEBUG :
		    log_level_of(conf.log_level));
		memset(&s, 0, sizeof(s));
		s.conf = &conf;
		s.tls = tls;
		s.kind = kind_of_socket(0);
		s.fd = dup(0);
		keepalive(s.fd);	/* harmless on a non-socket */
		s.privsep = privsep;
		s.report = -1;
		peer_name(0, s.peer, sizeof(s.peer));
		log_session_new(s.id, sizeof(s.id));
		if ((ch = open("/dev/null", O_RDWR)) != -1) {
			dup2(ch, 0);
			dup2(ch, 1);
			if (ch > 2)
				close(ch);
		}
		monitor_main(&s);
	}

	log_open("kpopd", fg ? LOG_DEST_STDERR : LOG_DEST_SYSLOG,
	    conf.syslog_facility);
	log_set_level(opt_debug ? LOG_DEBUG : log_level_of(conf.log_level));
	if (take_systemd_sockets() == 0) {
		if ((conf.listen_pop3[0] != '\0' &&
		    bind_list(conf.listen_pop3, LK_POP3, err,
		    sizeof(err)) == -1) ||
		    (conf.listen_pop3s[0] != '\0' &&
		    bind_list(conf.listen_pop3s, LK_POP3S, err,
		    sizeof(err)) == -1) ||
		    (conf.listen_kpop[0] != '\0' &&
		    bind_list(conf.listen_kpop, LK_KPOP, err,
		    sizeof(err)) == -1)) {
			log_err("%s", err);
			if (!fg)
				fprintf(stderr, "kpopd: %s\n", err);
			return 71;
		}
	}
	if (ctl_open(conf.control_socket, err, sizeof(err)) == -1) {
		log_err("%s", err);
		if (!fg)
			fprintf(stderr, "kpopd: %s\n", err);
		return 71;
	}
	if (!fg)
		daemonize();
	if (conf.pidfile != NULL && write_pidfile(conf.pidfile) == -1) {
		log_err("cannot write %s: %s", conf.pidfile, strerror(errno));
		return 73;
	}
	warm_up(&conf);
	check_background(&conf, child_release);
	serve(&conf, tls, path, path_given, ov, nov, privsep);
	kconf_free(&conf);
	free(ov);
	return 0;
}
