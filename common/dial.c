/* SPDX-License-Identifier: MIT */
/*
 * common/dial.c: connecting to a peer, bounded in time (dial.h): TCP to
 * each address of a name in turn, or a Unix socket.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/dial.h"
#include "common/util.h"

/* One address: a connected descriptor, or -1 with why set. */
static int
dial_one(const struct addrinfo *ai, int timeout_ms, char *why,
    size_t whylen)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd, e = 0, r;

	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, ai->ai_protocol)) == -1) {
		(void)util_snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		if (errno != EINPROGRESS) {
			(void)util_snprintf(why, whylen, "%s",
			    strerror(errno));
			(void)close(fd);
			return -1;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do
			r = poll(&pfd, 1, timeout_ms);
		while (r == -1 && errno == EINTR);
		if (r == 0) {
			(void)util_snprintf(why, whylen, "timed out");
			(void)close(fd);
			return -1;
		}
		if (r == -1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e,
		    &len) == -1 || e != 0) {
			(void)util_snprintf(why, whylen, "%s",
			    strerror(e ? e : errno));
			(void)close(fd);
			return -1;
		}
	}
	return fd;
}

int
dial_tcp(const char *host, unsigned int port, int timeout_ms, char *err,
    size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[16], why[256] = "no address";
	int fd = -1, r, on = 1;

	(void)util_snprintf(portstr, sizeof(portstr), "%u", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	if ((r = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		(void)util_snprintf(err, errlen, "%s: %s", host,
		    gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
		fd = dial_one(ai, timeout_ms, why, sizeof(why));
	freeaddrinfo(res);
	if (fd == -1) {
		(void)util_snprintf(err, errlen, "cannot connect to %s port "
		    "%u: %s", host, port, why);
		return -1;
	}
	/* Commands are batched already; Nagle would only wait for the
	   peer's delayed ACK behind each small write. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return fd;
}

int
dial_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (util_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) == -1) {
		(void)util_snprintf(err, errlen, "%s: a socket path must be "
		    "shorter than %zu bytes", path, sizeof(sun.sun_path));
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1) {
		(void)util_snprintf(err, errlen, "socket: %s",
		    strerror(errno));
		return -1;
	}
	/* A Unix socket connects at once or not at all (EAGAIN: its
	   backlog is full). */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		(void)util_snprintf(err, errlen, "cannot connect to %s: %s",
		    path, strerror(errno));
		(void)close(fd);
		return -1;
	}
	return fd;
}
