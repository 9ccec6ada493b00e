/* SPDX-License-Identifier: MIT */
/*
 * tests/common/io-t.c: tests for common/io.c: lines (CRLF, bare LF, NUL,
 * the exact limit, overlong lines of any size), deadlines, EOF, block
 * reads, batching of writes, and I/O with injected EINTR, EAGAIN and
 * short reads and writes.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/io.h"
#include "common/io-int.h"
#include "tap/basic.h"

/* A connected pair: io on one end, the raw descriptor of the other. */
static struct io *
pair(int *peer)
{
	int sv[2];
	struct io *io;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		bail("socketpair");
	if ((io = io_new(sv[0])) == NULL)
		bail("io_new");
	*peer = sv[1];
	io_set_timeout(io, 2000);
	return io;
}

static void
put(int fd, const void *p, size_t n)
{
	if (write(fd, p, n) != (ssize_t)n)
		bail("write to peer");
}

static void
puts_peer(int fd, const char *s)
{
	put(fd, s, strlen(s));
}

static void
test_lines(void)
{
	char line[16];
	struct io *io;
	size_t n;
	int peer, st;

	io = pair(&peer);
	puts_peer(peer, "USER a\r\nLIST\n\r\n\nx\ry\r\n");
	ok(io_readline(io, line, sizeof(line), &n) == IO_OK && n == 6 &&
	    strcmp(line, "USER a") == 0, "CRLF line");
	ok(io_readline(io, line, sizeof(line), &n) == IO_OK && n == 4 &&
	    strcmp(line, "LIST") == 0, "bare LF line");
	ok(io_readline(io, line, sizeof(line), &n) == IO_OK && n == 0,
	    "empty CRLF line");
	ok(io_readline(io, line, sizeof(line), &n) == IO_OK && n == 0,
	    "empty LF line");
	ok(io_readline(io, line, sizeof(line), &n) == IO_OK && n == 3 &&
	    memcmp(line, "x\ry", 3) == 0, "CR inside a line stays");

	/* 15 bytes fit a 16-byte buffer; 16 do not. */
	puts_peer(peer, "123456789012345\r\n1234567890123456\r\nnext\r\n");
	ok(io_readline(io, line, sizeof(line), &n) == IO_OK && n == 15,
	    "line of exactly the limit");
	is_int(io_readline(io, line, sizeof(line), &n), IO_TOOLONG,
	    "one byte over the limit");
	ok(io_readline(io, line, sizeof(line), &n) == IO_OK &&
	    strcmp(line, "next") == 0, "the next line is intact");

	put(peer, "a\0b\r\n", 5);
	ok(io_readline(io, line, sizeof(line), &n) == IO_OK && n == 3 &&
	    line[1] == '\0' && line[2] == 'b', "NUL kept, length tells");

	/* A partial line, then the deadline. */
	io_set_timeout(io, 150);
	put(peer, "par", 3);
	st = io_readline(io, line, sizeof(line), &n);
	is_int(st, IO_TIMEOUT, "deadline on a partial line");
	ok(strstr(io_error(io), "timed out") != NULL, "timeout message: %s",
	    io_error(io));
	puts_peer(peer, "tial\r\n");
	ok(io_readline(io, line, sizeof(line), &n) == IO_OK &&
	    strcmp(line, "partial") == 0, "the line completes after");

	is_int(io_readline(io, line, 0, &n), IO_ERROR, "zero-size buffer");
	is_int(io_readline(io, line, IO_BUF_SIZE, &n), IO_ERROR,
	    "buffer as large as the I/O buffer");

	put(peer, "half", 4);
	close(peer);
	is_int(io_readline(io, line, sizeof(line), &n), IO_EOF,
	    "EOF in the middle of a line");
	io_free(io);
}

/* A 1 MiB line from a writer process, then a good one. */
static void
test_huge_line(void)
{
	char line[256];
	struct io *io;
	size_t n;
	pid_t pid;
	int peer;

	io = pair(&peer);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		char *big = malloc(1024 * 1024);

		memset(big, 'A', 1024 * 1024);
		put(peer, big, 1024 * 1024);
		put(peer, "\r\nQUIT\r\n", 8);
		_exit(0);
	}
	close(peer);
	is_int(io_readline(io, line, sizeof(line), &n), IO_TOOLONG,
	    "1 MiB line reported as too long");
	ok(io_readline(io, line, sizeof(line), &n) == IO_OK &&
	    strcmp(line, "QUIT") == 0, "the line after it is read whole");
	is_int(io_readline(io, line, sizeof(line), &n), IO_EOF, "then EOF");
	io_free(io);
}

static void
test_blocks(void)
{
	unsigned char buf[100000], out[100000];
	struct io *io;
	size_t got, i;
	int peer;

	io = pair(&peer);
	put(peer, "+OK\r\nabcdef", 11);
	usleep(50000);
	{
		char line[16];
		size_t n;

		if (io_readline(io, line, sizeof(line), &n) != IO_OK)
			bail("readline");
	}
	is_int((long long)io_pending(io), 6, "pending after a line");
	ok(io_read(io, buf, 4, &got) == IO_OK && got == 4 &&
	    memcmp(buf, "abcd", 4) == 0, "small read from the buffer");
	ok(io_read_full(io, buf, 2) == IO_OK && memcmp(buf, "ef", 2) == 0,
	    "read_full");
	put(peer, "junk", 4);
	usleep(50000);
	ok(io_read(io, buf, 1, &got) == IO_OK && got == 1, "one byte");
	io_drop_input(io);
	is_int((long long)io_pending(io), 0, "input dropped");

	for (i = 0; i < sizeof(out); i++)
		out[i] = (unsigned char)(i * 31);
	fflush(stdout);
	if (fork() == 0) {
		put(peer, out, sizeof(out));
		_exit(0);
	}
	ok(io_read_full(io, buf, sizeof(buf)) == IO_OK &&
	    memcmp(buf, out, sizeof(out)) == 0, "100000 bytes read whole");
	close(peer);
	is_int(io_read(io, buf, 10, &got), IO_EOF, "read at EOF");
	is_int(io_read_full(io, buf, 10), IO_EOF, "read_full at EOF");
	io_free(io);
}

/* ---- injected faults ---- */

static unsigned char	fake_in[4096];
static size_t		fake_in_len, fake_in_pos;
static unsigned char	fake_out[200000];
static size_t		fake_out_len;
static unsigned int	fake_calls, fake_writes;

/* One byte at a time; every third call EINTR, every fifth EAGAIN. */
static ssize_t
fake_read(int fd, void *buf, size_t n)
{
	fake_calls++;
	if (fake_calls % 3 == 0) {
		errno = EINTR;
		return -1;
	}
	if (fake_calls % 5 == 0) {
		errno = EAGAIN;
		return -1;
	}
	if (fake_in_pos == fake_in_len)
		return 0;
	*(unsigned char *)buf = fake_in[fake_in_pos++];
	return 1;
}

/* At most 7 bytes a call; EINTR and EAGAIN sprinkled in. */
static ssize_t
fake_write(int fd, const void *buf, size_t n)
{
	fake_calls++;
	if (fake_calls % 4 == 0) {
		errno = EINTR;
		return -1;
	}
	if (fake_calls % 7 == 0) {
		errno = EAGAIN;
		return -1;
	}
	if (n > 7)
		n = 7;
	memcpy(fake_out + fake_out_len, buf, n);
	fake_out_len += n;
	fake_writes++;
	return (ssize_t)n;
}

/* Counts whole writes, changes nothing. */
static ssize_t
count_write(int fd, const void *buf, size_t n)
{
	fake_writes++;
	memcpy(fake_out + fake_out_len, buf, n);
	fake_out_len += n;
	return (ssize_t)n;
}

static void
test_faults(void)
{
	static const char script[] = "USER alice\r\nPASS x y\nQUIT\r\n";
	char line[64], big[3000];
	struct io *io;
	size_t n, i;
	int peer;

	io = pair(&peer);
	/* Keep the real descriptor readable and writable for poll(). */
	put(peer, "x", 1);
	memcpy(fake_in, script, sizeof(script) - 1);
	fake_in_len = sizeof(script) - 1;
	fake_in_pos = fake_calls = 0;
	io_set_syscalls(io, fake_read, fake_write);
	ok(io_readline(io, line, sizeof(line), &n) == IO_OK &&
	    strcmp(line, "USER alice") == 0, "line read a byte at a time");
	ok(io_readline(io, line, sizeof(line), &n) == IO_OK &&
	    strcmp(line, "PASS x y") == 0, "through EINTR and EAGAIN");
	ok(io_readline(io, line, sizeof(line), &n) == IO_OK &&
	    strcmp(line, "QUIT") == 0, "to the last line");
	is_int(io_readline(io, line, sizeof(line), &n), IO_EOF, "then EOF");

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	fake_out_len = fake_calls = fake_writes = 0;
	ok(io_puts(io, "+OK hello\r\n") == IO_OK &&
	    io_write(io, big, sizeof(big)) == IO_OK &&
	    io_printf(io, "%s %d\r\n", "+OK", 42) == IO_OK &&
	    io_flush(io) == IO_OK, "writes through short writes and EINTR");
	ok(fake_out_len == 11 + sizeof(big) + 8 &&
	    memcmp(fake_out, "+OK hello\r\n", 11) == 0 &&
	    memcmp(fake_out + 11, big, sizeof(big)) == 0 &&
	    memcmp(fake_out + 11 + sizeof(big), "+OK 42\r\n", 8) == 0,
	    "every byte arrived in order");

	/* Batching: a hundred replies leave in one write. */
	io_set_syscalls(io, NULL, count_write);
	fake_out_len = fake_writes = 0;
	for (i = 0; i < 100; i++)
		if (io_printf(io, "%zu 1234\r\n", i + 1) != IO_OK)
			break;
	is_int((long long)io_queued(io) > 0, 1, "replies are queued");
	is_int(fake_writes, 0, "nothing written before the flush");
	ok(io_flush(io) == IO_OK && fake_writes == 1, "one write for 100 "
	    "replies (%u)", fake_writes);

	/* A reply longer than the small format buffer. */
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fake_out_len = 0;
	ok(io_printf(io, "-ERR %s\r\n", big) == IO_OK && io_flush(io) == IO_OK &&
	    fake_out_len == 5 + sizeof(big) - 1 + 2, "long formatted reply");
	io_free(io);
	close(peer);
}

static void
test_write_errors(void)
{
	static char big[1 << 20];
	struct io *io;
	int peer, st;

	io = pair(&peer);
	close(peer);
	st = io_puts(io, "+OK\r\n");
	if (st == IO_OK)
		st = io_flush(io);
	is_int(st, IO_ERROR, "write to a closed peer fails (no SIGPIPE)");
	ok(strstr(io_error(io), "Broken pipe") != NULL ||
	    strstr(io_error(io), "Connection reset") != NULL,
	    "error says why: %s", io_error(io));
	is_int(io_puts(io, "more"), IO_ERROR, "the error sticks");
	is_int(io_flush(io), IO_ERROR, "for flushes too");
	io_free(io);

	io = pair(&peer);
	io_set_timeout(io, 200);
	memset(big, 'x', sizeof(big));
	st = io_write(io, big, sizeof(big));
	if (st == IO_OK)
		st = io_flush(io);
	is_int(st, IO_TIMEOUT, "a peer that never reads: write times out");
	io_free(io);
	close(peer);
}

/* io_peek and io_skip: a decoder that stops inside the buffer. */
static void
test_peek(void)
{
	const void *p;
	char line[64];
	size_t len, n;
	int peer;
	struct io *io = pair(&peer);

	puts_peer(peer, "abc.\r\n+OK next\r\n");
	ok(io_peek(io, &p, &len) == IO_OK && len == 16 &&
	    memcmp(p, "abc.\r\n+OK next\r\n", 16) == 0,
	    "io_peek shows what is buffered, without consuming it");
	io_skip(io, 6);
	ok(io_peek(io, &p, &len) == IO_OK && len == 10 &&
	    memcmp(p, "+OK next", 8) == 0, "io_skip consumed six bytes");
	ok(io_readline(io, line, sizeof(line), &n) == IO_OK &&
	    strcmp(line, "+OK next") == 0, "and lines read on from there");
	io_skip(io, 100);
	ok(io_pending(io) == 0, "io_skip never goes past the buffer");
	close(peer);
	is_int(io_peek(io, &p, &len), IO_EOF, "io_peek at EOF");
	io_free(io);
}

int
main(void)
{
	signal(SIGPIPE, SIG_DFL);	/* prove MSG_NOSIGNAL does its job */
	plan_lazy();
	test_lines();
	test_huge_line();
	test_blocks();
	test_faults();
	test_write_errors();
	test_peek();
	return 0;
}
