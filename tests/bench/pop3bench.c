/* SPDX-License-Identifier: MIT */
/*
 * tests/bench/pop3bench.c: the load generator of kpop's benchmark.
 * tests/bench/run drives it against kpopd and Dovecot; tests/bench/README
 * says what each figure means.
 *
 * It speaks POP3 to a server on loopback and measures one figure per
 * run, printed as one line "RESULT key=value ..." on stdout (problems go
 * to stderr, and the exit status is 1 if anything failed):
 *
 *   session  C clients, each looping connect, greeting, login, STAT, QUIT
 *            for a bounded time: sessions/s and p50/p99 latency.  Logins
 *            by USER/PASS, AUTH PLAIN or AUTH GSSAPI (RFC 4752: every
 *            session runs its own gss_init_sec_context on the service
 *            ticket an untimed first login put into the ccache, so the
 *            KDC is not in the loop), optionally after STLS.
 *   retr     one session downloading a whole maildrop with up to N RETR
 *            commands in flight (PIPELINING), checking every LIST size
 *            and every message's SHA-256 against a manifest.
 *   open     login to STAT reply, repeated: the first after the maildrop
 *            was made (no index or cache yet), then warm.
 *   idle     N authenticated sessions held open until a line arrives on
 *            stdin, so that the driver can read the server's memory.
 *   many     the same with thousands of sessions; then, while they are
 *            all open, the latency of new connections to their greeting,
 *            and then every session's RETR 1 (verified) and QUIT.
 *   ceiling  the manifest's files served by a plain read/write loop over
 *            loopback, or through the same TLS code, by a child process:
 *            what this machine can move at all.
 *
 * Only 127.0.0.1 and ::1 are ever connected to.  Every loop is bounded in
 * count and time; every wait for the server has a deadline.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "common/io.h"
#include "common/limits.h"
#include "common/pop3.h"
#include "common/sasl.h"
#include "common/tls.h"
#include "common/util.h"

/* ---- bounds, each with its reason ---- */

/* Client threads in session mode: far past what 2 cores can drive. */
#define PB_CLIENTS_MAX		256
/* Any timed phase, and the idle hold, in seconds. */
#define PB_SECONDS_MAX		600
/* Latencies kept for one session run (a million is ~8 MB). */
#define PB_SESSIONS_MAX		(1000 * 1000)
/* Failed sessions after which a client thread gives up. */
#define PB_ERRORS_MAX		50
/* Lines in a credentials file, and in a manifest. */
#define PB_CREDS_MAX		16384
#define PB_MSGS_MAX		(2 * 1000 * 1000)
/* A credentials or manifest line (a path is at most PATH_MAX-ish). */
#define PB_FILE_LINE_MAX	4200
/* RETR commands in flight. */
#define PB_DEPTH_MAX		1024
/* Sessions held open in idle mode (each is a socket). */
#define PB_IDLE_MAX		1000
/* Sessions held in many mode, and its probes of new connections. */
#define PB_MANY_MAX		10000
#define PB_PROBES_MAX		10000
/* Between two probes: 500 of them take about 5 s. */
#define PB_PROBE_GAP_MS		10
/* Logins in one open run. */
#define PB_REPEAT_MAX		100
/* Milliseconds any one wait for the server may take. */
#define PB_TIMEOUT_MS		60000
/*
 * A server line we accept: status lines are at most 512 octets (RFC 2449
 * s.4); a GSSAPI challenge is a few hundred octets of base64.
 */
#define PB_RESP_LINE_MAX	8192
/* Read buffers: small for many sessions, large for throughput. */
#define PB_RBUF_SMALL		(16 * 1024)
#define PB_RBUF_LARGE		(256 * 1024)
/* The largest message a RETR may bring (no maildrop here is near it). */
#define PB_MSG_MAX		(1ULL << 30)
/* Steps of one SASL exchange (GSSAPI needs three). */
#define PB_SASL_STEPS		8
/* Bytes collected before they go to SHA-256 (it is fast on big blocks). */
#define PB_HASH_BUF		(64 * 1024)
/* Copy block of the ceiling server. */
#define PB_COPY_BLOCK		(128 * 1024)

#define SHA256_LEN		32

enum pb_auth { PB_AUTH_USER, PB_AUTH_PLAIN, PB_AUTH_GSSAPI };

/* What one client thread keeps for GSSAPI: its credential and target. */
struct pb_gss {
	gss_cred_id_t	 cred;
	gss_name_t	 target;
};

struct pb_cred {
	char		*user;
	char		*pass;
	char		*ccache;	/* for GSSAPI, or NULL: the default */
	struct pb_gss	 gss;		/* its GSSAPI state, once set up */
	int		 gss_ready;
};

struct pb_msg {
	unsigned long long	 octets;
	unsigned char		 sha[SHA256_LEN];
	char			*path;
	int			 used;
};

/* What every mode shares, from the command line. */
struct pb_opts {
	const char	*host;
	unsigned	 port;
	enum pb_auth	 auth;
	int		 stls;
	const char	*cafile;
	const char	*certfile, *keyfile;	/* ceiling over TLS */
	const char	*creds_file;
	const char	*manifest;
	unsigned	 clients;
	unsigned	 seconds;
	unsigned	 depth;
	unsigned	 count;		/* idle sessions, open repeats */
	unsigned	 probes;	/* many: new connections timed */
	long long	 expect;	/* open: messages STAT must report */
	const char	*service;	/* GSSAPI: service@host */
};

static struct pb_opts	 opt;
static struct pb_cred	*creds;
static size_t		 ncreds;
static SSL_CTX		*client_tls;

/* ---- small helpers ---- */

static int64_t
pb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void pb_die(const char *, ...) KP_PRINTF(1, 2)
    __attribute__((__noreturn__));

static void
pb_die(const char *fmt, ...)
{
	va_list ap;

	fputs("pop3bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double
pb_client_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return -1;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static unsigned
pb_uint_arg(const char *s, unsigned long long min, unsigned long long max,
    const char *what)
{
	unsigned long long v;

	if (util_parse_uint(s, strlen(s), max, &v) == -1 || v < min)
		pb_die("%s: '%s' is not a number from %llu to %llu", what, s,
		    min, max);
	return (unsigned)v;
}

static int
pb_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of n sorted values, nearest rank. */
static double
pb_quantile(const double *v, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(q * (double)n + 0.999999);
	if (i < 1)
		i = 1;
	if (i > n)
		i = n;
	return v[i - 1];
}

/*
 * Split line into at most max blank-separated words, in place.  Returns
 * the number of words.
 */
static size_t
pb_words(char *line, char **w, size_t max)
{
	size_t n = 0;
	char *p = line;

	while (n < max) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '\n' || *p == '#')
			break;
		w[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		if (*p == '\0')
			break;
		*p++ = '\0';
	}
	return n;
}

/* Open path and hand each line (bounded) to fn; dies on trouble. */
static void
pb_read_lines(const char *path, size_t maxlines,
    void (*fn)(char *, const char *, unsigned long))
{
	char line[PB_FILE_LINE_MAX];
	unsigned long lineno = 0;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		pb_die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f))
			pb_die("%s:%lu: line too long", path, lineno);
		if (lineno > maxlines)
			pb_die("%s: more than %zu lines", path, maxlines);
		fn(line, path, lineno);
	}
	if (ferror(f))
		pb_die("%s: read error", path);
	fclose(f);
}

/* A credentials line: "user password [ccache]". */
static void
pb_cred_line(char *line, const char *path, unsigned long lineno)
{
	char *w[3];
	size_t n;
	struct pb_cred *c;

	n = pb_words(line, w, 3);
	if (n == 0)
		return;
	if (n < 2)
		pb_die("%s:%lu: want 'user password [ccache]'", path, lineno);
	c = &creds[ncreds++];
	if ((c->user = strdup(w[0])) == NULL ||
	    (c->pass = strdup(w[1])) == NULL ||
	    (n == 3 && (c->ccache = strdup(w[2])) == NULL))
		pb_die("out of memory");
}

static void
pb_load_creds(void)
{
	if (opt.creds_file == NULL)
		pb_die("-U credentials file missing");
	if ((creds = calloc(PB_CREDS_MAX, sizeof(*creds))) == NULL)
		pb_die("out of memory");
	pb_read_lines(opt.creds_file, PB_CREDS_MAX, pb_cred_line);
	if (ncreds == 0)
		pb_die("%s: no credentials", opt.creds_file);
}

static struct pb_msg	*manifest;
static size_t		 nmanifest;

/* A manifest line: "octets sha256-hex [path]". */
static void
pb_manifest_line(char *line, const char *path, unsigned long lineno)
{
	char *w[3];
	size_t n, i;
	struct pb_msg *m;
	int hi, lo;

	n = pb_words(line, w, 3);
	if (n == 0)
		return;
	m = &manifest[nmanifest];
	if (n < 2 || util_parse_uint(w[0], strlen(w[0]), PB_MSG_MAX,
	    &m->octets) == -1 || strlen(w[1]) != 2 * SHA256_LEN)
		pb_die("%s:%lu: want 'octets sha256 [path]'", path, lineno);
	for (i = 0; i < SHA256_LEN; i++) {
		hi = util_xdigit((unsigned char)w[1][2 * i]);
		lo = util_xdigit((unsigned char)w[1][2 * i + 1]);
		if (hi < 0 || lo < 0)
			pb_die("%s:%lu: bad digest", path, lineno);
		m->sha[i] = (unsigned char)(hi << 4 | lo);
	}
	if (n == 3 && (m->path = strdup(w[2])) == NULL)
		pb_die("out of memory");
	nmanifest++;
}

static void
pb_load_manifest(void)
{
	if (opt.manifest == NULL)
		pb_die("-m manifest missing");
	if ((manifest = calloc(PB_MSGS_MAX, sizeof(*manifest))) == NULL)
		pb_die("out of memory");
	pb_read_lines(opt.manifest, PB_MSGS_MAX, pb_manifest_line);
	if (nmanifest == 0)
		pb_die("%s: no messages", opt.manifest);
}

/* ---- connections ---- */

/*
 * Connect to opt.host:opt.port (a loopback address, checked at start)
 * within the deadline.  Returns the descriptor or -1 with err set.
 */
static int
pb_connect(char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct pollfd pfd;
	socklen_t len;
	int fd, one = 1, soerr = 0, r;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, opt.host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)opt.port);
		len = sizeof(*sin);
	} else {
		if (inet_pton(AF_INET6, opt.host, &sin6->sin6_addr) != 1)
			pb_die("%s: not an address", opt.host);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)opt.port);
		len = sizeof(*sin6);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		util_snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, len) == -1) {
		if (errno != EINPROGRESS) {
			util_snprintf(err, errlen, "connect: %s",
			    strerror(errno));
			goto fail;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do {
			r = poll(&pfd, 1, PB_TIMEOUT_MS);
		} while (r == -1 && errno == EINTR);
		len = sizeof(soerr);
		if (r != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
		    &len) == -1 || soerr != 0) {
			util_snprintf(err, errlen, "connect: %s", r == 0 ?
			    "timed out" : strerror(soerr != 0 ? soerr : errno));
			goto fail;
		}
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* A POP3 connection: an io, and our own read buffer over it. */
struct pb_conn {
	struct io	*io;
	unsigned char	*rbuf;
	size_t		 rsize, rpos, rlen;
	char		 err[ERR_MSG_MAX];
};

static void
pb_close(struct pb_conn *c)
{
	io_free(c->io);
	free(c->rbuf);
	c->io = NULL;
	c->rbuf = NULL;
}

/* Connect c with a read buffer of rsize bytes.  Returns 0 or -1. */
static int
pb_open(struct pb_conn *c, size_t rsize)
{
	int fd;

	memset(c, 0, sizeof(*c));
	if ((fd = pb_connect(c->err, sizeof(c->err))) == -1)
		return -1;
	if ((c->io = io_new(fd)) == NULL) {
		close(fd);
		util_snprintf(c->err, sizeof(c->err), "io_new failed");
		return -1;
	}
	io_set_timeout(c->io, PB_TIMEOUT_MS);
	c->rsize = rsize;
	if ((c->rbuf = malloc(rsize)) == NULL) {
		pb_close(c);
		util_snprintf(c->err, sizeof(c->err), "out of memory");
		return -1;
	}
	return 0;
}

static int
pb_io_fail(struct pb_conn *c, int st, const char *what)
{
	util_snprintf(c->err, sizeof(c->err), "%s: %s", what,
	    st == IO_EOF ? "the server closed the connection" :
	    io_error(c->io));
	return -1;
}

/* Read more into the buffer, keeping unread bytes.  Returns 0 or -1. */
static int
pb_fill(struct pb_conn *c)
{
	size_t got;
	int st;

	if (c->rpos == c->rlen) {
		c->rpos = c->rlen = 0;
	} else if (c->rpos > 0 && c->rlen == c->rsize) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	if (c->rlen == c->rsize) {
		util_snprintf(c->err, sizeof(c->err), "read buffer full");
		return -1;
	}
	st = io_read(c->io, c->rbuf + c->rlen, c->rsize - c->rlen, &got);
	if (st != IO_OK)
		return pb_io_fail(c, st, "read");
	c->rlen += got;
	return 0;
}

/*
 * Read one line (without CR LF) into buf of size bytes.  Returns its
 * length, or -1.
 */
static long
pb_line(struct pb_conn *c, char *buf, size_t size)
{
	unsigned char *nl;
	size_t len;

	for (;;) {
		nl = memchr(c->rbuf + c->rpos, '\n', c->rlen - c->rpos);
		if (nl != NULL) {
			len = (size_t)(nl - (c->rbuf + c->rpos));
			if (len > 0 && nl[-1] == '\r')
				len--;
			if (len >= size)
				break;
			memcpy(buf, c->rbuf + c->rpos, len);
			buf[len] = '\0';
			c->rpos = (size_t)(nl - c->rbuf) + 1;
			return (long)len;
		}
		if (c->rlen - c->rpos >= size)
			break;
		if (pb_fill(c) == -1)
			return -1;
	}
	util_snprintf(c->err, sizeof(c->err), "server line longer than %zu",
	    size - 1);
	return -1;
}

static int pb_send(struct pb_conn *, const char *, ...) KP_PRINTF(2, 3);

/* Send one command line (fmt without CRLF) now.  Returns 0 or -1. */
static int
pb_send(struct pb_conn *c, const char *fmt, ...)
{
	va_list ap;
	int st;

	va_start(ap, fmt);
	st = io_vprintf(c->io, fmt, ap);
	va_end(ap);
	if (st == IO_OK)
		st = io_puts(c->io, "\r\n");
	if (st == IO_OK)
		st = io_flush(c->io);
	return st == IO_OK ? 0 : pb_io_fail(c, st, "write");
}

enum { PB_R_OK = 0, PB_R_CONT = 1, PB_R_ERR = -1, PB_R_FAIL = -2 };

/*
 * Read a response line.  Returns PB_R_OK, PB_R_CONT (then *text and
 * *textlen are the base64 after "+ ", in line), PB_R_ERR (a -ERR, in
 * c->err) or PB_R_FAIL (I/O or protocol trouble, in c->err).
 */
static int
pb_resp(struct pb_conn *c, const char *what, char *line, size_t size,
    const char **text, size_t *textlen)
{
	struct pop3_resp r;
	long len;

	if ((len = pb_line(c, line, size)) < 0)
		return PB_R_FAIL;
	if (pop3_parse_resp(line, (size_t)len, &r) == -1) {
		util_snprintf(c->err, sizeof(c->err), "%s: not a response: "
		    "%.60s", what, line);
		return PB_R_FAIL;
	}
	if (text != NULL) {
		*text = r.text;
		*textlen = r.textlen;
	}
	switch (r.status) {
	case POP3_OK:
		return PB_R_OK;
	case POP3_CONT:
		return PB_R_CONT;
	case POP3_ERR:
		break;
	}
	util_snprintf(c->err, sizeof(c->err), "%s: %.200s", what, line);
	return PB_R_ERR;
}

/* Expect +OK.  Returns 0 or -1. */
static int
pb_ok(struct pb_conn *c, const char *what)
{
	char line[PB_RESP_LINE_MAX];
	int r;

	r = pb_resp(c, what, line, sizeof(line), NULL, NULL);
	if (r == PB_R_CONT)
		util_snprintf(c->err, sizeof(c->err), "%s: unexpected "
		    "continuation", what);
	return r == PB_R_OK ? 0 : -1;
}

/*
 * Send a SASL response: base64 of len bytes at data (an empty line for
 * none), or on the AUTH line as its initial response when prefix is not
 * NULL and the line stays within RFC 2449's 255 octets.  Returns 1 if
 * sent as the initial response, 0 if sent alone (or AUTH went bare and
 * the data waits for the "+ "), -1 on failure.
 */
static int
pb_sasl_send(struct pb_conn *c, const char *prefix, const void *data,
    size_t len)
{
	char *b64;
	size_t blen, size = XSASL_B64_SIZE(len);
	int st = IO_OK, rv = -1;

	if ((b64 = malloc(size)) == NULL) {
		util_snprintf(c->err, sizeof(c->err), "out of memory");
		return -1;
	}
	if (xsasl_b64_encode(data, len, b64, size, &blen) == -1) {
		util_snprintf(c->err, sizeof(c->err), "base64 failed");
		goto out;
	}
	if (prefix != NULL) {
		if (strlen(prefix) + 1 + blen + 2 > POP3_CMD_MAX) {
			rv = pb_send(c, "%s", prefix);
			goto out;
		}
		st = io_puts(c->io, prefix);
		if (st == IO_OK)
			st = io_puts(c->io, " ");
	}
	if (st == IO_OK)
		st = io_write(c->io, b64, blen);
	if (st == IO_OK)
		st = io_puts(c->io, "\r\n");
	if (st == IO_OK)
		st = io_flush(c->io);
	if (st != IO_OK) {
		pb_io_fail(c, st, "write");
		goto out;
	}
	rv = prefix != NULL ? 1 : 0;
out:
	free(b64);
	return rv;
}

/* ---- GSSAPI (RFC 4752) ---- */

static void
pb_gss_err(char *err, size_t errlen, const char *what, OM_uint32 maj,
    OM_uint32 min)
{
	OM_uint32 lmin, mctx = 0;
	gss_buffer_desc b1 = GSS_C_EMPTY_BUFFER, b2 = GSS_C_EMPTY_BUFFER;

	(void)gss_display_status(&lmin, maj, GSS_C_GSS_CODE, GSS_C_NO_OID,
	    &mctx, &b1);
	mctx = 0;
	if (min != 0)
		(void)gss_display_status(&lmin, min, GSS_C_MECH_CODE,
		    GSS_C_NO_OID, &mctx, &b2);
	util_snprintf(err, errlen, "%s: %.*s%s%.*s", what, (int)b1.length,
	    b1.value != NULL ? (char *)b1.value : "", b2.length > 0 ?
	    ": " : "", (int)b2.length, b2.value != NULL ?
	    (char *)b2.value : "");
	(void)gss_release_buffer(&lmin, &b1);
	(void)gss_release_buffer(&lmin, &b2);
}

/*
 * Set up GSSAPI for a client using ccache (NULL: the default).  Returns 0
 * or -1 with err set.
 */
static int
pb_gss_init(struct pb_gss *g, const char *ccache, char *err, size_t errlen)
{
	OM_uint32 maj, min;
	gss_buffer_desc nb;
	gss_key_value_element_desc el;
	gss_key_value_set_desc store;
	gss_OID_desc krb5oid = *gss_mech_krb5;
	gss_OID_set_desc mechs = { 1, &krb5oid };
	char name[256];

	g->cred = GSS_C_NO_CREDENTIAL;
	g->target = GSS_C_NO_NAME;
	if (util_strlcpy(name, opt.service, sizeof(name)) == -1) {
		util_snprintf(err, errlen, "service name too long");
		return -1;
	}
	nb.value = name;
	nb.length = strlen(name);
	maj = gss_import_name(&min, &nb, GSS_C_NT_HOSTBASED_SERVICE,
	    &g->target);
	if (GSS_ERROR(maj)) {
		pb_gss_err(err, errlen, "gss_import_name", maj, min);
		return -1;
	}
	if (ccache == NULL)
		return 0;
	el.key = "ccache";
	el.value = ccache;
	store.count = 1;
	store.elements = &el;
	maj = gss_acquire_cred_from(&min, GSS_C_NO_NAME, GSS_C_INDEFINITE,
	    &mechs, GSS_C_INITIATE, &store, &g->cred, NULL, NULL);
	if (GSS_ERROR(maj)) {
		pb_gss_err(err, errlen, "gss_acquire_cred_from", maj, min);
		return -1;
	}
	return 0;
}

static void
pb_gss_free(struct pb_gss *g)
{
	OM_uint32 min;

	if (g->cred != GSS_C_NO_CREDENTIAL)
		(void)gss_release_cred(&min, &g->cred);
	if (g->target != GSS_C_NO_NAME)
		(void)gss_release_name(&min, &g->target);
}

/*
 * AUTH GSSAPI: security context, then RFC 4752's last step (take the
 * server's offer, choose no security layer, no authorization identity).
 * Returns 0 or -1 with c->err set.
 */
static int
pb_auth_gssapi(struct pb_conn *c, struct pb_gss *g)
{
	OM_uint32 maj, min, lmin;
	gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
	gss_buffer_desc in = GSS_C_EMPTY_BUFFER, out = GSS_C_EMPTY_BUFFER;
	gss_buffer_desc wrapped = GSS_C_EMPTY_BUFFER;
	unsigned char tok[SASL_TOKEN_MAX + 1], reply[4];
	char line[PB_RESP_LINE_MAX];
	const char *text;
	size_t textlen, toklen;
	int step, r, complete, pending, conf, rv = -1;
	const OM_uint32 flags = GSS_C_MUTUAL_FLAG | GSS_C_SEQUENCE_FLAG |
	    GSS_C_INTEG_FLAG;

	maj = gss_init_sec_context(&min, g->cred, &ctx, g->target,
	    gss_mech_krb5, flags, 0, GSS_C_NO_CHANNEL_BINDINGS,
	    GSS_C_NO_BUFFER, NULL, &out, NULL, NULL);
	if (GSS_ERROR(maj)) {
		pb_gss_err(c->err, sizeof(c->err), "gss_init_sec_context",
		    maj, min);
		goto out;
	}
	complete = maj == GSS_S_COMPLETE;
	r = pb_sasl_send(c, "AUTH GSSAPI", out.value, out.length);
	if (r == -1)
		goto out;
	/* Token not sent yet: it goes after the server's empty "+ ". */
	pending = r == 0;
	for (step = 0; step < PB_SASL_STEPS; step++) {
		r = pb_resp(c, "AUTH GSSAPI", line, sizeof(line), &text,
		    &textlen);
		if (r == PB_R_OK && wrapped.length > 0) {
			rv = 0;
			goto out;
		}
		if (r == PB_R_OK) {
			util_snprintf(c->err, sizeof(c->err), "AUTH GSSAPI: "
			    "+OK before the exchange was over");
			goto out;
		}
		if (r != PB_R_CONT)
			goto out;
		toklen = 0;
		if (textlen > 0 && xsasl_b64_decode(text, textlen, tok,
		    sizeof(tok), &toklen) == -1) {
			util_snprintf(c->err, sizeof(c->err), "AUTH GSSAPI: "
			    "bad base64 from the server");
			goto out;
		}
		if (pending) {
			if (toklen != 0) {
				util_snprintf(c->err, sizeof(c->err), "AUTH "
				    "GSSAPI: data in the first challenge");
				goto out;
			}
			if (pb_sasl_send(c, NULL, out.value, out.length) == -1)
				goto out;
			pending = 0;
			continue;
		}
		if (wrapped.length > 0) {
			util_snprintf(c->err, sizeof(c->err), "AUTH GSSAPI: "
			    "a challenge after the last step");
			goto out;
		}
		if (!complete) {
			(void)gss_release_buffer(&lmin, &out);
			in.value = tok;
			in.length = toklen;
			maj = gss_init_sec_context(&min, g->cred, &ctx,
			    g->target, gss_mech_krb5, flags, 0,
			    GSS_C_NO_CHANNEL_BINDINGS, &in, NULL, &out, NULL,
			    NULL);
			if (GSS_ERROR(maj)) {
				pb_gss_err(c->err, sizeof(c->err),
				    "gss_init_sec_context", maj, min);
				goto out;
			}
			complete = maj == GSS_S_COMPLETE;
			if (pb_sasl_send(c, NULL, out.value, out.length) == -1)
				goto out;
			continue;
		}
		/* The server's offer: layers it supports, its max buffer. */
		in.value = tok;
		in.length = toklen;
		(void)gss_release_buffer(&lmin, &out);
		maj = gss_unwrap(&min, ctx, &in, &out, &conf, NULL);
		if (GSS_ERROR(maj)) {
			pb_gss_err(c->err, sizeof(c->err), "gss_unwrap", maj,
			    min);
			goto out;
		}
		if (out.length != 4 ||
		    (((const unsigned char *)out.value)[0] & 1) == 0) {
			util_snprintf(c->err, sizeof(c->err), "AUTH GSSAPI: "
			    "the server does not offer 'no security layer'");
			goto out;
		}
		reply[0] = 1;
		reply[1] = reply[2] = reply[3] = 0;
		in.value = reply;
		in.length = sizeof(reply);
		maj = gss_wrap(&min, ctx, 0, GSS_C_QOP_DEFAULT, &in, NULL,
		    &wrapped);
		if (GSS_ERROR(maj)) {
			pb_gss_err(c->err, sizeof(c->err), "gss_wrap", maj,
			    min);
			goto out;
		}
		if (pb_sasl_send(c, NULL, wrapped.value, wrapped.length) == -1)
			goto out;
	}
	util_snprintf(c->err, sizeof(c->err), "AUTH GSSAPI: more than %d "
	    "steps", PB_SASL_STEPS);
out:
	(void)gss_release_buffer(&lmin, &out);
	(void)gss_release_buffer(&lmin, &wrapped);
	if (ctx != GSS_C_NO_CONTEXT)
		(void)gss_delete_sec_context(&lmin, &ctx, GSS_C_NO_BUFFER);
	return rv;
}

/* ---- logging in ---- */

/* AUTH PLAIN with an initial response (RFC 4616).  Returns 0 or -1. */
static int
pb_auth_plain(struct pb_conn *c, const struct pb_cred *cr)
{
	char buf[2 * 256 + 2], line[PB_RESP_LINE_MAX];
	const char *text;
	size_t ul = strlen(cr->user), pl = strlen(cr->pass), textlen;
	int r;

	if (ul > 255 || pl > 255) {
		util_snprintf(c->err, sizeof(c->err), "user or password too "
		    "long");
		return -1;
	}
	buf[0] = '\0';
	memcpy(buf + 1, cr->user, ul);
	buf[1 + ul] = '\0';
	memcpy(buf + 2 + ul, cr->pass, pl);
	r = pb_sasl_send(c, "AUTH PLAIN", buf, 2 + ul + pl);
	if (r == 0) {
		r = pb_resp(c, "AUTH PLAIN", line, sizeof(line), &text,
		    &textlen);
		if (r != PB_R_CONT)
			return -1;
		r = pb_sasl_send(c, NULL, buf, 2 + ul + pl);
	}
	util_wipe(buf, sizeof(buf));
	if (r == -1)
		return -1;
	return pb_ok(c, "AUTH PLAIN");
}

/* Greeting, STLS when asked, login.  Returns 0 or -1 with c->err set. */
static int
pb_login(struct pb_conn *c, const struct pb_cred *cr, struct pb_gss *g,
    int64_t *t_auth)
{
	int st;

	if (pb_ok(c, "greeting") == -1)
		return -1;
	if (opt.stls) {
		if (pb_send(c, "STLS") == -1 || pb_ok(c, "STLS") == -1)
			return -1;
		if (c->rpos != c->rlen) {
			util_snprintf(c->err, sizeof(c->err), "plaintext "
			    "after the STLS reply");
			return -1;
		}
		st = tls_start(c->io, client_tls, TLS_CLIENT, opt.host);
		if (st != IO_OK)
			return pb_io_fail(c, st, "TLS");
	}
	if (t_auth != NULL)
		*t_auth = pb_now_ns();
	switch (opt.auth) {
	case PB_AUTH_USER:
		if (pb_send(c, "USER %s", cr->user) == -1 ||
		    pb_ok(c, "USER") == -1 ||
		    pb_send(c, "PASS %s", cr->pass) == -1 ||
		    pb_ok(c, "PASS") == -1)
			return -1;
		return 0;
	case PB_AUTH_PLAIN:
		return pb_auth_plain(c, cr);
	case PB_AUTH_GSSAPI:
		return pb_auth_gssapi(c, g);
	}
	return -1;
}

/*
 * STAT: returns 0 with the count and size, or -1.
 */
static int
pb_stat(struct pb_conn *c, unsigned long long *n, unsigned long long *sz)
{
	char line[PB_RESP_LINE_MAX];
	const char *text, *sp;
	size_t textlen;

	if (pb_send(c, "STAT") == -1)
		return -1;
	if (pb_resp(c, "STAT", line, sizeof(line), &text, &textlen) !=
	    PB_R_OK)
		return -1;
	if ((sp = memchr(text, ' ', textlen)) == NULL ||
	    util_parse_uint(text, (size_t)(sp - text), PB_MSGS_MAX, n) ==
	    -1 || util_parse_uint(sp + 1, strcspn(sp + 1, " "), MD_SIZE_MAX,
	    sz) == -1) {
		util_snprintf(c->err, sizeof(c->err), "STAT: bad reply %.60s",
		    line);
		return -1;
	}
	return 0;
}

static int
pb_quit(struct pb_conn *c)
{
	if (pb_send(c, "QUIT") == -1)
		return -1;
	return pb_ok(c, "QUIT");
}

/* ---- session mode ---- */

/*
 * A client thread.  It logs in as each user of its own pool in turn, so
 * that no two sessions of one user ever overlap or follow each other
 * back to back (a server may keep a maildrop locked for a moment after
 * QUIT); the pools of the threads are disjoint.
 */
struct pb_worker {
	pthread_t	 th;
	struct pb_cred	**pool;
	size_t		 npool;
	double		*lat;		/* milliseconds */
	size_t		 nlat, caplat;
	unsigned long	 errors;
	int		 ready;		/* the untimed first session worked */
	char		 err[ERR_MSG_MAX];
};

static pthread_barrier_t	 pb_go;
static int64_t			 pb_deadline;

/* One session: connect, greeting, login, STAT, QUIT.  0 or -1. */
static int
pb_one_session(struct pb_worker *w, struct pb_cred *cr)
{
	struct pb_conn c;
	unsigned long long n, sz;
	int rv = -1;

	if (pb_open(&c, PB_RBUF_SMALL) == -1) {
		util_strlcpy(w->err, c.err, sizeof(w->err));
		return -1;
	}
	if (pb_login(&c, cr, &cr->gss, NULL) == 0 &&
	    pb_stat(&c, &n, &sz) == 0 && pb_quit(&c) == 0)
		rv = 0;
	else
		util_strlcpy(w->err, c.err, sizeof(w->err));
	pb_close(&c);
	return rv;
}

/*
 * The untimed first sessions: with GSSAPI one per user, which puts the
 * service ticket into each ccache; otherwise one.  Returns 0 or -1.
 */
static int
pb_warm_up(struct pb_worker *w)
{
	struct pb_cred *cr;
	size_t i;

	for (i = 0; i < w->npool; i++) {
		cr = w->pool[i];
		if (opt.auth == PB_AUTH_GSSAPI) {
			cr->gss_ready = 1;	/* pb_gss_free() either way */
			if (pb_gss_init(&cr->gss, cr->ccache, w->err,
			    sizeof(w->err)) == -1)
				return -1;
		}
		if (pb_one_session(w, cr) == -1)
			return -1;
		if (opt.auth != PB_AUTH_GSSAPI)
			break;
	}
	return 0;
}

static void *
pb_worker_main(void *arg)
{
	struct pb_worker *w = arg;
	struct pb_cred *cr;
	size_t next = 0;
	int64_t t0;
	double *nl;

	w->ready = pb_warm_up(w) == 0;
	(void)pthread_barrier_wait(&pb_go);	/* all warmed up */
	(void)pthread_barrier_wait(&pb_go);	/* the deadline is set */
	if (!w->ready)
		return NULL;
	while (pb_now_ns() < pb_deadline && w->errors < PB_ERRORS_MAX) {
		cr = w->pool[next++ % w->npool];
		t0 = pb_now_ns();
		if (pb_one_session(w, cr) == -1) {
			w->errors++;
			continue;
		}
		if (w->nlat == w->caplat) {
			if (w->caplat >= PB_SESSIONS_MAX)
				break;
			w->caplat = w->caplat == 0 ? 4096 : 2 * w->caplat;
			if ((nl = realloc(w->lat, w->caplat *
			    sizeof(*nl))) == NULL) {
				w->errors++;
				break;
			}
			w->lat = nl;
		}
		w->lat[w->nlat++] = (double)(pb_now_ns() - t0) / 1e6;
	}
	return NULL;
}

static const char *
pb_auth_name(void)
{
	switch (opt.auth) {
	case PB_AUTH_USER:
		return "user";
	case PB_AUTH_PLAIN:
		return "plain";
	case PB_AUTH_GSSAPI:
		return "gssapi";
	}
	return "?";
}

static int
pb_mode_session(void)
{
	struct pb_worker *w;
	struct pb_cred **usable;
	double *all, secs, cpu0;
	size_t total = 0, k, nusable = 0, per;
	unsigned long errors = 0;
	unsigned i, ready = 0;
	int64_t start, end;

	pb_load_creds();
	/* GSSAPI logins need a ccache each: only those lines count. */
	if ((usable = calloc(ncreds, sizeof(*usable))) == NULL)
		pb_die("out of memory");
	for (k = 0; k < ncreds; k++)
		if (opt.auth != PB_AUTH_GSSAPI || creds[k].ccache != NULL)
			usable[nusable++] = &creds[k];
	if (nusable < opt.clients)
		pb_die("%u clients need as many users; %s has %zu%s",
		    opt.clients, opt.creds_file, nusable,
		    opt.auth == PB_AUTH_GSSAPI ? " with a ccache" : "");
	per = nusable / opt.clients;
	if ((w = calloc(opt.clients, sizeof(*w))) == NULL)
		pb_die("out of memory");
	if (pthread_barrier_init(&pb_go, NULL, opt.clients + 1) != 0)
		pb_die("pthread_barrier_init failed");
	for (i = 0; i < opt.clients; i++) {
		w[i].pool = usable + (size_t)i * per;
		w[i].npool = per;
		if (pthread_create(&w[i].th, NULL, pb_worker_main, &w[i]) != 0)
			pb_die("pthread_create failed");
	}
	(void)pthread_barrier_wait(&pb_go);
	cpu0 = pb_client_cpu();
	start = pb_now_ns();
	pb_deadline = start + (int64_t)opt.seconds * 1000000000;
	(void)pthread_barrier_wait(&pb_go);
	for (i = 0; i < opt.clients; i++)
		(void)pthread_join(w[i].th, NULL);
	end = pb_now_ns();
	secs = (double)(end - start) / 1e9;
	for (i = 0; i < opt.clients; i++) {
		total += w[i].nlat;
		errors += w[i].errors;
		if (w[i].ready)
			ready++;
		else
			errors++;
		if (w[i].err[0] != '\0' && (!w[i].ready || w[i].errors > 0)) {
			fprintf(stderr, "pop3bench: client %u: %s\n", i,
			    w[i].err);
		}
	}
	if ((all = calloc(total + 1, sizeof(*all))) == NULL)
		pb_die("out of memory");
	for (i = 0, k = 0; i < opt.clients; i++) {
		if (w[i].nlat > 0)
			memcpy(all + k, w[i].lat, w[i].nlat * sizeof(*all));
		k += w[i].nlat;
	}
	qsort(all, total, sizeof(*all), pb_cmp_double);
	printf("RESULT mode=session auth=%s stls=%d clients=%u users=%zu "
	    "ready=%u "
	    "seconds=%.3f sessions=%zu errors=%lu rate=%.1f p50_ms=%.3f "
	    "p99_ms=%.3f max_ms=%.3f client_cpu_s=%.2f\n", pb_auth_name(),
	    opt.stls, opt.clients, per * opt.clients, ready, secs, total, errors,
	    (double)total / secs, pb_quantile(all, total, 0.50),
	    pb_quantile(all, total, 0.99), total > 0 ? all[total - 1] : 0.0,
	    pb_client_cpu() - cpu0);
	for (i = 0; i < opt.clients; i++)
		free(w[i].lat);
	for (k = 0; k < ncreds; k++)
		if (creds[k].gss_ready)
			pb_gss_free(&creds[k].gss);
	free(usable);
	free(w);
	free(all);
	return errors == 0 && total > 0 ? 0 : 1;
}

/* ---- retr mode ---- */

struct pb_hash {
	EVP_MD_CTX	*md;
	size_t		 n;
	unsigned char	 buf[PB_HASH_BUF];
};

static int
pb_hash_sink(void *arg, const void *p, size_t len)
{
	struct pb_hash *h = arg;

	if (h->n + len > sizeof(h->buf)) {
		if (EVP_DigestUpdate(h->md, h->buf, h->n) != 1)
			return -1;
		h->n = 0;
		if (len > sizeof(h->buf))
			return EVP_DigestUpdate(h->md, p, len) == 1 ? 0 : -1;
	}
	memcpy(h->buf + h->n, p, len);
	h->n += len;
	return 0;
}

/*
 * Read a multi-line body through the decoder into h.  Returns the
 * message octets (un-stuffed, CRLF form) or -1.
 */
static long long
pb_body(struct pb_conn *c, struct pb_hash *h)
{
	struct pop3_dec d;
	long long used;

	pop3_dec_init(&d, 0);
	while (!d.done) {
		if (c->rpos == c->rlen && pb_fill(c) == -1)
			return -1;
		used = pop3_dec_feed(&d, c->rbuf + c->rpos, c->rlen - c->rpos,
		    pb_hash_sink, h);
		if (used < 0) {
			util_snprintf(c->err, sizeof(c->err), "digest failed");
			return -1;
		}
		c->rpos += (size_t)used;
		if (d.octets > PB_MSG_MAX) {
			util_snprintf(c->err, sizeof(c->err), "a message "
			    "beyond %llu octets", PB_MSG_MAX);
			return -1;
		}
	}
	return (long long)d.octets;
}

static int
pb_cmp_msg(const void *a, const void *b)
{
	const struct pb_msg *x = a, *y = b;
	int c = memcmp(x->sha, y->sha, SHA256_LEN);

	if (c != 0)
		return c;
	return x->octets < y->octets ? -1 : x->octets > y->octets;
}

static int
pb_cmp_ull(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a;
	unsigned long long y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

/*
 * Find an unused manifest entry (sorted by digest) with this digest and
 * size and mark it used.  Returns 0, or -1 if there is none.
 */
static int
pb_claim(struct pb_msg *sorted, const unsigned char *sha,
    unsigned long long octets)
{
	struct pb_msg key, *m;

	memset(&key, 0, sizeof(key));
	memcpy(key.sha, sha, SHA256_LEN);
	key.octets = octets;
	m = bsearch(&key, sorted, nmanifest, sizeof(*sorted), pb_cmp_msg);
	if (m == NULL)
		return -1;
	/* Identical messages sit together: take the first unused one. */
	while (m > sorted && pb_cmp_msg(m - 1, &key) == 0)
		m--;
	for (; m < sorted + nmanifest && pb_cmp_msg(m, &key) == 0; m++) {
		if (!m->used) {
			m->used = 1;
			return 0;
		}
	}
	return -1;
}

/* LIST: the sizes, checked as a set against the manifest.  0 or -1. */
static int
pb_list(struct pb_conn *c, unsigned long long *sizes, size_t *n,
    unsigned long *bad)
{
	char line[PB_RESP_LINE_MAX];
	unsigned long long num, *a, *b;
	const char *p, *sp;
	size_t len, i, count = 0;
	long l;

	if (pb_send(c, "LIST") == -1 || pb_ok(c, "LIST") == -1)
		return -1;
	for (;;) {
		if ((l = pb_line(c, line, sizeof(line))) < 0)
			return -1;
		p = line;
		len = (size_t)l;
		if (pop3_ml_line(&p, &len))
			break;
		if (count == nmanifest) {
			util_snprintf(c->err, sizeof(c->err), "LIST has more "
			    "than the manifest's %zu messages", nmanifest);
			return -1;
		}
		if ((sp = memchr(p, ' ', len)) == NULL ||
		    util_parse_uint(p, (size_t)(sp - p), PB_MSGS_MAX, &num) ==
		    -1 || num != count + 1 ||
		    util_parse_uint(sp + 1, len - (size_t)(sp + 1 - p),
		    PB_MSG_MAX, &sizes[count]) == -1) {
			util_snprintf(c->err, sizeof(c->err), "LIST: bad line "
			    "%.60s", line);
			return -1;
		}
		count++;
	}
	*n = count;
	if (count != nmanifest) {
		util_snprintf(c->err, sizeof(c->err), "LIST has %zu messages, "
		    "the manifest %zu", count, nmanifest);
		return -1;
	}
	/* The sizes, as a set, must be the manifest's. */
	a = calloc(count, sizeof(*a));
	b = calloc(count, sizeof(*b));
	if (a == NULL || b == NULL)
		pb_die("out of memory");
	for (i = 0; i < count; i++) {
		a[i] = sizes[i];
		b[i] = manifest[i].octets;
	}
	qsort(a, count, sizeof(*a), pb_cmp_ull);
	qsort(b, count, sizeof(*b), pb_cmp_ull);
	for (i = 0; i < count; i++)
		if (a[i] != b[i])
			(*bad)++;
	free(a);
	free(b);
	return 0;
}

static int
pb_mode_retr(void)
{
	struct pb_conn c;
	struct pb_hash *h;
	struct pb_msg *sorted;
	unsigned long long *sizes, octets = 0;
	unsigned char sha[SHA256_LEN];
	unsigned long verified = 0, failed = 0, list_bad = 0, in_order = 0;
	size_t n = 0, sent = 0, got = 0;
	long long oct;
	int64_t t0, t1, deadline;
	double secs, cpu0;
	char cipher[64] = "none";
	int st;

	pb_load_creds();
	pb_load_manifest();
	if ((sizes = calloc(nmanifest, sizeof(*sizes))) == NULL ||
	    (sorted = calloc(nmanifest, sizeof(*sorted))) == NULL ||
	    (h = calloc(1, sizeof(*h))) == NULL ||
	    (h->md = EVP_MD_CTX_new()) == NULL)
		pb_die("out of memory");
	memcpy(sorted, manifest, nmanifest * sizeof(*sorted));
	qsort(sorted, nmanifest, sizeof(*sorted), pb_cmp_msg);
	if (pb_open(&c, PB_RBUF_LARGE) == -1 ||
	    pb_login(&c, &creds[0], NULL, NULL) == -1 ||
	    pb_list(&c, sizes, &n, &list_bad) == -1)
		pb_die("%s", c.err);
	if (tls_active(c.io))
		util_snprintf(cipher, sizeof(cipher), "%s/%s",
		    tls_version(c.io), tls_cipher(c.io));
	cpu0 = pb_client_cpu();
	t0 = pb_now_ns();
	deadline = t0 + (int64_t)opt.seconds * 1000000000;
	while (got < sent || (sent < n && pb_now_ns() < deadline)) {
		/*
		 * Keep up to depth commands in flight, sent in one write;
		 * past the deadline, only collect what is in flight.
		 */
		while (sent < n && sent - got < opt.depth &&
		    (sent == got || pb_now_ns() < deadline)) {
			st = io_printf(c.io, "RETR %zu\r\n", sent + 1);
			if (st != IO_OK)
				pb_die("write: %s", io_error(c.io));
			sent++;
		}
		if ((st = io_flush(c.io)) != IO_OK)
			pb_die("write: %s", io_error(c.io));
		if (pb_ok(&c, "RETR") == -1)
			pb_die("message %zu: %s", got + 1, c.err);
		if (EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1)
			pb_die("EVP_DigestInit_ex failed");
		h->n = 0;
		if ((oct = pb_body(&c, h)) < 0)
			pb_die("message %zu: %s", got + 1, c.err);
		if ((h->n > 0 && EVP_DigestUpdate(h->md, h->buf, h->n) != 1) ||
		    EVP_DigestFinal_ex(h->md, sha, NULL) != 1)
			pb_die("EVP_DigestFinal_ex failed");
		octets += (unsigned long long)oct;
		if ((unsigned long long)oct != sizes[got]) {
			if (failed < 5)
				fprintf(stderr, "pop3bench: message %zu: LIST "
				    "says %llu octets, RETR brought %lld\n",
				    got + 1, sizes[got], oct);
			failed++;
		} else if (pb_claim(sorted, sha, (unsigned long long)oct) ==
		    -1) {
			if (failed < 5)
				fprintf(stderr, "pop3bench: message %zu (%lld "
				    "octets): its SHA-256 is not in the "
				    "manifest\n", got + 1, oct);
			failed++;
		} else {
			verified++;
			if (memcmp(manifest[got].sha, sha, SHA256_LEN) == 0)
				in_order++;
		}
		got++;
	}
	t1 = pb_now_ns();
	secs = (double)(t1 - t0) / 1e9;
	if (pb_quit(&c) == -1)
		pb_die("%s", c.err);
	pb_close(&c);
	printf("RESULT mode=retr stls=%d depth=%u messages=%zu retrieved=%zu "
	    "complete=%d octets=%llu seconds=%.4f mbps=%.2f verified=%lu "
	    "failed=%lu list_bad=%lu in_order=%lu cipher=%s "
	    "client_cpu_s=%.2f\n", opt.stls, opt.depth, n, got, got == n,
	    octets, secs, (double)octets / secs / 1e6, verified, failed,
	    list_bad, in_order, cipher, pb_client_cpu() - cpu0);
	EVP_MD_CTX_free(h->md);
	free(h);
	free(sorted);
	free(sizes);
	/* A run cut short by -t is no failure: what came is all verified. */
	return failed == 0 && list_bad == 0 && verified == got && got > 0 ?
	    0 : 1;
}

/* ---- open mode ---- */

static int
pb_mode_open(void)
{
	struct pb_conn c;
	unsigned long long n = 0, sz = 0;
	double ms[PB_REPEAT_MAX], warm[PB_REPEAT_MAX];
	char list[PB_REPEAT_MAX * 16];
	size_t off = 0;
	unsigned i;
	int64_t t0;

	pb_load_creds();
	for (i = 0; i < opt.count; i++) {
		if (pb_open(&c, PB_RBUF_SMALL) == -1 ||
		    pb_login(&c, &creds[0], NULL, &t0) == -1 ||
		    pb_stat(&c, &n, &sz) == -1)
			pb_die("login %u: %s", i + 1, c.err);
		ms[i] = (double)(pb_now_ns() - t0) / 1e6;
		if (pb_quit(&c) == -1)
			pb_die("login %u: %s", i + 1, c.err);
		pb_close(&c);
		if (opt.expect >= 0 && n != (unsigned long long)opt.expect)
			pb_die("login %u: STAT says %llu messages, not %lld",
			    i + 1, n, opt.expect);
		if (i > 0)
			warm[i - 1] = ms[i];
		(void)util_snprintf(list + off, sizeof(list) - off, "%s%.3f",
		    i > 0 ? "," : "", ms[i]);
		off += strlen(list + off);
	}
	qsort(warm, opt.count - 1, sizeof(*warm), pb_cmp_double);
	printf("RESULT mode=open messages=%llu octets=%llu first_ms=%.3f "
	    "warm_ms=%.3f all_ms=%s\n", n, sz, ms[0],
	    opt.count > 1 ? pb_quantile(warm, opt.count - 1, 0.5) : -1.0,
	    list);
	return 0;
}

/*
 * Hold the sessions until the driver says (a line or EOF on stdin), or
 * opt.seconds are up.  1 if told, else 0.
 */
static int
pb_hold(void)
{
	struct pollfd pfd;
	char buf[64];
	int r;

	pfd.fd = STDIN_FILENO;
	pfd.events = POLLIN;
	do {
		r = poll(&pfd, 1, (int)opt.seconds * 1000);
	} while (r == -1 && errno == EINTR);
	if (r == 1 && read(STDIN_FILENO, buf, sizeof(buf)) == -1)
		r = 0;
	return r == 1;
}

/* ---- idle mode ---- */

static int
pb_mode_idle(void)
{
	struct pb_conn *c;
	unsigned long long n, sz;
	unsigned i, quit_ok = 0;
	int r;

	pb_load_creds();
	if (ncreds < opt.count)
		pb_die("%u sessions need as many users; %s has %zu",
		    opt.count, opt.creds_file, ncreds);
	if ((c = calloc(opt.count, sizeof(*c))) == NULL)
		pb_die("out of memory");
	for (i = 0; i < opt.count; i++)
		if (pb_open(&c[i], 4096) == -1 ||
		    pb_login(&c[i], &creds[i], NULL, NULL) == -1 ||
		    pb_stat(&c[i], &n, &sz) == -1)
			pb_die("session %u (%s): %s", i + 1, creds[i].user,
			    c[i].err);
	printf("READY sessions=%u\n", opt.count);
	fflush(stdout);
	r = pb_hold();
	for (i = 0; i < opt.count; i++) {
		if (pb_quit(&c[i]) == 0)
			quit_ok++;
		else
			fprintf(stderr, "pop3bench: session %u: %s\n", i + 1,
			    c[i].err);
		pb_close(&c[i]);
	}
	free(c);
	printf("RESULT mode=idle sessions=%u quit_ok=%u held=%s\n", opt.count,
	    quit_ok, r == 1 ? "until-told" : "timeout");
	return quit_ok == opt.count ? 0 : 1;
}

/* ---- many mode ---- */

/* RETR 1 verified: it must be one of the manifest's messages. */
static int
pb_known(const unsigned char *sha, unsigned long long octets)
{
	size_t i;

	for (i = 0; i < nmanifest; i++)
		if (manifest[i].octets == octets &&
		    memcmp(manifest[i].sha, sha, SHA256_LEN) == 0)
			return 0;
	return -1;
}

/* RETR 1's reply and body, then QUIT's.  Returns 0 or -1 with c->err. */
static int
pb_many_finish(struct pb_conn *c, struct pb_hash *h)
{
	unsigned char sha[SHA256_LEN];
	long long got;

	if (pb_ok(c, "RETR") == -1)
		return -1;
	h->n = 0;
	if (EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1)
		pb_die("EVP_DigestInit_ex failed");
	if ((got = pb_body(c, h)) < 0)
		return -1;
	if ((h->n > 0 && EVP_DigestUpdate(h->md, h->buf, h->n) != 1) ||
	    EVP_DigestFinal_ex(h->md, sha, NULL) != 1)
		pb_die("EVP_DigestFinal_ex failed");
	if (pb_known(sha, (unsigned long long)got) == -1) {
		util_snprintf(c->err, sizeof(c->err), "RETR 1: %lld octets "
		    "that are no message of the manifest", got);
		return -1;
	}
	return pb_ok(c, "QUIT");
}

/*
 * The accept latency while the sessions are held: probes new
 * connections, one every PB_PROBE_GAP_MS, each timed from connect() to
 * the greeting, then QUIT.  Fills lat (ms); returns the failures.
 */
static unsigned
pb_many_probe(double *lat, unsigned *nlat)
{
	struct pb_conn c;
	struct timespec gap;
	unsigned i, failed = 0;
	int64_t t0;

	*nlat = 0;
	for (i = 0; i < opt.probes; i++) {
		gap.tv_sec = 0;
		gap.tv_nsec = PB_PROBE_GAP_MS * 1000000L;
		(void)nanosleep(&gap, NULL);
		t0 = pb_now_ns();
		if (pb_open(&c, 4096) == -1 || pb_ok(&c, "greeting") == -1) {
			fprintf(stderr, "pop3bench: probe %u: %s\n", i + 1,
			    c.err);
			failed++;
			pb_close(&c);
			continue;
		}
		lat[(*nlat)++] = (double)(pb_now_ns() - t0) / 1e6;
		if (pb_quit(&c) == -1) {
			fprintf(stderr, "pop3bench: probe %u: %s\n", i + 1,
			    c.err);
			failed++;
		}
		pb_close(&c);
	}
	return failed;
}

/*
 * N authenticated sessions opened one after another and held (the
 * driver reads the server's memory between READY and its line on
 * stdin); then probes of the accept latency while they are all open;
 * then every session sends RETR 1 and QUIT at once and each reply is
 * read and verified in turn.  One process, no threads: the held
 * sessions are just sockets.
 */
static int
pb_mode_many(void)
{
	struct pb_conn *c;
	struct pb_hash *h;
	struct rlimit rl;
	unsigned long long n, sz;
	unsigned i, nlat, probe_failed, failed = 0;
	double *lat, open_s, retr_s;
	unsigned char *bad;
	int64_t t0;
	int r;

	pb_load_creds();
	pb_load_manifest();
	if (ncreds < opt.count)
		pb_die("%u sessions need as many users; %s has %zu",
		    opt.count, opt.creds_file, ncreds);
	/* A descriptor per session and per probe, and some to spare. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		pb_die("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur < (rlim_t)opt.count + 64) {
		if (rl.rlim_max < (rlim_t)opt.count + 64)
			pb_die("%u sessions need %u descriptors; the hard "
			    "limit is %llu (ulimit -Hn)", opt.count,
			    opt.count + 64, (unsigned long long)rl.rlim_max);
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			pb_die("setrlimit: %s", strerror(errno));
	}
	if ((c = calloc(opt.count, sizeof(*c))) == NULL ||
	    (bad = calloc(opt.count, 1)) == NULL ||
	    (lat = calloc(opt.probes + 1, sizeof(*lat))) == NULL ||
	    (h = malloc(sizeof(*h))) == NULL ||
	    (h->md = EVP_MD_CTX_new()) == NULL)
		pb_die("out of memory");
	t0 = pb_now_ns();
	for (i = 0; i < opt.count; i++) {
		if (pb_open(&c[i], 4096) == -1 ||
		    pb_login(&c[i], &creds[i], NULL, NULL) == -1 ||
		    pb_stat(&c[i], &n, &sz) == -1)
			pb_die("session %u (%s): %s", i + 1, creds[i].user,
			    c[i].err);
		if (n != nmanifest)
			pb_die("session %u (%s): STAT says %llu messages, the "
			    "manifest %zu", i + 1, creds[i].user, n, nmanifest);
	}
	open_s = (double)(pb_now_ns() - t0) / 1e9;
	printf("READY sessions=%u open_s=%.3f\n", opt.count, open_s);
	fflush(stdout);
	r = pb_hold();
	probe_failed = pb_many_probe(lat, &nlat);
	/* All ask at once; then each answer is read and verified. */
	t0 = pb_now_ns();
	for (i = 0; i < opt.count; i++)
		bad[i] = pb_send(&c[i], "RETR 1\r\nQUIT") == -1;
	for (i = 0; i < opt.count; i++) {
		if (bad[i] || pb_many_finish(&c[i], h) == -1) {
			if (failed++ < PB_ERRORS_MAX)
				fprintf(stderr, "pop3bench: session %u (%s): "
				    "%s\n", i + 1, creds[i].user, c[i].err);
		}
		pb_close(&c[i]);
	}
	retr_s = (double)(pb_now_ns() - t0) / 1e9;
	qsort(lat, nlat, sizeof(*lat), pb_cmp_double);
	printf("RESULT mode=many sessions=%u open_s=%.3f probes=%u "
	    "probe_failed=%u accept_p50_ms=%.3f accept_p99_ms=%.3f "
	    "accept_max_ms=%.3f retr_s=%.3f failed=%u held=%s\n", opt.count,
	    open_s, opt.probes, probe_failed,
	    nlat > 0 ? pb_quantile(lat, nlat, 0.5) : -1.0,
	    nlat > 0 ? pb_quantile(lat, nlat, 0.99) : -1.0,
	    nlat > 0 ? pb_quantile(lat, nlat, 1.0) : -1.0, retr_s, failed,
	    r == 1 ? "until-told" : "timeout");
	EVP_MD_CTX_free(h->md);
	free(h);
	free(lat);
	free(bad);
	free(c);
	return failed == 0 && probe_failed == 0 && nlat > 0 ? 0 : 1;
}

/* ---- ceiling mode ---- */

/* Write all of buf to fd.  Returns 0 or -1. */
static int
pb_write_all(int fd, const unsigned char *p, size_t n)
{
	struct pollfd pfd;
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, PB_TIMEOUT_MS) == 1)
				continue;
		}
		return -1;
	}
	return 0;
}

/*
 * The ceiling's server: one connection; every manifest file, opt.count
 * times over, read into a block and written when the block is full (so
 * that small files move in large writes, as a server's buffer does), then
 * EOF.
 */
static void __attribute__((__noreturn__))
pb_ceiling_server(int lfd, SSL_CTX *sctx)
{
	unsigned char *buf, go;
	struct pollfd pfd;
	struct io *io = NULL;
	ssize_t r;
	size_t i, got, fill = 0;
	unsigned k;
	int fd, mfd;

	if ((buf = malloc(PB_COPY_BLOCK)) == NULL)
		_exit(2);
	pfd.fd = lfd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, PB_TIMEOUT_MS) != 1 ||
	    (fd = accept(lfd, NULL, NULL)) == -1)
		_exit(2);
	if (sctx != NULL) {
		if ((io = io_new(fd)) == NULL)
			_exit(2);
		io_set_timeout(io, PB_TIMEOUT_MS);
		if (tls_start(io, sctx, TLS_SERVER, NULL) != IO_OK ||
		    io_read(io, &go, 1, &got) != IO_OK)
			_exit(2);
	} else {
		pfd.fd = fd;
		if (poll(&pfd, 1, PB_TIMEOUT_MS) != 1 ||
		    read(fd, &go, 1) != 1)
			_exit(2);
	}
	for (k = 0; k < opt.count; k++) {
		for (i = 0; i < nmanifest; i++) {
			if ((mfd = open(manifest[i].path, O_RDONLY)) == -1)
				_exit(3);
			while ((r = read(mfd, buf + fill,
			    PB_COPY_BLOCK - fill)) > 0) {
				fill += (size_t)r;
				if (fill < PB_COPY_BLOCK)
					continue;
				if (io != NULL ? io_write(io, buf, fill) !=
				    IO_OK : pb_write_all(fd, buf, fill) == -1)
					_exit(4);
				fill = 0;
			}
			if (r == -1)
				_exit(3);
			close(mfd);
		}
	}
	if (fill > 0 && (io != NULL ? io_write(io, buf, fill) != IO_OK :
	    pb_write_all(fd, buf, fill) == -1))
		_exit(4);
	if (io != NULL) {
		if (io_flush(io) != IO_OK)
			_exit(4);
		io_free(io);
	} else {
		close(fd);
	}
	_exit(0);
}

static int
pb_mode_ceiling(void)
{
	struct sockaddr_storage ss;
	struct pb_conn c;
	struct stat sb;
	SSL_CTX *sctx = NULL;
	unsigned long long expect = 0, got_total = 0;
	unsigned char *buf;
	char err[ERR_MSG_MAX], cipher[64] = "none";
	socklen_t len = sizeof(ss);
	size_t i, got;
	int lfd, st, status;
	int64_t t0, t1;
	double secs, cpu0;
	pid_t pid;

	pb_load_manifest();
	for (i = 0; i < nmanifest; i++) {
		if (manifest[i].path == NULL ||
		    stat(manifest[i].path, &sb) == -1)
			pb_die("manifest entry %zu: no file", i + 1);
		expect += (unsigned long long)sb.st_size;
	}
	expect *= opt.count;
	if (opt.certfile != NULL &&
	    (sctx = tls_server_ctx(opt.certfile, opt.keyfile, err,
	    sizeof(err))) == NULL)
		pb_die("%s", err);
	/* Listen on the loopback address given, on a port of our own. */
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, opt.host,
	    &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, opt.host,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		len = sizeof(struct sockaddr_in6);
	}
	if ((lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
	    -1 || bind(lfd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(lfd, 1) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&ss, &len) == -1)
		pb_die("cannot listen on %s: %s", opt.host, strerror(errno));
	opt.port = ntohs(ss.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
	fflush(stdout);
	if ((pid = fork()) == -1)
		pb_die("fork: %s", strerror(errno));
	if (pid == 0)
		pb_ceiling_server(lfd, sctx);
	close(lfd);
	if ((buf = malloc(PB_RBUF_LARGE)) == NULL)
		pb_die("out of memory");
	if (pb_open(&c, 16) == -1)
		pb_die("%s", c.err);
	if (sctx != NULL) {
		if ((st = tls_start(c.io, client_tls, TLS_CLIENT, opt.host)) !=
		    IO_OK)
			pb_die("TLS: %s", io_error(c.io));
		util_snprintf(cipher, sizeof(cipher), "%s/%s",
		    tls_version(c.io), tls_cipher(c.io));
	}
	cpu0 = pb_client_cpu();
	t0 = pb_now_ns();
	if (io_write(c.io, "G", 1) != IO_OK || io_flush(c.io) != IO_OK)
		pb_die("write: %s", io_error(c.io));
	while (got_total <= expect) {
		st = io_read(c.io, buf, PB_RBUF_LARGE, &got);
		if (st == IO_EOF)
			break;
		if (st != IO_OK)
			pb_die("read: %s", io_error(c.io));
		got_total += got;
	}
	t1 = pb_now_ns();
	pb_close(&c);
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		pb_die("the ceiling server failed");
	secs = (double)(t1 - t0) / 1e9;
	printf("RESULT mode=ceiling tls=%d files=%zu rounds=%u bytes=%llu "
	    "seconds=%.4f mbps=%.2f cipher=%s client_cpu_s=%.2f\n",
	    sctx != NULL, nmanifest, opt.count, got_total, secs, (double)got_total / secs / 1e6, cipher,
	    pb_client_cpu() - cpu0);
	free(buf);
	SSL_CTX_free(sctx);
	if (got_total != expect)
		pb_die("moved %llu bytes, expected %llu", got_total, expect);
	return 0;
}

/* ---- main ---- */

static void __attribute__((__noreturn__))
pb_usage(int rc)
{
	fprintf(rc == 0 ? stdout : stderr,
"usage: pop3bench MODE [options]\n"
"  session  -p PORT -U CREDS [-a user|plain|gssapi] [-s] [-c CLIENTS] [-t SECS]\n"
"  retr     -p PORT -U CREDS -m MANIFEST [-a user|plain] [-s] [-d DEPTH]\n"
"           [-t SECS]\n"
"  open     -p PORT -U CREDS [-a user|plain] [-s] [-n LOGINS] [-e MESSAGES]\n"
"  idle     -p PORT -U CREDS -n SESSIONS [-t SECS]\n"
"  many     -p PORT -U CREDS -m MANIFEST -n SESSIONS [-P PROBES] [-t SECS]\n"
"  ceiling  -m MANIFEST [-n ROUNDS] [-k CERT -K KEY -C CA]\n"
"options:\n"
"  -H ADDR   server address: 127.0.0.1 (default) or ::1\n"
"  -p PORT   server port\n"
"  -U FILE   credentials, one 'user password [ccache]' a line; session\n"
"            clients split them (GSSAPI: the lines with a ccache) and each\n"
"            logs in as its own users in turn; retr and open use line 1,\n"
"            idle and many: session i line i\n"
"  -a AUTH   user (USER/PASS, default), plain (AUTH PLAIN), gssapi\n"
"  -S NAME   GSSAPI service, service@host (default pop@localhost)\n"
"  -s        STLS before logging in; -C CA verifies the server\n"
"  -c N      concurrent clients (session mode, default 1)\n"
"  -t SECS   session: how long (default 3); retr: no new RETR after it;\n"
"            idle, many: the longest hold\n"
"  -d N      RETR commands in flight (default 1: none pipelined)\n"
"  -m FILE   manifest: 'octets sha256 [path]' a message, in maildrop order\n"
"  -n N      open: logins (the first, then warm ones); idle, many:\n"
"            sessions;\n"
"            ceiling: times the files are sent over\n"
"  -e N      open: the message count STAT must report\n"
"  -P N      many: new connections timed to their greeting while the\n"
"            sessions are held, one every 10 ms (default 500)\n"
"Prints one line 'RESULT key=value...'; exits 1 if anything failed.\n");
	exit(rc);
}

int
main(int argc, char **argv)
{
	char err[ERR_MSG_MAX];
	const char *mode;
	struct in6_addr a6;
	struct in_addr a4;
	int ch, rc;

	if (argc < 2)
		pb_usage(2);
	mode = argv[1];
	if (strcmp(mode, "-h") == 0 || strcmp(mode, "--help") == 0)
		pb_usage(0);
	opt.host = "127.0.0.1";
	opt.clients = 1;
	opt.seconds = 3;
	opt.depth = 1;
	opt.count = 1;
	opt.expect = -1;
	opt.probes = 500;
	opt.service = "pop@localhost";
	optind = 2;
	while ((ch = getopt(argc, argv, "H:p:U:a:S:sC:c:t:d:m:n:e:k:K:P:h")) !=
	    -1) {
		switch (ch) {
		case 'H':
			opt.host = optarg;
			break;
		case 'p':
			opt.port = pb_uint_arg(optarg, 1, 65535, "-p");
			break;
		case 'U':
			opt.creds_file = optarg;
			break;
		case 'a':
			if (strcmp(optarg, "user") == 0)
				opt.auth = PB_AUTH_USER;
			else if (strcmp(optarg, "plain") == 0)
				opt.auth = PB_AUTH_PLAIN;
			else if (strcmp(optarg, "gssapi") == 0)
				opt.auth = PB_AUTH_GSSAPI;
			else
				pb_die("-a: user, plain or gssapi");
			break;
		case 'S':
			opt.service = optarg;
			break;
		case 's':
			opt.stls = 1;
			break;
		case 'C':
			opt.cafile = optarg;
			break;
		case 'c':
			opt.clients = pb_uint_arg(optarg, 1, PB_CLIENTS_MAX,
			    "-c");
			break;
		case 't':
			opt.seconds = pb_uint_arg(optarg, 1, PB_SECONDS_MAX,
			    "-t");
			break;
		case 'd':
			opt.depth = pb_uint_arg(optarg, 1, PB_DEPTH_MAX, "-d");
			break;
		case 'm':
			opt.manifest = optarg;
			break;
		case 'n':
			opt.count = pb_uint_arg(optarg, 1, PB_MANY_MAX, "-n");
			break;
		case 'e':
			opt.expect = pb_uint_arg(optarg, 0, PB_MSGS_MAX, "-e");
			break;
		case 'P':
			opt.probes = pb_uint_arg(optarg, 1, PB_PROBES_MAX,
			    "-P");
			break;
		case 'k':
			opt.certfile = optarg;
			break;
		case 'K':
			opt.keyfile = optarg;
			break;
		case 'h':
			pb_usage(0);
		default:
			pb_usage(2);
		}
	}
	if (optind != argc)
		pb_usage(2);
	/* Loopback only: this tool puts load on what it connects to. */
	if (inet_pton(AF_INET, opt.host, &a4) == 1) {
		if (ntohl(a4.s_addr) != INADDR_LOOPBACK)
			pb_die("%s: only 127.0.0.1 or ::1", opt.host);
	} else if (inet_pton(AF_INET6, opt.host, &a6) != 1 ||
	    memcmp(&a6, &in6addr_loopback, sizeof(a6)) != 0) {
		pb_die("%s: only 127.0.0.1 or ::1", opt.host);
	}
	signal(SIGPIPE, SIG_IGN);
	if (opt.stls || opt.certfile != NULL) {
		if (opt.cafile == NULL)
			pb_die("TLS needs -C CA-FILE to verify the server");
		if ((client_tls = tls_client_ctx(opt.cafile, err,
		    sizeof(err))) == NULL)
			pb_die("%s", err);
	}
	if (strcmp(mode, "ceiling") != 0 && opt.port == 0)
		pb_die("-p PORT missing");
	if (strcmp(mode, "session") == 0)
		rc = pb_mode_session();
	else if (strcmp(mode, "retr") == 0) {
		if (opt.auth == PB_AUTH_GSSAPI)
			pb_die("retr: -a user or plain");
		rc = pb_mode_retr();
	} else if (strcmp(mode, "open") == 0) {
		if (opt.auth == PB_AUTH_GSSAPI)
			pb_die("open: -a user or plain");
		if (opt.count > PB_REPEAT_MAX)
			pb_die("open: at most %d logins", PB_REPEAT_MAX);
		rc = pb_mode_open();
	} else if (strcmp(mode, "idle") == 0) {
		if (opt.auth == PB_AUTH_GSSAPI)
			pb_die("idle: -a user or plain");
		if (opt.count > PB_IDLE_MAX)
			pb_die("idle: at most %d sessions", PB_IDLE_MAX);
		rc = pb_mode_idle();
	} else if (strcmp(mode, "many") == 0) {
		if (opt.auth == PB_AUTH_GSSAPI)
			pb_die("many: -a user or plain");
		rc = pb_mode_many();
	} else if (strcmp(mode, "ceiling") == 0) {
		if ((opt.certfile == NULL) != (opt.keyfile == NULL))
			pb_die("ceiling: -k and -K go together");
		rc = pb_mode_ceiling();
	} else {
		pb_usage(2);
	}
	fflush(stdout);
	SSL_CTX_free(client_tls);
	return rc;
}
