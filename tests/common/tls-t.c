/* SPDX-License-Identifier: MIT */
/*
 * tests/common/tls-t.c: tests for common/tls.c over real loopback TCP with
 * the certificates tests/data/mkcerts made: contexts, a verified round
 * trip, STLS in place (with plaintext pipelined behind it), every refusal a
 * client must make (unknown CA, wrong host name or address, injected
 * plaintext), a server refusing TLS 1.1, a handshake timeout, and 1 MiB
 * through TLS.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "common/io.h"
#include "common/tls.h"
#include "tap/basic.h"

static char	 ca[512], other_ca[512];
static char	 cert[512], key[512], wrong_cert[512], wrong_key[512];
static int	 lfd = -1;
static int	 port;

typedef int (*scenario_fn)(struct io *, const char *, const char *);

static void
setup_listener(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 8) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) == -1)
		bail("cannot listen on loopback");
	port = ntohs(sin.sin_port);
}

/* Fork a server that accepts one connection and runs fn on it. */
static pid_t
serve(scenario_fn fn, const char *c, const char *k)
{
	struct io *io;
	pid_t pid;
	int fd, rc;

	fflush(stdout);
	if ((pid = fork()) == -1)
		bail("fork");
	if (pid > 0)
		return pid;
	alarm(20);
	if ((fd = accept(lfd, NULL, NULL)) == -1 || (io = io_new(fd)) == NULL)
		_exit(90);
	io_set_timeout(io, 5000);
	rc = fn(io, c, k);
	io_free(io);
	_exit(rc);
}

static int
reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) == -1)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

static struct io *
dial(void)
{
	struct sockaddr_in sin;
	struct io *io;
	int fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)port);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (io = io_new(fd)) == NULL)
		bail("cannot connect to the test server");
	io_set_timeout(io, 5000);
	return io;
}

static SSL_CTX *
server_ctx(const char *c, const char *k)
{
	char err[256];
	SSL_CTX *ctx;

	if ((ctx = tls_server_ctx(c, k, err, sizeof(err))) == NULL)
		_exit(91);
	return ctx;
}

/* Handshake, then echo one line back with a prefix. */
static int
sc_echo(struct io *io, const char *c, const char *k)
{
	SSL_CTX *ctx = server_ctx(c, k);
	char line[256];
	size_t n;

	if (tls_start(io, ctx, TLS_SERVER, NULL) != IO_OK)
		return 1;
	if (io_readline(io, line, sizeof(line), &n) != IO_OK)
		return 2;
	if (io_printf(io, "echo %s\r\n", line) != IO_OK || io_flush(io) != IO_OK)
		return 3;
	SSL_CTX_free(ctx);
	return 0;
}

/* STLS: plaintext command, junk pipelined behind it, then TLS. */
static int
sc_stls(struct io *io, const char *c, const char *k)
{
	SSL_CTX *ctx = server_ctx(c, k);
	char line[256];
	size_t n;

	if (io_readline(io, line, sizeof(line), &n) != IO_OK ||
	    strcmp(line, "STLS") != 0)
		return 1;
	/* The junk came in the same read; it must be thrown away. */
	if (io_pending(io) == 0)
		return 8;
	if (io_puts(io, "+OK begin TLS\r\n") != IO_OK)
		return 2;
	if (tls_start(io, ctx, TLS_SERVER, NULL) != IO_OK)
		return 3;
	if (io_readline(io, line, sizeof(line), &n) != IO_OK)
		return 4;
	/* The first line in TLS must be the client's, not the junk. */
	if (strcmp(line, "CAPA") != 0)
		return 5;
	if (io_puts(io, "+OK in TLS\r\n") != IO_OK || io_flush(io) != IO_OK)
		return 6;
	SSL_CTX_free(ctx);
	return 0;
}

/* A man in the middle answering STLS and injecting plaintext. */
static int
sc_inject(struct io *io, const char *c, const char *k)
{
	char line[256];
	size_t n;

	if (io_readline(io, line, sizeof(line), &n) != IO_OK)
		return 1;
	if (io_puts(io, "+OK begin TLS\r\n+OK injected\r\n") != IO_OK ||
	    io_flush(io) != IO_OK)
		return 2;
	/* Wait for the client to give up. */
	while (io_readline(io, line, sizeof(line), &n) == IO_OK)
		continue;
	return 0;
}

/* Handshake, expecting it to fail. */
static int
sc_expect_fail(struct io *io, const char *c, const char *k)
{
	SSL_CTX *ctx = server_ctx(c, k);
	int st;

	st = tls_start(io, ctx, TLS_SERVER, NULL);
	SSL_CTX_free(ctx);
	if (st == IO_OK)
		return 1;
	/* Report the reason on stdout for the parent to show. */
	printf("# server: %s\n", io_error(io));
	return 0;
}

/* Accept, then say nothing. */
static int
sc_silent(struct io *io, const char *c, const char *k)
{
	sleep(2);
	return 0;
}

/* Send 1 MiB of a pattern through TLS. */
static int
sc_bulk(struct io *io, const char *c, const char *k)
{
	SSL_CTX *ctx = server_ctx(c, k);
	unsigned char block[4096];
	size_t i, j;

	if (tls_start(io, ctx, TLS_SERVER, NULL) != IO_OK)
		return 1;
	for (i = 0; i < 256; i++) {
		for (j = 0; j < sizeof(block); j++)
			block[j] = (unsigned char)(i * 7 + j);
		if (io_write(io, block, sizeof(block)) != IO_OK)
			return 2;
	}
	if (io_flush(io) != IO_OK)
		return 3;
	SSL_CTX_free(ctx);
	return 0;
}

static SSL_CTX *
client_ctx(const char *cafile)
{
	char err[256];
	SSL_CTX *ctx;

	if ((ctx = tls_client_ctx(cafile, err, sizeof(err))) == NULL)
		bail("client context: %s", err);
	return ctx;
}

static void
test_contexts(void)
{
	char err[256];
	SSL_CTX *ctx;

	ctx = tls_server_ctx(cert, key, err, sizeof(err));
	ok(ctx != NULL, "server context loads");
	SSL_CTX_free(ctx);
	ctx = tls_server_ctx("/nonexistent/cert.pem", key, err, sizeof(err));
	ok(ctx == NULL && strstr(err, "/nonexistent/cert.pem: cannot load "
	    "the certificate chain") == err, "missing certificate: %s", err);
	ctx = tls_server_ctx(cert, wrong_key, err, sizeof(err));
	ok(ctx == NULL && strstr(err, "wrong.key") != NULL &&
	    strstr(err, "mismatch") != NULL, "key that does not match: %s",
	    err);
	ctx = tls_client_ctx("/nonexistent/ca.pem", err, sizeof(err));
	ok(ctx == NULL && strstr(err, "/nonexistent/ca.pem: cannot load CA "
	    "certificates") == err, "missing CA file: %s", err);
	ctx = tls_client_ctx(NULL, err, sizeof(err));
	ok(ctx != NULL, "client context from the system store");
	SSL_CTX_free(ctx);
}

/* Send the channel binding's type and hex, as the server sees it. */
static int
send_binding(struct io *io, const char *c, const char *k, int max12)
{
	SSL_CTX *ctx = server_ctx(c, k);
	unsigned char cb[TLS_CB_MAX];
	const char *name;
	size_t len, i;
	char line[16];

	if (max12)
		SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	if (tls_start(io, ctx, TLS_SERVER, NULL) != IO_OK ||
	    (name = tls_channel_binding(io, cb, &len)) == NULL)
		return 1;
	io_printf(io, "%s ", name);
	for (i = 0; i < len; i++)
		io_printf(io, "%02x", cb[i]);
	io_puts(io, "\r\n");
	if (io_flush(io) != IO_OK || io_readline(io, line, sizeof(line),
	    &len) != IO_OK)
		return 2;
	SSL_CTX_free(ctx);
	return 0;
}

static int
sc_binding12(struct io *io, const char *c, const char *k)
{
	return send_binding(io, c, k, 1);
}

static int
sc_binding13(struct io *io, const char *c, const char *k)
{
	return send_binding(io, c, k, 0);
}

/* Both ends derive the same binding; another session another one. */
static void
test_binding(void)
{
	static const scenario_fn fns[] = { sc_binding12, sc_binding13 };
	static const char *const names[] = { "tls-unique", "tls-exporter" };
	SSL_CTX *ctx = client_ctx(ca);
	unsigned char cb[TLS_CB_MAX];
	char line[256], mine[256], last[256] = "";
	const char *name;
	struct io *io;
	size_t n, len, i;
	int f, round;
	pid_t pid;

	for (f = 0; f < 2; f++)
		for (round = 0; round < 2; round++) {
			pid = serve(fns[f], cert, key);
			io = dial();
			ok(tls_start(io, ctx, TLS_CLIENT, "localhost") ==
			    IO_OK, "handshake for %s", names[f]);
			name = tls_channel_binding(io, cb, &len);
			is_string(name, names[f], "%s under %s", names[f],
			    tls_version(io));
			(void)util_snprintf(mine, sizeof(mine), "%s ",
			    name != NULL ? name : "-");
			for (i = 0; name != NULL && i < len; i++) {
				n = strlen(mine);
				(void)util_snprintf(mine + n, sizeof(mine) - n,
				    "%02x", cb[i]);
			}
			ok(io_readline(io, line, sizeof(line), &n) == IO_OK &&
			    strcmp(line, mine) == 0, "client and server agree "
			    "on %s", names[f]);
			ok(round == 0 || strcmp(line, last) != 0,
			    "a new session has a new binding");
			util_strlcpy(last, line, sizeof(last));
			(void)io_puts(io, "bye\r\n");
			(void)io_flush(io);
			io_free(io);
			is_int(reap(pid), 0, "server side of %s", names[f]);
		}
	io = io_new(0);
	ok(io != NULL && tls_channel_binding(io, cb, &len) == NULL,
	    "no binding without TLS");
	io_free(io);
	SSL_CTX_free(ctx);
}

static void
test_round_trip(void)
{
	SSL_CTX *ctx = client_ctx(ca);
	char line[256];
	const char *v;
	struct io *io;
	size_t n;
	pid_t pid;

	pid = serve(sc_echo, cert, key);
	io = dial();
	is_int(tls_start(io, ctx, TLS_CLIENT, "localhost"), IO_OK,
	    "verified handshake with localhost");
	v = tls_version(io);
	ok(v != NULL && (strcmp(v, "TLSv1.3") == 0 ||
	    strcmp(v, "TLSv1.2") == 0), "TLS version %s", v ? v : "none");
	ok(tls_active(io) && tls_cipher(io) != NULL, "cipher %s",
	    tls_cipher(io) ? tls_cipher(io) : "none");
	ok(io_puts(io, "hello\r\n") == IO_OK && io_flush(io) == IO_OK,
	    "write over TLS");
	ok(io_readline(io, line, sizeof(line), &n) == IO_OK &&
	    strcmp(line, "echo hello") == 0, "read over TLS");
	is_int(tls_start(io, ctx, TLS_CLIENT, "localhost"), IO_ERROR,
	    "TLS cannot start twice");
	io_free(io);
	is_int(reap(pid), 0, "server side of the round trip");

	pid = serve(sc_echo, cert, key);
	io = dial();
	is_int(tls_start(io, ctx, TLS_CLIENT, "127.0.0.1"), IO_OK,
	    "verified handshake with an IP address");
	io_free(io);
	(void)reap(pid);
	SSL_CTX_free(ctx);
}

static void
test_stls(void)
{
	SSL_CTX *ctx = client_ctx(ca);
	char line[256];
	struct io *io;
	size_t n;
	pid_t pid;

	pid = serve(sc_stls, cert, key);
	io = dial();
	ok(io_puts(io, "STLS\r\nJUNK pipelined\r\n") == IO_OK &&
	    io_flush(io) == IO_OK, "STLS with junk behind it");
	ok(io_readline(io, line, sizeof(line), &n) == IO_OK &&
	    strncmp(line, "+OK", 3) == 0, "STLS accepted");
	is_int(tls_start(io, ctx, TLS_CLIENT, "localhost"), IO_OK,
	    "upgraded in place");
	ok(io_puts(io, "CAPA\r\n") == IO_OK && io_flush(io) == IO_OK &&
	    io_readline(io, line, sizeof(line), &n) == IO_OK &&
	    strcmp(line, "+OK in TLS") == 0, "junk was dropped by the server");
	io_free(io);
	is_int(reap(pid), 0, "server side of STLS");

	pid = serve(sc_inject, cert, key);
	io = dial();
	ok(io_puts(io, "STLS\r\n") == IO_OK && io_flush(io) == IO_OK &&
	    io_readline(io, line, sizeof(line), &n) == IO_OK, "STLS answered");
	usleep(200000);
	/* Make sure the injected line is buffered before starting TLS. */
	(void)io_pending(io);
	is_int(tls_start(io, ctx, TLS_CLIENT, "localhost"), IO_ERROR,
	    "client refuses plaintext injected after STLS");
	ok(strstr(io_error(io), "before the TLS handshake") != NULL, "%s",
	    io_error(io));
	io_free(io);
	(void)reap(pid);
	SSL_CTX_free(ctx);
}

static void
test_refusals(void)
{
	SSL_CTX *ctx;
	struct io *io;
	pid_t pid;

	ctx = client_ctx(other_ca);
	pid = serve(sc_expect_fail, cert, key);
	io = dial();
	is_int(tls_start(io, ctx, TLS_CLIENT, "localhost"), IO_ERROR,
	    "untrusted CA refused");
	ok(strstr(io_error(io), "certificate verify failed: unable to get "
	    "local issuer certificate") != NULL, "%s", io_error(io));
	io_free(io);
	is_int(reap(pid), 0, "server saw the handshake fail");
	SSL_CTX_free(ctx);

	ctx = client_ctx(ca);
	pid = serve(sc_expect_fail, wrong_cert, wrong_key);
	io = dial();
	is_int(tls_start(io, ctx, TLS_CLIENT, "localhost"), IO_ERROR,
	    "certificate for another name refused");
	ok(strstr(io_error(io), "hostname mismatch") != NULL, "%s",
	    io_error(io));
	io_free(io);
	(void)reap(pid);

	pid = serve(sc_expect_fail, cert, key);
	io = dial();
	is_int(tls_start(io, ctx, TLS_CLIENT, "127.0.0.2"), IO_ERROR,
	    "certificate for another address refused");
	ok(strstr(io_error(io), "IP address mismatch") != NULL, "%s",
	    io_error(io));
	io_free(io);
	(void)reap(pid);

	pid = serve(sc_silent, cert, key);
	io = dial();
	io_set_timeout(io, 300);
	is_int(tls_start(io, ctx, TLS_CLIENT, "localhost"), IO_TIMEOUT,
	    "silent server: handshake times out");
	io_free(io);
	(void)reap(pid);
	SSL_CTX_free(ctx);

	/* A client that can speak only TLS 1.1, even at a low level. */
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
	SSL_CTX_set_min_proto_version(ctx, TLS1_1_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	pid = serve(sc_expect_fail, cert, key);
	io = dial();
	is_int(tls_start(io, ctx, TLS_CLIENT, "localhost"), IO_ERROR,
	    "TLS 1.1 client gets no session");
	io_free(io);
	is_int(reap(pid), 0, "server refused TLS 1.1");
	SSL_CTX_free(ctx);
}

static void
test_bulk(void)
{
	SSL_CTX *ctx = client_ctx(ca);
	unsigned char buf[5000];
	size_t got, total = 0, i;
	struct io *io;
	int bad = 0, st;
	pid_t pid;

	pid = serve(sc_bulk, cert, key);
	io = dial();
	if (tls_start(io, ctx, TLS_CLIENT, "localhost") != IO_OK)
		bail("bulk handshake: %s", io_error(io));
	while ((st = io_read(io, buf, sizeof(buf), &got)) == IO_OK) {
		for (i = 0; i < got; i++, total++)
			if (buf[i] != (unsigned char)((total / 4096) * 7 +
			    total % 4096))
				bad++;
	}
	is_int(st, IO_EOF, "bulk transfer ends in EOF");
	is_int((long long)total, 1024 * 1024, "1 MiB through TLS");
	is_int(bad, 0, "every byte intact");
	io_free(io);
	is_int(reap(pid), 0, "server side of the bulk transfer");
	SSL_CTX_free(ctx);
}

int
main(void)
{
	const char *d = test_data_dir();

	if (d == NULL)
		bail("KPOP_TEST_DATA is not set (run through tests/run)");
	util_snprintf(ca, sizeof(ca), "%s/ca.pem", d);
	util_snprintf(other_ca, sizeof(other_ca), "%s/other-ca.pem", d);
	util_snprintf(cert, sizeof(cert), "%s/server.pem", d);
	util_snprintf(key, sizeof(key), "%s/server.key", d);
	util_snprintf(wrong_cert, sizeof(wrong_cert), "%s/wrong.pem", d);
	util_snprintf(wrong_key, sizeof(wrong_key), "%s/wrong.key", d);
	if (access(ca, R_OK) != 0)
		bail("no test CA in %s (tests/data/mkcerts makes it)", d);
	signal(SIGPIPE, SIG_IGN);
	setup_listener();
	plan_lazy();
	test_contexts();
	test_round_trip();
	test_stls();
	test_refusals();
	test_bulk();
	test_binding();
	return 0;
}
