/* SPDX-License-Identifier: MIT */
/*
 * tests/common/sendauth-t.c: tests for common/sendauth.c, the KPOP
 * sendauth framing: a good hello (whole and a byte at a time), version
 * mismatches and the refusal byte each gets, a Kerberos 4 client, QUIT
 * where a length belongs (failing at once, not waiting), oversized blocks,
 * EOF, and the blocks the server writes.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/io.h"
#include "common/sendauth.h"
#include "tap/basic.h"

static size_t
frame(unsigned char *out, const char *s, size_t n)
{
	uint32_t len = htonl((uint32_t)n);

	memcpy(out, &len, 4);
	memcpy(out + 4, s, n);
	return n + 4;
}

/* The hello a client sends, with the given application version. */
static size_t
hello(unsigned char *out, const char *appl)
{
	size_t n = frame(out, SENDAUTH_VERSION, sizeof(SENDAUTH_VERSION));

	return n + frame(out + n, appl, strlen(appl) + 1);
}

static struct io *
pair(int *peer)
{
	int sv[2];
	struct io *io;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 ||
	    (io = io_new(sv[0])) == NULL)
		bail("socketpair");
	io_set_timeout(io, 2000);
	*peer = sv[1];
	return io;
}

static int
accept_with(const void *bytes, size_t n, int close_after, char *err,
    unsigned char *answer, int *got_answer)
{
	struct io *io;
	int peer, st;

	io = pair(&peer);
	if (n > 0 && write(peer, bytes, n) != (ssize_t)n)
		bail("write");
	if (close_after)
		shutdown(peer, SHUT_WR);
	st = sendauth_accept(io, KPOP_APPL_VERSION, err, 256);
	io_free(io);		/* so that a read finds EOF, not a wait */
	*got_answer = (int)read(peer, answer, 1) == 1;
	close(peer);
	return st;
}

int
main(void)
{
	unsigned char buf[512], ans = 0xff, blk[64];
	char err[256];
	struct io *io;
	size_t n, len;
	int peer, got;
	pid_t pid;
	time_t t0;

	plan_lazy();
	n = hello(buf, KPOP_APPL_VERSION);
	is_int(accept_with(buf, n, 0, err, &ans, &got), SA_OK, "good hello");
	ok(got && ans == 0, "answered with 0");

	n = hello(buf, "KPOPV0.9");
	is_int(accept_with(buf, n, 0, err, &ans, &got), SA_VERSION,
	    "application version mismatch");
	ok(got && ans == 2, "answered with 2");
	ok(strstr(err, "KPOPV0.9") != NULL, "the message names it: %s", err);

	n = frame(buf, "KRB5_SENDAUTH_V0.9", 19);
	is_int(accept_with(buf, n, 0, err, &ans, &got), SA_VERSION,
	    "sendauth version mismatch");
	ok(got && ans == 1, "answered with 1");

	is_int(accept_with("AUTHV0.1KPOPV0.1", 16, 0, err, &ans, &got),
	    SA_KRB4, "a Kerberos 4 client is recognized");
	ok(!got, "and gets no answer byte");

	t0 = time(NULL);
	is_int(accept_with("QUIT\r\n", 6, 0, err, &ans, &got), SA_BAD,
	    "QUIT where the length belongs");
	ok(time(NULL) - t0 < 2, "fails at once, no waiting");
	ok(strstr(err, "QUIT") != NULL, "the message says so: %s", err);

	n = hello(buf, KPOP_APPL_VERSION);
	is_int(accept_with(buf, 10, 1, err, &ans, &got), SA_IO,
	    "EOF in the middle of the hello");

	/* A byte at a time from another process. */
	io = pair(&peer);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		size_t i;

		for (i = 0; i < n; i++) {
			if (write(peer, buf + i, 1) != 1)
				_exit(1);
			usleep(1000);
		}
		_exit(0);
	}
	is_int(sendauth_accept(io, KPOP_APPL_VERSION, err, sizeof(err)), SA_OK,
	    "a hello a byte at a time");
	waitpid(pid, NULL, 0);
	ok(read(peer, &ans, 1) == 1 && ans == 0, "answered with 0");

	/* Blocks. */
	n = frame(buf, "apreq", 5);
	n += frame(buf + n, "too long for the buffer", 23);
	memcpy(buf + n, "QUIT", 4);
	n += 4;
	if (write(peer, buf, n) != (ssize_t)n)
		bail("write");
	ok(sendauth_read_block(io, blk, 10, &len, err, sizeof(err)) == SA_OK &&
	    len == 5 && memcmp(blk, "apreq", 5) == 0, "a block");
	is_int(sendauth_read_block(io, blk, 10, &len, err, sizeof(err)),
	    SA_BAD, "a block over the bound");
	io_drop_input(io);
	if (write(peer, "QUIT\r\n", 6) != 6)
		bail("write");
	ok(sendauth_read_block(io, blk, 4096, &len, err, sizeof(err)) ==
	    SA_BAD && strstr(err, "QUIT") != NULL, "QUIT as a block length: "
	    "%s", err);

	ok(sendauth_write_block(io, NULL, 0) == IO_OK &&
	    sendauth_write_block(io, "rep", 3) == IO_OK &&
	    io_flush(io) == IO_OK, "write a zero block and a block");
	ok(read(peer, buf, 11) == 11 && memcmp(buf, "\0\0\0\0\0\0\0\3rep",
	    11) == 0, "their bytes on the wire");
	io_free(io);
	close(peer);
	return 0;
}
