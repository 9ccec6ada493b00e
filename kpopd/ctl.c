/* SPDX-License-Identifier: MIT */
/*
 * kpopd/ctl.c: the master's control socket (ctl.h), kpopctl(8)'s way in.
 * An AF_UNIX stream socket in a directory only root may enter, itself
 * 0600, and on every connection SO_PEERCRED must say uid 0 (or the uid
 * the master runs as).  A client sends one request line and gets one
 * reply, then the master closes.  Nothing here waits: the listener, the
 * clients and a timer are watched through one epoll descriptor that the
 * master's poll() holds; a client is read and written only when ready,
 * at most CTL_CLIENTS_MAX are served at once, and one that has not sent
 * its request and read its whole reply within CTL_TIMEOUT_MS is dropped.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "kpopd/ctl.h"
#include "kpopd/kpopd.h"
#include "kpopd/sessions.h"
#include "kpopd/stats.h"

struct ctl_client {
	int	 fd;		/* -1: a free slot */
	int64_t	 deadline;	/* util_now_ms() */
	char	 in[CTL_LINE_MAX];
	size_t	 inlen;
	char	*out;		/* the reply, once made */
	size_t	 outlen, outpos;
};

static int		 lfd = -1, efd = -1, tfd = -1;
static char		 sock_path[CTL_PATH_MAX];
static struct ctl_client clients[CTL_CLIENTS_MAX];

/* The directory of path, made 0700 if missing; it must be ours alone. */
static int
ctl_dir(const char *path, char *err, size_t errlen)
{
	char dir[CTL_PATH_MAX];
	char *slash;
	struct stat st;

	util_strlcpy(dir, path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;	/* "/control": the root directory */
	*slash = '\0';
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		util_snprintf(err, errlen, "control_socket: cannot make %s: "
		    "%s", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		util_snprintf(err, errlen, "control_socket: %s is not a "
		    "directory", dir);
		return -1;
	}
	if ((st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & 022) != 0) {
		util_snprintf(err, errlen, "control_socket: %s must belong "
		    "to root and be writable by no one else (it is %04o, uid "
		    "%u)", dir, (unsigned int)(st.st_mode & 07777),
		    (unsigned int)st.st_uid);
		return -1;
	}
	return 0;
}

/* Watch fd for events, or change what it is watched for. */
static int
watch(int fd, uint32_t events, int op)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.fd = fd;
	return epoll_ctl(efd, op, fd, &ev);
}

int
ctl_open(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	size_t i;
	int fd, r;

	if (path[0] == '\0')
		return 0;
	for (i = 0; i < CTL_CLIENTS_MAX; i++)
		clients[i].fd = -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		util_snprintf(err, errlen, "control_socket: %s is too long",
		    path);
		return -1;
	}
	util_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if (ctl_dir(path, err, errlen) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		goto fail;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			util_snprintf(err, errlen, "control_socket: %s exists "
			    "and is not a socket", path);
			close(fd);
			return -1;
		}
		/* A live one belongs to another kpopd; a dead one goes. */
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			util_snprintf(err, errlen, "control_socket: another "
			    "kpopd is serving %s", path);
			close(fd);
			return -1;
		}
		close(fd);
		if (unlink(path) == -1 || (fd = socket(AF_UNIX,
		    SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			goto fail;
	}
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r == -1 || chmod(path, 0600) == -1 || listen(fd, 16) == -1 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) == -1) {
		util_snprintf(err, errlen, "control_socket: cannot listen on "
		    "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	lfd = fd;
	util_strlcpy(sock_path, path, sizeof(sock_path));
	if ((efd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC |
	    TFD_NONBLOCK)) == -1 || watch(lfd, EPOLLIN, EPOLL_CTL_ADD) == -1 ||
	    watch(tfd, EPOLLIN, EPOLL_CTL_ADD) == -1) {
		util_snprintf(err, errlen, "control_socket: %s",
		    strerror(errno));
		ctl_close();
		return -1;
	}
	return 0;
fail:
	util_snprintf(err, errlen, "control_socket: %s: %s", path,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

int
ctl_fd(void)
{
	return efd;
}

static void
drop(struct ctl_client *c)
{
	(void)epoll_ctl(efd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	c->out = NULL;
	c->fd = -1;
}

/* Arm the timer for the first client deadline, or disarm it. */
static void
arm(void)
{
	struct itimerspec its;
	int64_t first = 0, now = util_now_ms(), ms;
	size_t i;

	for (i = 0; i < CTL_CLIENTS_MAX; i++)
		if (clients[i].fd != -1 &&
		    (first == 0 || clients[i].deadline < first))
			first = clients[i].deadline;
	memset(&its, 0, sizeof(its));
	if (first != 0) {
		ms = first > now ? first - now : 1;
		its.it_value.tv_sec = ms / 1000;
		its.it_value.tv_nsec = (ms % 1000) * 1000000;
	}
	(void)timerfd_settime(tfd, 0, &its, NULL);
}

/* Send what the client may take now; drop it when all is sent. */
static void
flush_out(struct ctl_client *c)
{
	ssize_t r;

	while (c->outpos < c->outlen) {
		r = send(c->fd, c->out + c->outpos, c->outlen - c->outpos,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r > 0) {
			c->outpos += (size_t)r;
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			(void)watch(c->fd, EPOLLOUT, EPOLL_CTL_MOD);
			return;
		}
		break;		/* the client went away */
	}
	drop(c);
}

/* Answer the request line in c->in (len bytes, no LF). */
static void
answer(struct ctl_client *c, size_t len)
{
	struct ctl_req req;
	char err[256];
	FILE *f;
	int r = 0;

	if (len > 0 && c->in[len - 1] == '\r')
		len--;
	if ((f = open_memstream(&c->out, &c->outlen)) == NULL) {
		drop(c);
		return;
	}
	if (ctl_req_parse(c->in, len, &req, err, sizeof(err)) == -1) {
		fprintf(f, "-ERR %s\n", err);
	} else if (req.cmd == CTL_WHO) {
		fputs("+OK\n", f);
		r = sessions_who(f);
	} else if (req.cmd == CTL_STATS) {
		fputs("+OK\n", f);
		r = stats_print(f, sessions_count());
	} else {
		fprintf(f, "+OK\n%u\n", sessions_kick(req.target));
	}
	if (fclose(f) != 0 || r == -1) {
		free(c->out);
		c->out = NULL;
		drop(c);
		return;
	}
	flush_out(c);
}

/* Read what the client sent; answer once a whole line is in. */
static void
take_in(struct ctl_client *c)
{
	char *lf;
	ssize_t r;

	for (;;) {
		r = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen,
		    MSG_DONTWAIT);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			drop(c);	/* gone before asking */
			return;
		}
		c->inlen += (size_t)r;
		if ((lf = memchr(c->in, '\n', c->inlen)) != NULL) {
			answer(c, (size_t)(lf - c->in));
			return;
		}
		if (c->inlen == sizeof(c->in)) {
			c->out = strdup("-ERR request too long\n");
			c->outlen = c->out != NULL ? strlen(c->out) : 0;
			flush_out(c);
			return;
		}
	}
}

/* A new connection: root's (or our own uid's) only. */
static void
take_client(void)
{
	static const char denied[] = "-ERR permission denied: kpopctl must "
	    "run as root\n";
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char junk[CTL_LINE_MAX];
	size_t i;
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC |
	    SOCK_NONBLOCK)) != -1) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ==
		    -1 || (cred.uid != 0 && cred.uid != geteuid())) {
			log_notice("control socket: refused a connection from "
			    "uid %ld", (long)(len == sizeof(cred) ?
			    (long)cred.uid : -1L));
			(void)!send(fd, denied, sizeof(denied) - 1,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			/* Closed with its request unread, the client would
			   get ECONNRESET instead of the answer. */
			while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
				continue;
			close(fd);
			continue;
		}
		for (i = 0; i < CTL_CLIENTS_MAX; i++)
			if (clients[i].fd == -1)
				break;
		if (i == CTL_CLIENTS_MAX || watch(fd, EPOLLIN,
		    EPOLL_CTL_ADD) == -1) {
			log_notice("control socket: too many clients; one "
			    "turned away");
			close(fd);
			continue;
		}
		memset(&clients[i], 0, sizeof(clients[i]));
		clients[i].fd = fd;
		clients[i].deadline = util_now_ms() + CTL_TIMEOUT_MS;
	}
}

void
ctl_run(void)
{
	struct epoll_event ev[CTL_CLIENTS_MAX + 2];
	uint64_t ticks;
	int64_t now;
	size_t i;
	int n, k;

	if (efd == -1 || (n = epoll_wait(efd, ev, (int)KP_NELEM(ev), 0)) <= 0)
		return;
	for (k = 0; k < n; k++) {
		if (ev[k].data.fd == lfd) {
			take_client();
			continue;
		}
		if (ev[k].data.fd == tfd) {
			(void)!read(tfd, &ticks, sizeof(ticks));
			continue;
		}
		for (i = 0; i < CTL_CLIENTS_MAX; i++) {
			if (clients[i].fd != ev[k].data.fd)
				continue;
			if (clients[i].out != NULL)
				flush_out(&clients[i]);
			else
				take_in(&clients[i]);
			break;
		}
	}
	now = util_now_ms();
	for (i = 0; i < CTL_CLIENTS_MAX; i++) {
		if (clients[i].fd != -1 && clients[i].deadline <= now) {
			log_notice("control socket: a client too slow to ask "
			    "or to read its reply was dropped");
			drop(&clients[i]);
		}
	}
	arm();
}

void
ctl_forked(void)
{
	size_t i;

	if (lfd == -1)
		return;		/* never opened: the slots are not set */
	for (i = 0; i < CTL_CLIENTS_MAX; i++)
		if (clients[i].fd != -1)
			close(clients[i].fd);
	if (lfd != -1)
		close(lfd);
	if (efd != -1)
		close(efd);
	if (tfd != -1)
		close(tfd);
}

void
ctl_close(void)
{
	size_t i;

	if (efd != -1)
		for (i = 0; i < CTL_CLIENTS_MAX; i++)
			if (clients[i].fd != -1)
				drop(&clients[i]);
	if (lfd != -1) {
		close(lfd);
		(void)unlink(sock_path);
	}
	if (efd != -1)
		close(efd);
	if (tfd != -1)
		close(tfd);
	lfd = efd = tfd = -1;
}
