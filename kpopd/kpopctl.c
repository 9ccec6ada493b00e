/* SPDX-License-Identifier: MIT */
/*
 * kpopd/kpopctl.c: kpopctl(8), the administrator's command for a running
 * kpopd: who (the sessions), kick USER|ADDRESS (end them, nothing
 * deleted), stats (OpenMetrics counters).  It finds the master's control
 * socket (-s, or control_socket in kpopd.conf: -c or the default file),
 * sends one request line (checked first with the master's own parser,
 * ctl_req_parse) and prints the reply.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "kpopd/ctl.h"
#include "kpopd/kpopd.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#define DEFAULT_CONF	SYSCONFDIR "/kpopd/kpopd.conf"

/* Exit codes (kpopctl(8)); 1: kick matched no session. */
#define EX_USAGE	64
#define EX_UNAVAIL	69
#define EX_PROTO	76
#define EX_NOPERM	77
#define EX_CONFIG	78

static void
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr, "usage: kpopctl [-c file | "
	    "-s socket] who | stats | kick USER|ADDRESS\n"
	    "  -c file    kpopd.conf naming control_socket (default "
	    DEFAULT_CONF ")\n"
	    "  -s socket  the control socket itself\n"
	    "  -h         print this and exit\n"
	    "  -V         print the version and exit\n");
	exit(status);
}

/* The socket's path: -s, else control_socket from the configuration. */
static void
find_socket(const char *conf_path, int conf_given, char *out, size_t len)
{
	struct kpopd_conf c;
	char err[512];

	if (!conf_given && access(conf_path, F_OK) == -1) {
		util_strlcpy(out, KPOPD_CONTROL_SOCKET, len);
		return;
	}
	if (kconf_load(&c, conf_path, 1, NULL, 0, err, sizeof(err)) == -1) {
		fprintf(stderr, "kpopctl: %s\n", err);
		kconf_free(&c);
		exit(EX_CONFIG);
	}
	if (c.control_socket[0] == '\0') {
		fprintf(stderr, "kpopctl: %s sets no control_socket: the "
		    "running kpopd has none\n", conf_path);
		kconf_free(&c);
		exit(EX_CONFIG);
	}
	util_strlcpy(out, c.control_socket, len);
	kconf_free(&c);
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "kpopctl: %s: path too long\n", path);
		exit(EX_USAGE);
	}
	util_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int e = errno;

		fprintf(stderr, "kpopctl: cannot reach kpopd at %s: %s%s\n",
		    path, strerror(e), e == EACCES || e == EPERM ?
		    " (kpopctl must run as root)" : e == ENOENT ||
		    e == ECONNREFUSED ? " (is kpopd running, with this "
		    "control_socket?)" : "");
		exit(e == EACCES || e == EPERM ? EX_NOPERM : EX_UNAVAIL);
	}
	return fd;
}

/* Send line, read the whole reply into a new buffer (*lenp bytes). */
static char *
exchange(int fd, const char *line, size_t *lenp)
{
	int64_t until = util_now_ms() + CTL_TIMEOUT_MS;
	struct pollfd pfd;
	char *buf = NULL, *grown;
	size_t len = 0, cap = 0;
	ssize_t r;
	int werr = 0;

	/* A refusal may come before the request is read: read it. */
	if (util_write_all(fd, line, strlen(line), -1) == -1)
		werr = errno;
	for (;;) {
		if (len == cap) {
			cap = cap == 0 ? 4096 : cap * 2;
			if ((grown = realloc(buf, cap + 1)) == NULL) {
				fprintf(stderr, "kpopctl: out of memory\n");
				exit(71);
			}
			buf = grown;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (util_now_ms() >= until ||
		    poll(&pfd, 1, (int)(until - util_now_ms())) == 0) {
			fprintf(stderr, "kpopctl: kpopd did not answer in "
			    "time\n");
			exit(EX_UNAVAIL);
		}
		r = read(fd, buf + len, cap - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno == ECONNRESET)
			break;	/* closed with our request unread: its end */
		if (r == -1) {
			fprintf(stderr, "kpopctl: reading the reply: %s\n",
			    strerror(errno));
			exit(EX_UNAVAIL);
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len == 0 && werr != 0) {
		fprintf(stderr, "kpopctl: cannot send the request: %s\n",
		    strerror(werr));
		exit(EX_UNAVAIL);
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

int
main(int argc, char **argv)
{
	const char *conf = DEFAULT_CONF, *sock = NULL;
	char path[CTL_PATH_MAX], line[CTL_LINE_MAX], err[256], *reply, *body;
	unsigned long long n;
	struct ctl_req req;
	size_t len;
	int ch, conf_given = 0, fd;

	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "c:hs:V")) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			conf_given = 1;
			break;
		case 's':
			sock = optarg;
			break;
		case 'h':
			usage(0);
			break;
		case 'V':
			printf("kpopctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(EX_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2 || (sock != NULL && conf_given))
		usage(EX_USAGE);
	if (util_snprintf(line, sizeof(line), "%s%s%s", argv[0],
	    argc == 2 ? " " : "", argc == 2 ? argv[1] : "") == -1 ||
	    ctl_req_parse(line, strlen(line), &req, err, sizeof(err)) == -1) {
		fprintf(stderr, "kpopctl: %s\n", argc == 2 &&
		    strlen(line) >= sizeof(line) - 1 ? "request too long" :
		    err);
		usage(EX_USAGE);
	}
	if (sock != NULL)
		util_strlcpy(path, sock, sizeof(path));
	else
		find_socket(conf, conf_given, path, sizeof(path));
	fd = connect_to(path);
	util_strlcpy(line + strlen(line), "\n", sizeof(line) - strlen(line));
	reply = exchange(fd, line, &len);
	close(fd);
	if (strncmp(reply, "+OK\n", 4) != 0) {
		if (strncmp(reply, "-ERR ", 5) == 0) {
			fprintf(stderr, "kpopctl: kpopd: %s", reply + 5);
			ch = strncmp(reply + 5, "permission denied", 17) == 0 ?
			    EX_NOPERM : EX_PROTO;
		} else {
			fprintf(stderr, "kpopctl: kpopd sent no answer\n");
			ch = EX_PROTO;
		}
	} else if (req.cmd != CTL_KICK) {
		body = reply + 4;
		fwrite(body, 1, len - 4, stdout);
		ch = fflush(stdout) == 0 ? 0 : 71;
	} else {
		body = reply + 4;
		len = strcspn(body, "\n");
		if (util_parse_uint(body, len, 1ULL << 32, &n) == -1) {
			fprintf(stderr, "kpopctl: kpopd sent no count\n");
			ch = EX_PROTO;
		} else {
			printf("%llu session%s ended\n", n, n == 1 ? "" : "s");
			ch = n == 0 ? 1 : 0;
		}
	}
	free(reply);
	return ch;
}
