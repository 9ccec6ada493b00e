/* SPDX-License-Identifier: MIT */
/*
 * tests/common/sasl-t.c: tests for common/sasl.c: base64 through Cyrus
 * SASL, against RFC 4648 test vectors and invalid input; the security
 * layer transport; PLAIN and LOGIN through Cyrus SASL's own plugins with
 * the caller's password check (checkpass) deciding alone.
 */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/io.h"
#include "common/limits.h"
#include "common/sasl.h"
#include "tap/basic.h"

#if defined(__SANITIZE_ADDRESS__)
#define SASL_T_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SASL_T_ASAN	1
#endif
#endif
#ifdef SASL_T_ASAN
#include <sanitizer/lsan_interface.h>
#endif

static const struct {
	const char *plain, *b64;
} vectors[] = {		/* RFC 4648 section 10 */
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static int
dec(const char *s, void *out, size_t outsize, size_t *n)
{
	return xsasl_b64_decode(s, strlen(s), out, outsize, n);
}

/*
 * A toy security layer for the transport: each packet is a 4-byte
 * big-endian length and the bytes XORed with 0x5a.  Real ones (GSSAPI
 * wrap) run end to end in tests/kpopd/sasl-t.
 */
struct toy {
	unsigned char	out[SASL_LAYER_CHUNK + 4];
	unsigned char	acc[SASL_LAYER_MAXBUF + 4];	/* a packet so far */
	size_t		accn;
	unsigned char	dec[SASL_LAYER_HOLD];
	size_t		maxseen;
	int		fail;
};

static int
toy_encode(void *arg, const void *in, size_t n, const void **out,
    size_t *outn, char *err, size_t errlen)
{
	struct toy *t = arg;
	const unsigned char *p = in;
	size_t i;

	(void)err;
	(void)errlen;
	t->out[0] = (unsigned char)(n >> 24);
	t->out[1] = (unsigned char)(n >> 16);
	t->out[2] = (unsigned char)(n >> 8);
	t->out[3] = (unsigned char)n;
	for (i = 0; i < n; i++)
		t->out[4 + i] = p[i] ^ 0x5a;
	if (n > t->maxseen)
		t->maxseen = n;
	*out = t->out;
	*outn = n + 4;
	return 0;
}

static int
toy_decode(void *arg, const void *in, size_t n, const void **out,
    size_t *outn, char *err, size_t errlen)
{
	struct toy *t = arg;
	const unsigned char *p = in;
	size_t i, got = 0, want;

	if (t->fail) {
		util_snprintf(err, errlen, "toy: bad packet");
		return -1;
	}
	for (i = 0; i < n; i++) {
		t->acc[t->accn++] = p[i];
		if (t->accn < 4)
			continue;
		want = (size_t)t->acc[0] << 24 | (size_t)t->acc[1] << 16 |
		    (size_t)t->acc[2] << 8 | t->acc[3];
		if (want > SASL_LAYER_MAXBUF) {
			util_snprintf(err, errlen, "toy: packet too big");
			return -1;
		}
		if (t->accn == 4 + want) {
			for (size_t j = 0; j < want; j++)
				t->dec[got++] = t->acc[4 + j] ^ 0x5a;
			t->accn = 0;
		}
	}
	*out = t->dec;
	*outn = got;
	return 0;
}

static void
test_layer(void)
{
	static struct toy mine, peer;
	static unsigned char big[200000], back[200000];
	struct xsasl_codec c = { toy_encode, toy_decode, &mine, 1000 };
	struct io *a, *b;
	char line[128];
	size_t n, got;
	int sv[2];
	pid_t pid;
	int st;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 ||
	    (a = io_new(sv[0])) == NULL || (b = io_new(sv[1])) == NULL)
		bail("socketpair");
	io_set_timeout(a, 5000);
	io_set_timeout(b, 5000);
	ok(!xsasl_layer_active(a), "no layer at first");
	ok(xsasl_layer_start(a, &c) == 0 && xsasl_layer_active(a),
	    "layer started");
	for (n = 0; n < sizeof(big); n++)
		big[n] = (unsigned char)(n * 7 + n / 251);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		/* The peer: decode what a writes, answer in packets. */
		struct xsasl_codec pc = { toy_encode, toy_decode, &peer,
		    SASL_LAYER_CHUNK };
		static const char msg[] = "line one\r\nline two\r\n";
		const void *enc;

		io_free(a);
		if (xsasl_layer_start(b, &pc) != 0 ||
		    io_read_full(b, back, sizeof(back)) != IO_OK ||
		    memcmp(back, big, sizeof(big)) != 0)
			_exit(1);
		/* Split one packet across many writes, byte by byte. */
		pc.encode(&peer, msg, sizeof(msg) - 1, &enc, &n, line,
		    sizeof(line));
		for (got = 0; got < n; got++)
			if (write(sv[1], (const unsigned char *)enc + got, 1) !=
			    1)
				_exit(2);
		_exit(0);
	}
	io_free(b);
	ok(io_write(a, big, sizeof(big)) == IO_OK && io_flush(a) == IO_OK,
	    "200000 bytes written through the layer");
	ok(mine.maxseen > 0 && mine.maxseen <= 1000,
	    "no packet over the peer's maximum (%zu)", mine.maxseen);
	ok(io_readline(a, line, sizeof(line), &n) == IO_OK &&
	    strcmp(line, "line one") == 0, "a line from a packet that came "
	    "a byte at a time");
	ok(io_pending(a) > 0, "the second line is pending, decoded");
	ok(io_readline(a, line, sizeof(line), &n) == IO_OK &&
	    strcmp(line, "line two") == 0, "and reads");
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the peer decoded every "
	    "byte intact (status %d)", st);
	is_int(io_readline(a, line, sizeof(line), &n), IO_EOF,
	    "EOF through the layer");
	io_free(a);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 ||
	    (a = io_new(sv[0])) == NULL)
		bail("socketpair");
	memset(&mine, 0, sizeof(mine));
	mine.fail = 1;
	ok(xsasl_layer_start(a, &c) == 0, "a layer over a bad peer");
	ok(write(sv[1], "garbage", 7) == 7, "the peer sends garbage");
	ok(io_readline(a, line, sizeof(line), &n) == IO_ERROR &&
	    strstr(io_error(a), "toy: bad packet") != NULL,
	    "a decode failure is an error with the codec's message");
	io_free(a);
	close(sv[1]);
}

/* The caller's password check: "right" for alice; "kdc-down" a fault. */
static int checks;
static char checked_user[64];

static int
check(void *arg, const char *user, const char *pass, size_t passlen,
    char *err, size_t errlen)
{
	(void)arg;
	checks++;
	(void)util_strlcpy(checked_user, user, sizeof(checked_user));
	if (passlen == 8 && memcmp(pass, "kdc-down", 8) == 0) {
		(void)util_strlcpy(err, "no KDC answered", errlen);
		return KP_TEMP;
	}
	if (strcmp(user, "alice") == 0 && passlen == 5 &&
	    memcmp(pass, "right", 5) == 0)
		return KP_OK;
	(void)util_strlcpy(err, "Password incorrect", errlen);
	return KP_AUTH;
}

/* A server connection for PLAIN and LOGIN with check, or NULL. */
static struct xsasl_server *
server(void)
{
	struct xsasl_server_opts o;
	struct xsasl_server *s;
	char err[256];

	memset(&o, 0, sizeof(o));
	o.service = "pop";
	o.hostname = "localhost";
	o.mechs = "PLAIN LOGIN";
	o.pwcheck = "saslauthd";	/* never reached: check decides */
	o.checkpass = check;
	if ((s = xsasl_server_new(&o, err, sizeof(err))) == NULL)
		diag("%s", err);
	return s;
}

/* One PLAIN exchange with the initial response msg (len bytes). */
static int
plain(const char *msg, size_t len, struct xsasl_server **sp)
{
	const void *out;
	size_t outlen;

	if ((*sp = server()) == NULL)
		return -99;
	return xsasl_server_start(*sp, "PLAIN", msg, len, 1, &out, &outlen);
}

static void
test_checkpass(void)
{
	struct xsasl_server *s;
	const void *out;
	size_t outlen;
	int r;

	checks = 0;
	is_int(plain("\0alice\0right", 12, &s), KP_OK, "PLAIN: checkpass "
	    "says yes");
	is_int(checks, 1, "checkpass asked once");
	is_string("alice", checked_user, "for the authentication identity");
	is_string("alice", xsasl_server_user(s), "logged in as alice");
	xsasl_server_free(s);
	is_int(plain("\0alice\0wrong", 12, &s), KP_AUTH, "PLAIN: checkpass "
	    "says no: KP_AUTH, no other check tried");
	is_string("Password incorrect", xsasl_server_error(s),
	    "with checkpass's words");
	xsasl_server_free(s);
	is_int(plain("\0alice\0kdc-down", 15, &s), KP_TEMP, "PLAIN: "
	    "checkpass cannot check: KP_TEMP");
	is_string("no KDC answered", xsasl_server_error(s), "and why");
	xsasl_server_free(s);
	is_int(plain("alice\0alice\0right", 17, &s), KP_OK, "authzid = "
	    "authcid: yes");
	xsasl_server_free(s);
	is_int(plain("bob\0alice\0right", 15, &s), KP_AUTH, "authzid bob, "
	    "no proxy policy: KP_AUTH");
	xsasl_server_free(s);

	/* LOGIN: the user name, then the password, each asked for. */
	if ((s = server()) == NULL)
		return;
	r = xsasl_server_start(s, "LOGIN", NULL, 0, 0, &out, &outlen);
	ok(r == KP_MORE && outlen == 9 && memcmp(out, "Username:", 9) == 0,
	    "LOGIN asks for the user name");
	r = xsasl_server_step(s, "alice", 5, &out, &outlen);
	ok(r == KP_MORE && outlen == 9 && memcmp(out, "Password:", 9) == 0,
	    "then the password");
	is_int(xsasl_server_step(s, "right", 5, &out, &outlen), KP_OK,
	    "LOGIN: checkpass says yes");
	is_string("alice", xsasl_server_user(s), "logged in as alice");
	xsasl_server_free(s);
}

int
main(void)
{
	char enc[64], out[64], big[12000], big64[XSASL_B64_SIZE(12000)];
	char back[12001];
	size_t n, i;

	plan_lazy();
	for (i = 0; i < KP_NELEM(vectors); i++) {
		size_t plen = strlen(vectors[i].plain);

		ok(xsasl_b64_encode(vectors[i].plain, plen, enc, sizeof(enc),
		    &n) == 0 && strcmp(enc, vectors[i].b64) == 0 &&
		    n == strlen(vectors[i].b64), "encode '%s'",
		    vectors[i].plain);
		ok(dec(vectors[i].b64, out, sizeof(out), &n) == 0 &&
		    n == plen && memcmp(out, vectors[i].plain, n) == 0,
		    "decode '%s'", vectors[i].b64);
	}
	is_int(dec("Zm9", out, sizeof(out), &n), -1, "not a whole quantum");
	is_int(dec("Zm9v!A==", out, sizeof(out), &n), -1, "bad character");
	is_int(dec("Zm 9", out, sizeof(out), &n), -1, "blank inside");
	is_int(dec("Zg==Zg==", out, sizeof(out), &n), -1,
	    "data after padding");
	is_int(dec("=Zg=", out, sizeof(out), &n), -1, "padding first");
	is_int(xsasl_b64_decode("Zg\0=", 4, out, sizeof(out), &n), -1, "NUL");
	is_int(dec("Zm9vYmFy", out, 3, &n), -1, "output does not fit");
	is_int(xsasl_b64_encode("foobar", 6, enc, 8, &n), -1,
	    "encode buffer too small");

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 131 + 7);
	ok(xsasl_b64_encode(big, sizeof(big), big64, sizeof(big64), &n) == 0 &&
	    n == 16000, "12000 binary bytes encode to 16000 characters");
	ok(xsasl_b64_decode(big64, n, back, sizeof(back), &n) == 0 &&
	    n == sizeof(big) && memcmp(back, big, n) == 0 && back[n] == '\0',
	    "and decode back intact, NUL-terminated");
	is_int(xsasl_b64_decode(big64, 16000, back, sizeof(big), &n), -1,
	    "no room for the NUL");
	signal(SIGPIPE, SIG_IGN);
	test_layer();
	test_checkpass();
#ifdef SASL_T_ASAN
	/*
	 * Now, while Cyrus SASL's plugins are loaded: libsasl2 unloads them
	 * at exit, and the GS2 plugin's own leak (tests/lsan.supp) would
	 * then come from an unknown module that no suppression names.
	 */
	__lsan_do_leak_check();
#endif
	return 0;
}
