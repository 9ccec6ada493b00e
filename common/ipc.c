/* SPDX-License-Identifier: MIT */
/*
 * common/ipc.c: messages between kpopd's processes.  See ipc.h.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/status.h"

/* The wire: type (4 bytes, host order: both ends are one machine). */
#define IPC_HDR	4

int
ipc_pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}

int
ipc_send(int sock, uint32_t type, const struct ipc_buf *b, int fd)
{
	return ipc_send_fds(sock, type, b, &fd, fd >= 0 ? 1 : 0);
}

int
ipc_send_fds(int sock, uint32_t type, const struct ipc_buf *b,
    const int *fds, size_t nfds)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(IPC_FDS_MAX * sizeof(int))];
	} cmsg;
	struct msghdr msg;
	struct iovec iov[2];
	struct cmsghdr *c;
	ssize_t r;

	if ((b != NULL && b->bad) || nfds > IPC_FDS_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	iov[0].iov_base = &type;
	iov[0].iov_len = IPC_HDR;
	iov[1].iov_base = b != NULL ? (void *)(uintptr_t)b->data : NULL;
	iov[1].iov_len = b != NULL ? b->len : 0;
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	if (nfds > 0) {
		memset(&cmsg, 0, sizeof(cmsg));
		msg.msg_control = cmsg.buf;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	do {
		r = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (r == -1 && errno == EINTR);
	if (r == -1)
		return -1;
	if ((size_t)r != IPC_HDR + iov[1].iov_len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

int
ipc_recv(int sock, uint32_t *typep, struct ipc_buf *b, int *fdp,
    int timeout_ms)
{
	size_t n;
	int fd = -1, r;

	r = ipc_recv_fds(sock, typep, b, &fd, &n, 1, timeout_ms);
	if (fdp != NULL)
		*fdp = fd;
	else if (fd >= 0)
		close(fd);
	return r;
}

int
ipc_recv_fds(int sock, uint32_t *typep, struct ipc_buf *b, int *fds,
    size_t *nfdsp, size_t maxfds, int timeout_ms)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(IPC_FDS_MAX * sizeof(int))];
	} cmsg;
	struct msghdr msg;
	struct iovec iov[2];
	struct cmsghdr *c;
	struct pollfd pfd;
	uint32_t type;
	ssize_t r;
	size_t nfds = 0, k, i;
	int got[IPC_FDS_MAX];

	ipc_reset(b);
	*nfdsp = 0;
	if (maxfds > IPC_FDS_MAX)
		maxfds = IPC_FDS_MAX;
	pfd.fd = sock;
	pfd.events = POLLIN;
	for (;;) {
		r = poll(&pfd, 1, timeout_ms);
		if (r > 0)
			break;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
	memset(&msg, 0, sizeof(msg));
	memset(&cmsg, 0, sizeof(cmsg));
	iov[0].iov_base = &type;
	iov[0].iov_len = IPC_HDR;
	iov[1].iov_base = b->data;
	iov[1].iov_len = sizeof(b->data);
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	msg.msg_control = cmsg.buf;
	msg.msg_controllen = sizeof(cmsg.buf);
	do {
		r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (r == -1 && errno == EINTR);
	if (r == -1)
		return -1;
	if (r == 0)
		return 1;
	/* Keep up to maxfds descriptors; close any others sent. */
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (k > IPC_FDS_MAX - nfds)
			k = IPC_FDS_MAX - nfds;
		memcpy(got + nfds, CMSG_DATA(c), k * sizeof(int));
		nfds += k;
	}
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 ||
	    (size_t)r < IPC_HDR || nfds > maxfds) {
		for (i = 0; i < nfds; i++)
			close(got[i]);
		errno = (size_t)r < IPC_HDR ? EPROTO : EMSGSIZE;
		return -1;
	}
	memcpy(fds, got, nfds * sizeof(int));
	*nfdsp = nfds;
	*typep = type;
	b->len = (size_t)r - IPC_HDR;
	return 0;
}

void
ipc_reset(struct ipc_buf *b)
{
	b->len = b->pos = 0;
	b->bad = 0;
}

size_t
ipc_room(const struct ipc_buf *b)
{
	return sizeof(b->data) - b->len;
}

/* Append n raw bytes, or mark b bad. */
static void
ipc_put_raw(struct ipc_buf *b, const void *p, size_t n)
{
	if (b->bad || ipc_room(b) < n) {
		b->bad = 1;
		return;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* Take n raw bytes: 0, or -1 and b marked bad. */
static int
ipc_get_raw(struct ipc_buf *b, void *p, size_t n)
{
	if (b->bad || b->len - b->pos < n) {
		b->bad = 1;
		return -1;
	}
	memcpy(p, b->data + b->pos, n);
	b->pos += n;
	return 0;
}

void
ipc_put_bytes(struct ipc_buf *b, const void *p, size_t n)
{
	/* Length and bytes go in together or not at all. */
	if (n > IPC_MSG_MAX || ipc_room(b) < sizeof(uint32_t) + n) {
		b->bad = 1;
		return;
	}
	ipc_put_u32(b, (uint32_t)n);
	if (n > 0)
		ipc_put_raw(b, p, n);
}

void
ipc_put_str(struct ipc_buf *b, const char *s)
{
	ipc_put_bytes(b, s, strlen(s));
}

void
ipc_put_u32(struct ipc_buf *b, uint32_t v)
{
	ipc_put_raw(b, &v, sizeof(v));
}

void
ipc_put_status(struct ipc_buf *b, int st)
{
	ipc_put_u32(b, st <= 0 && st >= KP_STATUS_MIN ? (uint32_t)-st :
	    (uint32_t)-KP_TEMP);
}

void
ipc_put_u64(struct ipc_buf *b, uint64_t v)
{
	ipc_put_raw(b, &v, sizeof(v));
}

int
ipc_get_u32(struct ipc_buf *b, uint32_t *v)
{
	return ipc_get_raw(b, v, sizeof(*v));
}

int
ipc_get_status(struct ipc_buf *b, int *st)
{
	uint32_t v;

	if (ipc_get_u32(b, &v) == -1)
		return -1;
	*st = v <= (uint32_t)-KP_STATUS_MIN ? -(int)v : KP_TEMP;
	return 0;
}

int
ipc_get_u64(struct ipc_buf *b, uint64_t *v)
{
	return ipc_get_raw(b, v, sizeof(*v));
}

int
ipc_get_bytes(struct ipc_buf *b, const void **p, size_t *n)
{
	uint32_t len;

	if (ipc_get_u32(b, &len) == -1)
		return -1;
	if (b->len - b->pos < len) {
		b->bad = 1;
		return -1;
	}
	*p = b->data + b->pos;
	*n = len;
	b->pos += len;
	return 0;
}

int
ipc_get_str(struct ipc_buf *b, char *out, size_t max)
{
	const void *p;
	size_t n;

	if (ipc_get_bytes(b, &p, &n) == -1)
		return -1;
	if (n >= max || memchr(p, '\0', n) != NULL) {
		b->bad = 1;
		return -1;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int
ipc_end(struct ipc_buf *b)
{
	if (b->bad || b->pos != b->len) {
		b->bad = 1;
		return -1;
	}
	return 0;
}
