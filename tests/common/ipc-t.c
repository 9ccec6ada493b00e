/* SPDX-License-Identifier: MIT */
/*
 * tests/common/ipc-t.c: tests for common/ipc.c: typed messages over a
 * SEQPACKET pair, descriptor passing, and every way a malformed or hostile
 * body is refused without an overrun.  A descriptor that arrives with a
 * message the reader refuses or does not want must be closed: each such
 * case counts the entries of /proc/self/fd before and after.
 */
#include "config.h"

#include <sys/socket.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/status.h"
#include "tap/basic.h"

static struct ipc_buf	out, in;

/* The descriptors open in this process, as /proc/self/fd lists them. */
static long
open_fds(void)
{
	struct dirent *de;
	DIR *d;
	long n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		bail("/proc/self/fd: %s", strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	(void)closedir(d);
	return n - 1;	/* the directory's own */
}

/*
 * Send len bytes (type and body, as they go on the wire, or fewer) with
 * nfds copies of descriptor fd, by hand: what a hostile peer can do that
 * ipc_send_fds() would not.
 */
static void
raw_send(int sock, const void *p, size_t len, int fd, size_t nfds)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(2 * IPC_FDS_MAX * sizeof(int))];
	} cmsg;
	int fds[2 * IPC_FDS_MAX];
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *c;
	size_t i;

	if (nfds > 2 * IPC_FDS_MAX)
		bail("raw_send: too many");
	for (i = 0; i < nfds; i++)
		fds[i] = fd;
	memset(&msg, 0, sizeof(msg));
	memset(&cmsg, 0, sizeof(cmsg));
	iov.iov_base = (void *)(uintptr_t)p;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsg.buf;
	msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	if (sendmsg(sock, &msg, 0) != (ssize_t)len)
		bail("sendmsg: %s", strerror(errno));
}

/*
 * Every way a descriptor comes with a message that is refused or not
 * wanted: none of them may stay open in the reader.
 */
static void
refused_fds_closed(int tx, int rx, int pass)
{
	static unsigned char wire[sizeof(uint32_t) + IPC_MSG_MAX + 1];
	uint32_t type = 12;
	int got[IPC_FDS_MAX];
	size_t nfds;
	long before;
	int fd, r;

	memcpy(wire, &type, sizeof(type));

	before = open_fds();
	raw_send(tx, wire, sizeof(type) + 4, pass, 1);
	r = ipc_recv(rx, &type, &in, NULL, 1000);
	ok(r == 0 && type == 12, "a descriptor the reader did not ask for");
	is_int(open_fds(), before, "is closed");

	before = open_fds();
	raw_send(tx, wire, sizeof(wire), pass, 1);
	r = ipc_recv(rx, &type, &in, &fd, 1000);
	ok(r == -1 && errno == EMSGSIZE && fd == -1,
	    "a body past IPC_MSG_MAX (truncated) is refused");
	is_int(open_fds(), before, "and its descriptor closed");

	before = open_fds();
	raw_send(tx, wire, 2, pass, 1);
	r = ipc_recv(rx, &type, &in, &fd, 1000);
	ok(r == -1 && errno == EPROTO && fd == -1,
	    "a message shorter than its type is refused");
	is_int(open_fds(), before, "and its descriptor closed");

	before = open_fds();
	raw_send(tx, wire, sizeof(type), pass, IPC_FDS_MAX + 5);
	r = ipc_recv_fds(rx, &type, &in, got, &nfds, IPC_FDS_MAX, 1000);
	ok(r == -1 && errno == EMSGSIZE && nfds == 0,
	    "more descriptors than fit (control truncated) are refused");
	is_int(open_fds(), before, "and every one that arrived closed");

	before = open_fds();
	raw_send(tx, wire, sizeof(type), pass, 2);
	r = ipc_recv(rx, &type, &in, &fd, 1000);
	ok(r == -1 && errno == EMSGSIZE && fd == -1,
	    "two descriptors to a reader of one are refused");
	is_int(open_fds(), before, "and both closed");
}

int
main(void)
{
	const void *p;
	char s[8], big[100];
	uint32_t type, u32;
	uint64_t u64;
	size_t n;
	int sv[2], fd, pfd[2];

	plan_lazy();
	if (ipc_pair(sv) == -1)
		bail("ipc_pair: %s", strerror(errno));

	ipc_reset(&out);
	ipc_put_u32(&out, 7);
	ipc_put_u64(&out, 1ULL << 40);
	ipc_put_str(&out, "alice");
	ipc_put_bytes(&out, "\0\1\2", 3);
	ok(!out.bad && ipc_send(sv[0], 42, &out, -1) == 0, "send");
	ok(ipc_recv(sv[1], &type, &in, &fd, 1000) == 0 && type == 42 &&
	    fd == -1, "receive, no descriptor");
	ok(ipc_get_u32(&in, &u32) == 0 && u32 == 7, "u32");
	ok(ipc_get_u64(&in, &u64) == 0 && u64 == 1ULL << 40, "u64");
	ok(ipc_get_str(&in, s, sizeof(s)) == 0 && strcmp(s, "alice") == 0,
	    "string");
	ok(ipc_get_bytes(&in, &p, &n) == 0 && n == 3 &&
	    memcmp(p, "\0\1\2", 3) == 0, "bytes");
	is_int(ipc_end(&in), 0, "nothing left over");

	/* Reading past the end, or leaving bytes, is refused. */
	ok(ipc_send(sv[0], 1, &out, -1) == 0 &&
	    ipc_recv(sv[1], &type, &in, NULL, 1000) == 0, "again");
	is_int(ipc_end(&in), -1, "unread fields make ipc_end fail");
	in.bad = 0;
	in.pos = 0;
	ok(ipc_get_u32(&in, &u32) == 0 && ipc_get_u64(&in, &u64) == 0 &&
	    ipc_get_str(&in, s, 5) == -1 && in.bad, "string over its bound");
	is_int(ipc_get_u32(&in, &u32), -1, "a bad buffer stays bad");

	/* Statuses: every failure round-trips, a foreign value is TEMP. */
	{
		int st, sts[] = { KP_OK, KP_TEMP, KP_PERM, KP_AUTH,
		    KP_INUSE, KP_DELAY, KP_GONE }, good = 1;
		size_t i;

		ipc_reset(&out);
		for (i = 0; i < KP_NELEM(sts); i++)
			ipc_put_status(&out, sts[i]);
		ipc_put_u32(&out, (uint32_t)-KP_STATUS_MIN + 1);
		ipc_put_u32(&out, 0x80000000U);
		ipc_put_status(&out, KP_MORE);
		ok(ipc_send(sv[0], 3, &out, -1) == 0 &&
		    ipc_recv(sv[1], &type, &in, NULL, 1000) == 0, "statuses");
		for (i = 0; i < KP_NELEM(sts); i++)
			if (ipc_get_status(&in, &st) == -1 || st != sts[i])
				good = 0;
		ok(good, "every status comes back as it went");
		ok(ipc_get_status(&in, &st) == 0 && st == KP_TEMP &&
		    ipc_get_status(&in, &st) == 0 && st == KP_TEMP,
		    "a value outside the enum reads as KP_TEMP");
		ok(ipc_get_status(&in, &st) == 0 && st == KP_TEMP &&
		    ipc_end(&in) == 0, "KP_MORE is not sent: KP_TEMP");
	}

	/* A string with a NUL inside is not a string. */
	ipc_reset(&out);
	ipc_put_bytes(&out, "a\0b", 3);
	ok(ipc_send(sv[0], 2, &out, -1) == 0 &&
	    ipc_recv(sv[1], &type, &in, NULL, 1000) == 0 &&
	    ipc_get_str(&in, s, sizeof(s)) == -1, "NUL inside a string");

	/* A length field larger than the body. */
	ipc_reset(&out);
	ipc_put_u32(&out, 1000);
	ipc_put_u32(&out, 0);
	ok(ipc_send(sv[0], 3, &out, -1) == 0 &&
	    ipc_recv(sv[1], &type, &in, NULL, 1000) == 0 &&
	    ipc_get_bytes(&in, &p, &n) == -1, "length past the body");

	/* A short body. */
	ipc_reset(&out);
	ipc_put_bytes(&out, "xy", 2);
	ok(ipc_send(sv[0], 4, &out, -1) == 0 &&
	    ipc_recv(sv[1], &type, &in, NULL, 1000) == 0 &&
	    ipc_get_u32(&in, &u32) == 0 && ipc_get_u32(&in, &u32) == -1,
	    "field past the end");

	/* Building past IPC_MSG_MAX marks the buffer; send refuses it. */
	ipc_reset(&out);
	memset(big, 'x', sizeof(big));
	for (n = 0; n < IPC_MSG_MAX / sizeof(big) + 1; n++)
		ipc_put_bytes(&out, big, sizeof(big));
	ok(out.bad, "overfull body marked bad");
	ok(ipc_send(sv[0], 5, &out, -1) == -1 && errno == EMSGSIZE,
	    "and not sent");

	/* A descriptor travels with a message. */
	if (pipe(pfd) == -1)
		bail("pipe");
	if (write(pfd[1], "hi", 2) != 2)
		bail("write");
	ipc_reset(&out);
	ok(ipc_send(sv[0], 6, &out, pfd[0]) == 0, "send a descriptor");
	ok(ipc_recv(sv[1], &type, &in, &fd, 1000) == 0 && fd >= 0 &&
	    fd != pfd[0], "receive it");
	ok(fd >= 0 && read(fd, s, 2) == 2 && memcmp(s, "hi", 2) == 0,
	    "it reads the same pipe");
	ok(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC), "close-on-exec");
	if (fd >= 0)
		close(fd);
	ok(ipc_send(sv[0], 7, &out, pfd[0]) == 0 &&
	    ipc_recv(sv[1], &type, &in, NULL, 1000) == 0,
	    "an unwanted descriptor is closed");

	/* Several descriptors, in order: pipes carrying "0", "1", ... */
	{
		int rd[IPC_FDS_MAX], wr[IPC_FDS_MAX], got[IPC_FDS_MAX];
		size_t nfds = 99, k, inorder = 0, open_before, open_after;
		char c;

		for (k = 0; k < IPC_FDS_MAX; k++) {
			if (pipe(pfd) == -1)
				bail("pipe");
			rd[k] = pfd[0];
			wr[k] = pfd[1];
			c = (char)('0' + k % 10);
			if (write(wr[k], &c, 1) != 1)
				bail("write");
		}
		ipc_reset(&out);
		ipc_put_u32(&out, IPC_FDS_MAX);
		ok(ipc_send_fds(sv[0], 8, &out, rd, IPC_FDS_MAX) == 0,
		    "send %d descriptors", IPC_FDS_MAX);
		ok(ipc_recv_fds(sv[1], &type, &in, got, &nfds, IPC_FDS_MAX,
		    1000) == 0 && type == 8 && nfds == IPC_FDS_MAX,
		    "receive all of them");
		for (k = 0; k < nfds && k < IPC_FDS_MAX; k++) {
			if (read(got[k], &c, 1) == 1 &&
			    c == (char)('0' + k % 10))
				inorder++;
			close(got[k]);
		}
		is_int((long)inorder, IPC_FDS_MAX, "each one the pipe sent "
		    "in that place");
		ok(ipc_send_fds(sv[0], 9, &out, rd, IPC_FDS_MAX + 1) == -1 &&
		    errno == EMSGSIZE, "more than IPC_FDS_MAX refused");

		/* More than the reader wants: an error, none leaked. */
		open_before = 0;
		for (k = 0; k < 1024; k++)
			if (fcntl((int)k, F_GETFD) != -1)
				open_before++;
		ok(ipc_send_fds(sv[0], 10, &out, rd, 3) == 0, "send 3");
		ok(ipc_recv_fds(sv[1], &type, &in, got, &nfds, 2, 1000) ==
		    -1 && errno == EMSGSIZE && nfds == 0,
		    "a reader taking 2 refuses 3");
		open_after = 0;
		for (k = 0; k < 1024; k++)
			if (fcntl((int)k, F_GETFD) != -1)
				open_after++;
		is_int((long)open_after, (long)open_before,
		    "and closes what it got");
		ok(ipc_send_fds(sv[0], 11, &out, rd, 0) == 0 &&
		    ipc_recv_fds(sv[1], &type, &in, got, &nfds, 4, 1000) ==
		    0 && nfds == 0 && type == 11, "none at all");
		for (k = 0; k < IPC_FDS_MAX; k++) {
			close(rd[k]);
			close(wr[k]);
		}
	}

	if (pipe(pfd) == -1)
		bail("pipe");
	refused_fds_closed(sv[0], sv[1], pfd[0]);
	close(pfd[0]);
	close(pfd[1]);

	ok(ipc_recv(sv[1], &type, &in, NULL, 100) == -1 && errno == ETIMEDOUT,
	    "timeout");
	close(sv[0]);
	is_int(ipc_recv(sv[1], &type, &in, NULL, 1000), 1, "EOF");
	close(sv[1]);
	return 0;
}
