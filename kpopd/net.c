/*
 * kpopd/net.c: the net process.  It owns the client connection (and TLS),
 * runs with no privileges in an empty chroot when kpopd started as root,
 * and is the only process that parses what the client sends.  POP3 state
 * lives here as data: a command table with the states each command is
 * valid in; handlers reply through the buffered io, so pipelined commands
 * are answered in order and their replies leave in one write.  The
 * monitor is asked (common/ipc.h) to check passwords, for the maildrop's
 * snapshot, for each message's descriptor, and to apply deletions at QUIT.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/io.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/mech.h"
#include "common/pop3.h"
#include "common/sasl.h"
#include "common/sendauth.h"
#include "common/tls.h"
#include "kpopd/kpopd.h"

/* Milliseconds the net process waits for the monitor's answer: a password
   check may go to the KDC, which has its own timeouts below this. */
#define NET_MON_TIMEOUT		120000
/* How long, and how much, a closing session reads of what the client
   still sends, so that its last reply is not lost to a reset. */
#define NET_LINGER_MS		1000
#define NET_LINGER_BYTES	(64 * 1024)
/* Bytes read from a message per block while streaming RETR. */
#define NET_RETR_BLOCK		(128 * 1024)

enum net_state { NS_AUTH = 1, NS_TRANS = 2 };

/* What a handler tells the loop. */
enum net_verdict {
	NV_OK,		/* replied; carry on */
	NV_BAD,		/* replied -ERR; counts as a bad command */
	NV_CLOSE,	/* replied; close the connection */
	NV_FAIL		/* cannot go on (I/O or monitor failure) */
};

struct net_msg {
	unsigned long long	size;
	char			uidl[POP3_UIDL_MAX + 1];
};

/*
 * A message the monitor has opened ahead of its RETR or TOP.  Clients
 * fetch in order, often with many commands in flight; asking for one
 * descriptor per message made every message wait for a monitor round
 * trip.  So each miss asks for a window of the next messages, doubling
 * while the client keeps reading in order (1, 2, 4 ... IPC_FDS_MAX) and
 * back to one when it jumps.
 */
struct net_pre {
	size_t		idx;
	int		live;		/* not taken yet */
	int		fd;		/* -1 when r != 0, or once taken */
	uint32_t	r;		/* 0, or -enum md_status */
	uint64_t	off, len;
	char		text[128];
};

struct net {
	const struct session_start	*s;
	const struct kpopd_conf		*c;
	struct io			*io;
	int				 mon;
	enum net_state			 state;
	int				 have_user;
	int				 kpop;	/* KPOP authenticated */
	char				 apop[320];	/* the greeting's timestamp */
	int				 utf8;
	unsigned int			 bad;
	char				 user[KPOPD_USER_MAX];
	size_t				 count;
	size_t				 snap_got;	/* msgs[] filled */
	struct net_msg			*msgs;
	unsigned char			*del;
	size_t				 ndel;
	unsigned long long		 delsize, total;
	size_t				 last;
	unsigned long long		 retr_msgs, retr_bytes;
	time_t				 start, touched;
	const char			*method;
	const char			*end;
	char				 method_buf[KPOPD_MECH_MAX + 16];
	char				 sasl_line[POP3_SASL_LINE_MAX + 1];
	struct ipc_buf			 b;
	struct ipc_buf			 lb;	/* security layer relay */
	struct net_pre			 pre[IPC_FDS_MAX];
	size_t				 npre;	/* entries in pre[] */
	size_t				 pre_win;	/* last window asked */
	size_t				 pre_next;	/* index after it */
	unsigned char			 block[NET_RETR_BLOCK];
};

struct net_cmd {
	const char		*name;
	enum net_verdict	(*fn)(struct net *, const struct pop3_cmd *);
	int			 states;
	int			 table;		/* rest of the table read first */
};

static enum net_verdict
reply(struct net *n, const char *fmt, ...) KP_PRINTF(2, 3);
static enum net_verdict
start_layer(struct net *, uint32_t);

static enum net_verdict
reply(struct net *n, const char *fmt, ...)
{
	va_list ap;
	int st;

	va_start(ap, fmt);
	st = io_vprintf(n->io, fmt, ap);
	va_end(ap);
	if (st == IO_OK)
		st = io_write(n->io, "\r\n", 2);
	return st == IO_OK ? NV_OK : NV_FAIL;
}

/* -ERR reply for a bad command. */
static enum net_verdict
bad(struct net *n, const char *text)
{
	return reply(n, "-ERR %s", text) == NV_OK ? NV_BAD : NV_FAIL;
}

/*
 * -ERR reply for a well-formed request that cannot be done (no such
 * message): the client did nothing wrong, so it is not counted.
 */
static enum net_verdict
refuse(struct net *n, const char *text)
{
	return reply(n, "-ERR %s", text);
}

/* Whether a password may cross this connection. */
static int
password_ok_here(const struct net *n)
{
	return n->c->allow_plaintext_auth || tls_active(n->io);
}

static int	await_monitor(struct net *, uint32_t *);
static int	each_mech(struct net *,
		    int (*)(struct net *, const char *, const void *),
		    const void *);
static int	mech_put(struct net *, const char *, const void *);

static enum net_verdict
cmd_capa(struct net *n, const struct pop3_cmd *cmd)
{
	if (!pop3_cmd_args_ok(cmd, 0, 0))
		return bad(n, "CAPA takes no arguments");
	if (reply(n, "+OK capability list follows") != NV_OK ||
	    io_puts(n->io, "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	    "PIPELINING\r\nUTF8 USER\r\n") != IO_OK)
		return NV_FAIL;
	if (n->state == NS_AUTH && (n->kpop || (password_ok_here(n) &&
	    strcmp(n->c->password_check, "none") != 0)) &&
	    io_puts(n->io, "USER\r\n") != IO_OK)
		return NV_FAIL;
	if (n->state == NS_AUTH && n->s->tls != NULL && !tls_active(n->io) &&
	    io_puts(n->io, "STLS\r\n") != IO_OK)
		return NV_FAIL;
	/*
	 * Short: fetchmail reads CAPA lines into 64 bytes.  Under a
	 * security layer the list is repeated, so that the client can check
	 * nobody edited the one it chose from (RFC 4422 s.3.7).
	 */
	if ((n->state == NS_AUTH || xsasl_layer_active(n->io)) &&
	    n->c->sasl_mechanisms[0] != '\0' &&
	    (io_puts(n->io, "SASL") != IO_OK ||
	    each_mech(n, mech_put, " ") == -1 ||
	    io_puts(n->io, "\r\n") != IO_OK))
		return NV_FAIL;
	if (kconf_expire_never(n->c)) {
		if (io_puts(n->io, "EXPIRE NEVER\r\n") != IO_OK)
			return NV_FAIL;
	} else if (io_printf(n->io, "EXPIRE %s\r\n", n->c->expire) != IO_OK)
		return NV_FAIL;
	if (io_printf(n->io, "LOGIN-DELAY %u\r\n", n->c->login_delay) !=
	    IO_OK ||
	    io_puts(n->io, "IMPLEMENTATION kpopd-" PACKAGE_VERSION "\r\n.\r\n")
	    != IO_OK)
		return NV_FAIL;
	return NV_OK;
}

static enum net_verdict
cmd_stls(struct net *n, const struct pop3_cmd *cmd)
{
	if (!pop3_cmd_args_ok(cmd, 0, 0))
		return bad(n, "STLS takes no arguments");
	if (n->s->tls == NULL)
		return bad(n, "TLS is not available");
	if (tls_active(n->io))
		return bad(n, "TLS is already active");
	if (reply(n, "+OK begin TLS negotiation") != NV_OK)
		return NV_FAIL;
	io_set_timeout(n->io, (int)n->c->tls_timeout * 1000);
	/* Plaintext pipelined behind STLS is dropped (RFC 2595 s.4). */
	if (tls_start(n->io, n->s->tls, TLS_SERVER, NULL) != IO_OK) {
		log_notice("%s: STLS failed: %s", n->s->peer,
		    io_error(n->io));
		n->end = "tls-failed";
		return NV_FAIL;
	}
	io_set_timeout(n->io, (int)n->c->login_timeout * 1000);
	n->have_user = 0;
	return NV_OK;
}

static enum net_verdict
cmd_user(struct net *n, const struct pop3_cmd *cmd)
{
	if (n->kpop) {
		/* The ticket did the authenticating; USER names the user. */
		if (n->c->kpop_require_tls && !tls_active(n->io))
			return bad(n, "[AUTH] use STLS before USER");
		if (cmd->argc != 1 || cmd->arglen[0] >= sizeof(n->user))
			return bad(n, "USER takes one user name");
		memcpy(n->user, cmd->argv[0], cmd->arglen[0] + 1);
		n->have_user = 1;
		return reply(n, "+OK send PASS (any text)");
	}
	if (!password_ok_here(n))
		return bad(n, "[AUTH] plaintext authentication is not "
		    "allowed without TLS; use STLS first");
	if (strcmp(n->c->password_check, "none") == 0)
		return bad(n, "[AUTH] password logins are disabled");
	if (cmd->argc != 1 || cmd->arglen[0] >= sizeof(n->user))
		return bad(n, "USER takes one user name");
	memcpy(n->user, cmd->argv[0], cmd->arglen[0] + 1);
	n->have_user = 1;
	return reply(n, "+OK send PASS");
}

static enum net_verdict
auth_failed(struct net *n, uint32_t r, const char *text)
{
	static const char *const codes[] = {
		[AUTH_BAD] = "AUTH", [AUTH_TEMP] = "SYS/TEMP",
		[AUTH_PERM] = "SYS/PERM", [AUTH_INUSE] = "IN-USE",
		[AUTH_LOGIN_DELAY] = "LOGIN-DELAY"
	};
	const char *code = r < KP_NELEM(codes) && codes[r] != NULL ?
	    codes[r] : "SYS/TEMP";

	n->have_user = 0;
	return reply(n, "-ERR [%s] %s", code, text) == NV_OK ? NV_BAD :
	    NV_FAIL;
}

/* Receive the snapshot after a successful login. */
static int
recv_snapshot(struct net *n)
{
	uint64_t count, total;
	uint32_t type;

	if (ipc_recv(n->mon, &type, &n->b, NULL, NET_MON_TIMEOUT) != 0 ||
	    type != M_SNAP_HEAD || ipc_get_u64(&n->b, &count) == -1 ||
	    ipc_get_u64(&n->b, &total) == -1 || ipc_end(&n->b) == -1 ||
	    count > SIZE_MAX / sizeof(struct net_msg))
		return -1;
	n->count = (size_t)count;
	n->total = total;
	if ((n->msgs = calloc(n->count + 1, sizeof(*n->msgs))) == NULL ||
	    (n->del = calloc(n->count + 1, 1)) == NULL)
		return -1;
	n->snap_got = 0;
	return 0;
}

/*
 * The rest of the snapshot: the sizes and UIDLs.  The monitor streams
 * them right after the head; the net process takes them only when a
 * command needs them (net_cmds[].table: anything but STAT and NOOP,
 * each of which asks nothing of the monitor), so a login's +OK and a first STAT do not wait
 * for a large maildrop's table.  Returns 0, or -1.
 */
static int
snapshot_rest(struct net *n)
{
	uint64_t size;
	uint32_t type, k;
	size_t i = n->snap_got;

	while (i < n->count) {
		if (ipc_recv(n->mon, &type, &n->b, NULL, NET_MON_TIMEOUT) !=
		    0 || type != M_SNAP_PART || ipc_get_u32(&n->b, &k) == -1 ||
		    k == 0 || k > n->count - i)
			return -1;
		for (; k > 0; k--, i++) {
			if (ipc_get_u64(&n->b, &size) == -1 ||
			    ipc_get_str(&n->b, n->msgs[i].uidl,
			    sizeof(n->msgs[i].uidl)) == -1)
				return -1;
			n->msgs[i].size = size;
		}
		if (ipc_end(&n->b) == -1)
			return -1;
		n->snap_got = i;
	}
	return 0;
}

/*
 * n->b holds an M_AUTH_RESULT: act on it.  On success the snapshot
 * follows and the session enters the TRANSACTION state.
 */
static enum net_verdict
auth_result(struct net *n, const char *method)
{
	char text[256];
	uint32_t r, layer;

	if (ipc_get_u32(&n->b, &r) == -1 ||
	    ipc_get_str(&n->b, n->user, sizeof(n->user)) == -1 ||
	    ipc_get_str(&n->b, text, sizeof(text)) == -1 ||
	    ipc_get_u32(&n->b, &layer) == -1 ||
	    ipc_end(&n->b) == -1) {
		n->end = "monitor";
		return reply(n, "-ERR [SYS/TEMP] the session cannot go on") ==
		    NV_OK ? NV_CLOSE : NV_FAIL;
	}
	if (r != AUTH_OK)
		return auth_failed(n, r, text);
	/* A layer talks to the monitor at once: take the whole table. */
	if (recv_snapshot(n) == -1 || (layer > 0 && snapshot_rest(n) == -1)) {
		n->end = "monitor";
		return reply(n, "-ERR [SYS/TEMP] cannot read the maildrop") ==
		    NV_OK ? NV_CLOSE : NV_FAIL;
	}
	n->state = NS_TRANS;
	n->method = method;
	n->touched = time(NULL);
	io_set_timeout(n->io, (int)n->c->idle_timeout * 1000);
	if (reply(n, "+OK %s has %zu messages (%llu octets)", n->user,
	    n->count, n->total) != NV_OK)
		return NV_FAIL;
	return layer > 0 ? start_layer(n, layer) : NV_OK;
}

/*
 * The security layer's codec runs in the monitor, which holds the SASL
 * connection: send it the bytes, take back the result.
 */
static int
layer_relay(struct net *n, uint32_t type, const void *in, size_t inlen,
    const void **out, size_t *outlen, char *err, size_t errlen)
{
	uint32_t rtype;

	ipc_reset(&n->lb);
	ipc_put_bytes(&n->lb, in, inlen);
	if (ipc_send(n->mon, type, &n->lb, -1) == -1 ||
	    ipc_recv(n->mon, &rtype, &n->lb, NULL, NET_MON_TIMEOUT) != 0 ||
	    rtype != M_LAYER_DATA || ipc_get_bytes(&n->lb, out, outlen) == -1 ||
	    ipc_end(&n->lb) == -1) {
		util_snprintf(err, errlen, "security layer: the monitor "
		    "refused the data");
		return -1;
	}
	return 0;
}

static int
layer_encode(void *arg, const void *in, size_t inlen, const void **out,
    size_t *outlen, char *err, size_t errlen)
{
	return layer_relay(arg, M_LAYER_ENCODE, in, inlen, out, outlen, err,
	    errlen);
}

static int
layer_decode(void *arg, const void *in, size_t inlen, const void **out,
    size_t *outlen, char *err, size_t errlen)
{
	return layer_relay(arg, M_LAYER_DECODE, in, inlen, out, outlen, err,
	    errlen);
}

/*
 * RFC 4422 s.3.7: the layer starts right after the +OK.  Anything the
 * client sent before seeing it was not protected: drop it.
 */
static enum net_verdict
start_layer(struct net *n, uint32_t maxout)
{
	struct xsasl_codec c;

	if (io_flush(n->io) != IO_OK)
		return NV_FAIL;
	io_drop_input(n->io);
	memset(&c, 0, sizeof(c));
	c.encode = layer_encode;
	c.decode = layer_decode;
	c.arg = n;
	c.maxout = maxout;
	if (xsasl_layer_start(n->io, &c) == -1) {
		n->end = "out of memory";
		return NV_FAIL;
	}
	if (n->method == n->method_buf)
		util_strlcpy(n->method_buf + strlen(n->method_buf), " + layer",
		    sizeof(n->method_buf) - strlen(n->method_buf));
	return NV_OK;
}

/* Wait for the monitor's answer; its type in *typep.  0 or -1. */
static int
await_monitor(struct net *n, uint32_t *typep)
{
	if (ipc_recv(n->mon, typep, &n->b, NULL, NET_MON_TIMEOUT) != 0) {
		/* The monitor ends the session on a refused open. */
		n->end = "monitor";
		return -1;
	}
	return 0;
}

static enum net_verdict
cmd_pass(struct net *n, const struct pop3_cmd *cmd)
{
	uint32_t type;
	int r;

	if (!n->have_user)
		return bad(n, "USER first");
	if (n->kpop) {
		/* fetchmail sends "krb_ticket", others anything: ignored. */
		ipc_reset(&n->b);
		ipc_put_str(&n->b, n->user);
		if (ipc_send(n->mon, M_KPOP_USER, &n->b, -1) == -1 ||
		    await_monitor(n, &type) == -1 || type != M_AUTH_RESULT)
			return reply(n, "-ERR [SYS/TEMP] the session cannot "
			    "go on") == NV_OK ? NV_CLOSE : NV_FAIL;
		return auth_result(n, "KPOP");
	}
	if (cmd->restlen == 0 || cmd->restlen >= KPOPD_PASS_MAX)
		return bad(n, "PASS takes a password");
	ipc_reset(&n->b);
	ipc_put_str(&n->b, n->user);
	ipc_put_str(&n->b, cmd->rest);
	r = ipc_send(n->mon, M_AUTH_PASS, &n->b, -1);
	util_wipe(n->b.data, n->b.len);
	if (r != 0 || await_monitor(n, &type) == -1 || type != M_AUTH_RESULT)
		return reply(n, "-ERR [SYS/TEMP] the session cannot go on") ==
		    NV_OK ? NV_CLOSE : NV_FAIL;
	return auth_result(n, "password");
}

static enum net_verdict
cmd_apop(struct net *n, const struct pop3_cmd *cmd)
{
	uint32_t type;
	size_t i;

	if (n->apop[0] == '\0')
		return bad(n, "APOP is not offered here");
	/* The digest is MD5 in hex: 32 characters. */
	if (cmd->argc != 2 || cmd->arglen[0] >= sizeof(n->user) ||
	    cmd->arglen[1] != 32)
		return bad(n, "APOP takes a name and a 32-digit digest");
	for (i = 0; i < 32; i++)
		if (strchr("0123456789abcdefABCDEF", cmd->argv[1][i]) == NULL)
			return bad(n, "APOP digest is not hexadecimal");
	memcpy(n->user, cmd->argv[0], cmd->arglen[0] + 1);
	ipc_reset(&n->b);
	ipc_put_str(&n->b, n->user);
	ipc_put_str(&n->b, cmd->argv[1]);
	if (ipc_send(n->mon, M_AUTH_APOP, &n->b, -1) == -1 ||
	    await_monitor(n, &type) == -1 || type != M_AUTH_RESULT)
		return reply(n, "-ERR [SYS/TEMP] the session cannot go on") ==
		    NV_OK ? NV_CLOSE : NV_FAIL;
	return auth_result(n, "APOP");
}

/* Mechanisms that send a password as it is: only where passwords may. */
static int
mech_plaintext(const char *mech)
{
	return strcasecmp(mech, "PLAIN") == 0 || strcasecmp(mech, "LOGIN") == 0;
}

/* -PLUS mechanisms bind to TLS: only inside it. */
static int
mech_needs_tls(const char *mech)
{
	size_t n = strlen(mech);

	return n > 5 && strcasecmp(mech + n - 5, "-PLUS") == 0;
}

/*
 * Call fn for each mechanism offered on this connection: configured,
 * and safe on this transport.  Stops and returns -1 if fn does.
 */
static int
each_mech(struct net *n,
    int (*fn)(struct net *, const char *, const void *), const void *arg)
{
	const char *p = n->c->sasl_mechanisms, *m;
	char mech[KPOPD_MECH_MAX];
	size_t len;

	while ((m = mech_next(&p, &len)) != NULL) {
		if (len >= sizeof(mech))
			continue;
		memcpy(mech, m, len);
		mech[len] = '\0';
		if ((!mech_plaintext(mech) || password_ok_here(n)) &&
		    (!mech_needs_tls(mech) || tls_active(n->io)) &&
		    fn(n, mech, arg) == -1)
			return -1;
	}
	return 0;
}

static int
mech_put(struct net *n, const char *mech, const void *arg)
{
	const char *sep = arg;

	return io_printf(n->io, "%s%s", sep, mech) == IO_OK ? 0 : -1;
}

static int
mech_match(struct net *n, const char *mech, const void *arg)
{
	(void)n;
	return strcasecmp(mech, arg) == 0 ? -1 : 0;
}

/*
 * What the monitor's SASL needs to know of TLS: its strength (the
 * external SSF, so no second layer is negotiated inside it) and the
 * channel binding the -PLUS mechanisms check.
 */
static void
put_tls_binding(struct net *n)
{
	unsigned char cb[TLS_CB_MAX];
	const char *name = NULL;
	size_t len = 0;
	int bits = 0;

	if (tls_active(n->io)) {
		bits = SSL_get_cipher_bits(tls_ssl(n->io), NULL);
		name = tls_channel_binding(n->io, cb, &len);
	}
	ipc_put_u32(&n->b, bits > 0 ? (uint32_t)bits : 0);
	ipc_put_str(&n->b, name != NULL ? name : "");
	ipc_put_bytes(&n->b, cb, name != NULL ? len : 0);
}

/* The client's next SASL line, decoded into out.  0, or an -ERR sent. */
static enum net_verdict
sasl_read(struct net *n, unsigned char *out, size_t *outlen, int *abort)
{
	size_t len;
	int st;

	*abort = 0;
	st = io_readline(n->io, n->sasl_line, sizeof(n->sasl_line), &len);
	if (st == IO_TOOLONG) {
		*abort = 1;
		return bad(n, "SASL response too long");
	}
	if (st != IO_OK) {
		n->end = st == IO_TIMEOUT ? "timeout" : "eof";
		return NV_FAIL;
	}
	if (len == 1 && n->sasl_line[0] == '*') {
		*abort = 1;
		return bad(n, "authentication cancelled");
	}
	if (xsasl_b64_decode(n->sasl_line, len, out, SASL_TOKEN_MAX + 1,
	    outlen) == -1) {
		*abort = 1;
		return bad(n, "invalid base64 in SASL response");
	}
	return NV_OK;
}

static enum net_verdict
cmd_auth(struct net *n, const struct pop3_cmd *cmd)
{
	static unsigned char tok[SASL_TOKEN_MAX + 1];
	static char b64[XSASL_B64_SIZE(SASL_TOKEN_MAX)];
	const void *data;
	enum net_verdict v;
	char mech[KPOPD_MECH_MAX];
	size_t toklen = 0, len;
	uint32_t type, has_in = 0;
	int abort;

	if (cmd->argc == 0) {
		/* Not in RFC 5034, but clients probe with it: list them. */
		if (reply(n, "+OK mechanisms follow") != NV_OK ||
		    each_mech(n, mech_put, "") == -1)
			return NV_FAIL;
		return io_puts(n->io, ".\r\n") == IO_OK ? NV_OK : NV_FAIL;
	}
	if (cmd->argc > 2 || cmd->arglen[0] >= sizeof(mech))
		return bad(n, "AUTH takes a mechanism and an initial response");
	memcpy(mech, cmd->argv[0], cmd->arglen[0] + 1);
	if (each_mech(n, mech_match, mech) != -1)
		return bad(n, "unsupported authentication mechanism");
	if (cmd->argc == 2) {
		has_in = 1;
		if (strcmp(cmd->argv[1], "=") != 0 &&
		    xsasl_b64_decode(cmd->argv[1], cmd->arglen[1], tok,
		    sizeof(tok), &toklen) == -1)
			return bad(n, "invalid base64 in initial response");
	}
	ipc_reset(&n->b);
	ipc_put_str(&n->b, mech);
	ipc_put_u32(&n->b, has_in);
	ipc_put_bytes(&n->b, tok, toklen);
	put_tls_binding(n);
	if (ipc_send(n->mon, M_SASL_START, &n->b, -1) == -1)
		return NV_FAIL;
	for (;;) {
		if (await_monitor(n, &type) == -1)
			return NV_FAIL;
		if (type == M_AUTH_RESULT) {
			util_snprintf(n->method_buf, sizeof(n->method_buf),
			    "SASL %s", mech);
			return auth_result(n, n->method_buf);
		}
		if (type != M_SASL_CONT ||
		    ipc_get_bytes(&n->b, &data, &len) == -1 ||
		    ipc_end(&n->b) == -1 ||
		    xsasl_b64_encode(data, len, b64, sizeof(b64), &len) == -1)
			return NV_FAIL;
		/* Clients skip exactly "+ " before the base64. */
		if (reply(n, "+ %s", b64) != NV_OK || io_flush(n->io) != IO_OK)
			return NV_FAIL;
		v = sasl_read(n, tok, &toklen, &abort);
		if (v == NV_FAIL)
			return NV_FAIL;
		if (abort) {
			ipc_reset(&n->b);
			if (ipc_send(n->mon, M_SASL_ABORT, &n->b, -1) == -1)
				return NV_FAIL;
			return v;
		}
		ipc_reset(&n->b);
		ipc_put_bytes(&n->b, tok, toklen);
		if (ipc_send(n->mon, M_SASL_STEP, &n->b, -1) == -1)
			return NV_FAIL;
	}
}

/*
 * Resolve argument i as a message number: 0 and the 0-based index, or
 * a -ERR reply already queued and -1.
 */
static int
msg_arg(struct net *n, const struct pop3_cmd *cmd, int i, size_t *idx,
    enum net_verdict *v)
{
	unsigned long long num;

	if (pop3_cmd_num(cmd, i, 0, ULLONG_MAX, &num) == -1) {
		*v = bad(n, "invalid message number");
		return -1;
	}
	if (num > n->count) {
		*v = refuse(n, "no such message");
		return -1;
	}
	if (n->del[num - 1]) {
		*v = refuse(n, "message is deleted");
		return -1;
	}
	*idx = (size_t)(num - 1);
	return 0;
}

static enum net_verdict
cmd_stat(struct net *n, const struct pop3_cmd *cmd)
{
	if (!pop3_cmd_args_ok(cmd, 0, 0))
		return bad(n, "STAT takes no arguments");
	return reply(n, "+OK %zu %llu", n->count - n->ndel,
	    n->total - n->delsize);
}

/* LIST and UIDL: one message, or all that are not deleted. */
static enum net_verdict
list_or_uidl(struct net *n, const struct pop3_cmd *cmd, int uidl)
{
	enum net_verdict v;
	size_t i;

	if (!pop3_cmd_args_ok(cmd, 0, 1))
		return bad(n, "takes at most one message number");
	if (cmd->argc == 1) {
		if (msg_arg(n, cmd, 0, &i, &v) == -1)
			return v;
		if (uidl)
			return reply(n, "+OK %zu %s", i + 1, n->msgs[i].uidl);
		return reply(n, "+OK %zu %llu", i + 1, n->msgs[i].size);
	}
	if (reply(n, "+OK %zu messages", n->count - n->ndel) != NV_OK)
		return NV_FAIL;
	for (i = 0; i < n->count; i++) {
		if (n->del[i])
			continue;
		if ((uidl ? io_printf(n->io, "%zu %s\r\n", i + 1,
		    n->msgs[i].uidl) : io_printf(n->io, "%zu %llu\r\n", i + 1,
		    n->msgs[i].size)) != IO_OK)
			return NV_FAIL;
	}
	return io_puts(n->io, ".\r\n") == IO_OK ? NV_OK : NV_FAIL;
}

static enum net_verdict
cmd_list(struct net *n, const struct pop3_cmd *cmd)
{
	return list_or_uidl(n, cmd, 0);
}

static enum net_verdict
cmd_uidl(struct net *n, const struct pop3_cmd *cmd)
{
	return list_or_uidl(n, cmd, 1);
}

static int
net_sink(void *arg, const void *p, size_t len)
{
	return io_write(arg, p, len) == IO_OK ? 0 : -1;
}

/* Close what was opened ahead and not used. */
static void
pre_drop(struct net *n)
{
	size_t k;

	for (k = 0; k < n->npre; k++)
		if (n->pre[k].fd >= 0)
			close(n->pre[k].fd);
	n->npre = 0;
}

/*
 * Ask the monitor for message i and, when the client is reading in
 * order, the next ones (struct net_pre).  Returns 0 with n->pre[] filled,
 * or -1 when the monitor failed us.
 */
static int
pre_fetch(struct net *n, size_t i)
{
	uint32_t want[IPC_FDS_MAX], type, cnt;
	int fds[IPC_FDS_MAX];
	size_t nw = 0, nfds = 0, used = 0, k, j;
	struct net_pre *p;

	pre_drop(n);
	n->pre_win = (i == n->pre_next && n->pre_win > 0) ?
	    (n->pre_win * 2 > IPC_FDS_MAX ? IPC_FDS_MAX : n->pre_win * 2) : 1;
	want[nw++] = (uint32_t)i;
	for (j = i + 1; j < n->count && nw < n->pre_win; j++)
		if (!n->del[j])
			want[nw++] = (uint32_t)j;
	n->pre_next = want[nw - 1] + 1;
	ipc_reset(&n->b);
	ipc_put_u32(&n->b, (uint32_t)nw);
	for (k = 0; k < nw; k++)
		ipc_put_u32(&n->b, want[k]);
	if (ipc_send(n->mon, M_GET_MSG, &n->b, -1) == -1 ||
	    ipc_recv_fds(n->mon, &type, &n->b, fds, &nfds, nw,
	    NET_MON_TIMEOUT) != 0)
		return -1;
	if (type != M_MSG || ipc_get_u32(&n->b, &cnt) == -1 || cnt != nw)
		goto bad;
	for (k = 0; k < nw; k++) {
		p = &n->pre[k];
		p->idx = want[k];
		p->live = 1;
		p->fd = -1;
		if (ipc_get_u32(&n->b, &p->r) == -1 ||
		    ipc_get_u64(&n->b, &p->off) == -1 ||
		    ipc_get_u64(&n->b, &p->len) == -1 ||
		    ipc_get_str(&n->b, p->text, sizeof(p->text)) == -1 ||
		    p->off > (uint64_t)LLONG_MAX ||
		    p->len > (uint64_t)LLONG_MAX - p->off)
			goto bad;
		if (p->r == 0) {
			if (used == nfds)
				goto bad;
			p->fd = fds[used++];
		}
		n->npre = k + 1;
	}
	if (ipc_end(&n->b) == -1 || used != nfds)
		goto bad;
	return 0;
bad:
	for (k = used; k < nfds; k++)
		close(fds[k]);
	pre_drop(n);
	errno = EPROTO;
	return -1;
}

/* Send message i, cut after body_lines lines when >= 0 (TOP). */
static enum net_verdict
send_msg(struct net *n, size_t i, long long body_lines)
{
	struct pop3_enc e;
	struct net_pre *p = NULL;
	uint64_t off, len;
	uint32_t r;
	ssize_t got;
	size_t want, k;
	int fd = -1;

	for (k = 0; k < n->npre && p == NULL; k++)
		if (n->pre[k].live && n->pre[k].idx == i)
			p = &n->pre[k];
	if (p == NULL) {
		if (pre_fetch(n, i) == -1) {
			n->end = "monitor";
			return NV_FAIL;
		}
		p = &n->pre[0];
	}
	fd = p->fd;
	p->fd = -1;
	p->live = 0;	/* a second RETR of it asks again */
	r = p->r;
	off = p->off;
	len = p->len;
	if (r != 0)
		return reply(n, "-ERR [SYS/TEMP] message %zu is not "
		    "available", i + 1) == NV_OK ? NV_BAD : NV_FAIL;
	if (reply(n, "+OK %llu octets", n->msgs[i].size) != NV_OK)
		goto fail;
	pop3_enc_init(&e, body_lines);
	while (len > 0 && !e.done) {
		want = len < sizeof(n->block) ? (size_t)len : sizeof(n->block);
		got = pread(fd, n->block, want, (off_t)off);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0) {
			/* Cut short behind our back: end the reply cleanly. */
			log_err("%s: message %zu ended early: %s", n->user,
			    i + 1, got == 0 ? "end of file" : strerror(errno));
			break;
		}
		if (pop3_enc_feed(&e, n->block, (size_t)got, net_sink,
		    n->io) == -1)
			goto fail;
		off += (uint64_t)got;
		len -= (uint64_t)got;
	}
	if (pop3_enc_end(&e, net_sink, n->io) == -1)
		goto fail;
	close(fd);
	if (body_lines < 0) {
		n->retr_msgs++;
		n->retr_bytes += e.octets;
	}
	if (i + 1 > n->last)
		n->last = i + 1;
	return NV_OK;
fail:
	close(fd);
	return NV_FAIL;
}

static enum net_verdict
cmd_retr(struct net *n, const struct pop3_cmd *cmd)
{
	enum net_verdict v;
	size_t i;

	if (!pop3_cmd_args_ok(cmd, 1, 1))
		return bad(n, "RETR takes one message number");
	if (msg_arg(n, cmd, 0, &i, &v) == -1)
		return v;
	return send_msg(n, i, -1);
}

static enum net_verdict
cmd_top(struct net *n, const struct pop3_cmd *cmd)
{
	unsigned long long lines;
	enum net_verdict v;
	size_t i;

	if (!pop3_cmd_args_ok(cmd, 2, 2))
		return bad(n, "TOP takes a message number and a line count");
	if (msg_arg(n, cmd, 0, &i, &v) == -1)
		return v;
	/* fetchmail asks for TOP n 99999999: any count means "up to". */
	if (pop3_cmd_num(cmd, 1, 1, ULLONG_MAX, &lines) == -1)
		return bad(n, "invalid line count");
	if (lines > LLONG_MAX)
		lines = LLONG_MAX;
	return send_msg(n, i, (long long)lines);
}

static enum net_verdict
cmd_dele(struct net *n, const struct pop3_cmd *cmd)
{
	enum net_verdict v;
	size_t i;

	if (!pop3_cmd_args_ok(cmd, 1, 1))
		return bad(n, "DELE takes one message number");
	if (msg_arg(n, cmd, 0, &i, &v) == -1)
		return v;
	n->del[i] = 1;
	n->ndel++;
	n->delsize += n->msgs[i].size;
	return reply(n, "+OK message %zu deleted", i + 1);
}

static enum net_verdict
cmd_rset(struct net *n, const struct pop3_cmd *cmd)
{
	if (!pop3_cmd_args_ok(cmd, 0, 0))
		return bad(n, "RSET takes no arguments");
	memset(n->del, 0, n->count);
	n->ndel = 0;
	n->delsize = 0;
	n->last = 0;
	return reply(n, "+OK %zu messages (%llu octets)", n->count, n->total);
}

static enum net_verdict
cmd_noop(struct net *n, const struct pop3_cmd *cmd)
{
	if (!pop3_cmd_args_ok(cmd, 0, 0))
		return bad(n, "NOOP takes no arguments");
	return reply(n, "+OK");
}

/* LAST (RFC 1460): still sent by fetchmail. */
static enum net_verdict
cmd_last(struct net *n, const struct pop3_cmd *cmd)
{
	if (!pop3_cmd_args_ok(cmd, 0, 0))
		return bad(n, "LAST takes no arguments");
	return reply(n, "+OK %zu", n->last);
}

static enum net_verdict
cmd_utf8(struct net *n, const struct pop3_cmd *cmd)
{
	if (!pop3_cmd_args_ok(cmd, 0, 0))
		return bad(n, "UTF8 takes no arguments");
	n->utf8 = 1;
	return reply(n, "+OK UTF-8 enabled");
}

static enum net_verdict
cmd_quit(struct net *n, const struct pop3_cmd *cmd)
{
	char text[256];
	uint32_t type, r;

	if (n->state == NS_AUTH) {
		n->end = "quit";
		return reply(n, "+OK bye") == NV_OK ? NV_CLOSE : NV_FAIL;
	}
	/*
	 * The deletions go as a bitmap in one message: count u32, then the
	 * bytes with their u32 length.  MD_MSGS_MAX is set so it fits.
	 */
	_Static_assert(2 * 4 + (MD_MSGS_MAX + 7) / 8 <= IPC_MSG_MAX,
	    "MD_MSGS_MAX: the QUIT bitmap must fit one IPC message");
	{
		unsigned char *bits;
		size_t i, nb = (n->count + 7) / 8;

		if ((bits = calloc(nb + 1, 1)) == NULL)
			return NV_FAIL;
		for (i = 0; i < n->count; i++)
			if (n->del[i])
				bits[i / 8] |= (unsigned char)(1U << (i % 8));
		ipc_reset(&n->b);
		ipc_put_u32(&n->b, (uint32_t)n->count);
		ipc_put_bytes(&n->b, bits, nb);
		free(bits);
	}
	if (n->b.bad) {
		n->end = "error";
		return reply(n, "-ERR [SYS/TEMP] too many messages to "
		    "update") == NV_OK ? NV_CLOSE : NV_FAIL;
	}
	if (ipc_send(n->mon, M_QUIT, &n->b, -1) == -1 ||
	    ipc_recv(n->mon, &type, &n->b, NULL, NET_MON_TIMEOUT) != 0 ||
	    type != M_QUIT_RESULT || ipc_get_u32(&n->b, &r) == -1 ||
	    ipc_get_str(&n->b, text, sizeof(text)) == -1 ||
	    ipc_end(&n->b) == -1) {
		n->end = "monitor";
		return reply(n, "-ERR [SYS/TEMP] update failed; no message "
		    "was deleted") == NV_OK ? NV_CLOSE : NV_FAIL;
	}
	n->end = r == 0 ? "quit" : "quit-failed";
	if (r != 0) {
		n->ndel = 0;
		return reply(n, "-ERR [SYS/TEMP] could not delete messages; "
		    "all are kept") == NV_OK ? NV_CLOSE : NV_FAIL;
	}
	return reply(n, "+OK bye, %zu messages deleted", n->ndel) == NV_OK ?
	    NV_CLOSE : NV_FAIL;
}

#define A	NS_AUTH
#define T	NS_TRANS

static const struct net_cmd net_cmds[] = {
	{ "CAPA", cmd_capa, A | T, 1 },
	{ "STLS", cmd_stls, A, 0 },
	{ "USER", cmd_user, A, 0 },
	{ "PASS", cmd_pass, A, 0 },
	{ "AUTH", cmd_auth, A, 0 },
	{ "APOP", cmd_apop, A, 0 },
	{ "UTF8", cmd_utf8, A, 0 },
	{ "QUIT", cmd_quit, A | T, 1 },
	{ "STAT", cmd_stat, T, 0 },
	{ "LIST", cmd_list, T, 1 },
	{ "UIDL", cmd_uidl, T, 1 },
	{ "RETR", cmd_retr, T, 1 },
	{ "TOP", cmd_top, T, 1 },
	{ "DELE", cmd_dele, T, 1 },
	{ "RSET", cmd_rset, T, 1 },
	{ "NOOP", cmd_noop, T, 0 },
	{ "LAST", cmd_last, T, 1 },
};

#undef A
#undef T

/*
 * KPOP: the krb5 sendauth exchange before the greeting.  The framing is
 * parsed here with its bounds (common/sendauth.c); the AP-REQ is checked
 * by the monitor.  Returns 0, or -1 (logged) to close.
 */
static int
kpop_handshake(struct net *n)
{
	static unsigned char apreq[KPOPD_APREQ_MAX];
	const void *data;
	char err[256];
	size_t len;
	uint32_t type, ok;
	int st;

	st = sendauth_accept(n->io, KPOP_APPL_VERSION, err, sizeof(err));
	if (st == SA_OK)
		st = sendauth_read_block(n->io, apreq, sizeof(apreq), &len,
		    err, sizeof(err));
	if (st != SA_OK) {
		log_notice("%s: KPOP refused: %s", n->s->peer, err);
		return -1;
	}
	ipc_reset(&n->b);
	ipc_put_bytes(&n->b, apreq, len);
	if (ipc_send(n->mon, M_KPOP_APREQ, &n->b, -1) == -1 ||
	    await_monitor(n, &type) == -1 || type != M_KPOP_RESULT ||
	    ipc_get_u32(&n->b, &ok) == -1 ||
	    ipc_get_bytes(&n->b, &data, &len) == -1 || ipc_end(&n->b) == -1)
		return -1;
	if (!ok) {
		/* The client shows the KRB-ERROR; the monitor logged it. */
		if (len > 0 && sendauth_write_block(n->io, data, len) ==
		    IO_OK)
			(void)io_flush(n->io);
		return -1;
	}
	if (sendauth_write_block(n->io, NULL, 0) != IO_OK ||
	    (len > 0 && sendauth_write_block(n->io, data, len) != IO_OK))
		return -1;
	n->kpop = 1;
	n->method = "KPOP";
	return 0;
}

/* Give up root: an empty chroot, then the unprivileged user. */
static void
net_drop(const struct net *n)
{
	const struct kpopd_conf *c = n->c;
	struct passwd *pw;
	struct stat st;

	if (!n->s->privsep)
		return;
	if ((pw = getpwnam(c->unpriv_user)) == NULL) {
		log_err("unpriv_user '%s' does not exist; create it with: "
		    "useradd --system --no-create-home --home-dir /nonexistent "
		    "--shell /usr/sbin/nologin %s", c->unpriv_user,
		    c->unpriv_user);
		_exit(78);
	}
	if (pw->pw_uid == 0) {
		log_err("unpriv_user '%s' is root", c->unpriv_user);
		_exit(78);
	}
	if (stat(c->chroot_dir, &st) == -1 && errno == ENOENT) {
		char parent[KPOPD_PATH_MAX];
		char *slash;

		util_strlcpy(parent, c->chroot_dir, sizeof(parent));
		if ((slash = strrchr(parent, '/')) != NULL && slash != parent) {
			*slash = '\0';
			(void)mkdir(parent, 0755);
		}
		(void)mkdir(c->chroot_dir, 0755);
	}
	if (chroot(c->chroot_dir) == -1 || chdir("/") == -1) {
		log_err("cannot chroot to %s: %s", c->chroot_dir,
		    strerror(errno));
		_exit(71);
	}
	if (setgroups(0, NULL) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1 || setuid(0) != -1) {
		log_err("cannot become %s: %s", c->unpriv_user,
		    strerror(errno));
		_exit(71);
	}
}

/*
 * Close gently: with the last reply sent, stop sending and read what the
 * client still had in flight, for a moment.  Closing with unread input
 * makes the kernel send a reset, which can destroy the last reply (such
 * as "too many bad commands") before the client reads it.
 */
static void
linger_close(struct net *n)
{
	char drain[4096];
	int64_t until;
	struct pollfd pfd;
	size_t total = 0;
	ssize_t r;
	int fd = io_fd(n->io);

	(void)io_flush(n->io);
	if (!tls_active(n->io))
		(void)shutdown(fd, SHUT_WR);
	until = util_now_ms() + NET_LINGER_MS;
	while (total < NET_LINGER_BYTES && util_now_ms() < until) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(until - util_now_ms())) <= 0)
			break;
		if ((r = read(fd, drain, sizeof(drain))) <= 0)
			break;
		total += (size_t)r;
	}
}

static void
log_end(const struct net *n)
{
	log_notice("session: peer=%s user=%s method=%s tls=%s retr=%llu "
	    "bytes=%llu dele=%zu time=%lds end=%s", n->s->peer,
	    n->state == NS_TRANS ? n->user : "-",
	    n->method != NULL ? n->method : "-",
	    tls_active(n->io) ? tls_version(n->io) : "none", n->retr_msgs,
	    n->retr_bytes, n->end != NULL && strcmp(n->end, "quit") == 0 ?
	    n->ndel : 0, (long)(time(NULL) - n->start),
	    n->end != NULL ? n->end : "error");
}

static void
touch_monitor(struct net *n)
{
	time_t now = time(NULL);

	if (n->state != NS_TRANS || now == n->touched)
		return;
	n->touched = now;
	ipc_reset(&n->b);
	if (ipc_send(n->mon, M_TOUCH, &n->b, -1) == -1)
		log_debug("cannot reach the monitor: %s", strerror(errno));
}

void
net_main(const struct session_start *s, int mon)
{
	static struct net net;
	struct net *n = &net;
	struct pop3_cmd cmd;
	char line[POP3_CMD_LIMIT - 1];
	enum net_verdict v;
	size_t len, i;
	int st, e;

	n->s = s;
	n->c = s->conf;
	n->mon = mon;
	n->state = NS_AUTH;
	n->start = time(NULL);
	signal(SIGTERM, SIG_DFL);
	net_drop(n);
	if ((n->io = io_new(s->fd)) == NULL) {
		log_err("%s: out of memory", s->peer);
		_exit(71);
	}
	if (s->kind == LK_KPOP) {
		io_set_timeout(n->io, (int)n->c->login_timeout * 1000);
		if (kpop_handshake(n) == -1) {
			n->end = "kpop-refused";
			goto out;
		}
	}
	if (s->kind == LK_POP3S) {
		io_set_timeout(n->io, (int)n->c->tls_timeout * 1000);
		if (s->tls == NULL ||
		    tls_start(n->io, s->tls, TLS_SERVER, NULL) != IO_OK) {
			log_notice("%s: TLS handshake failed: %s", s->peer,
			    io_error(n->io));
			_exit(0);
		}
	}
	io_set_timeout(n->io, (int)n->c->login_timeout * 1000);
	if (n->c->apop) {
		uint32_t type;

		/* The monitor makes and keeps the APOP timestamp. */
		ipc_reset(&n->b);
		if (ipc_send(n->mon, M_APOP_CHALLENGE, &n->b, -1) == -1 ||
		    await_monitor(n, &type) == -1 ||
		    type != M_APOP_CHALLENGE ||
		    ipc_get_str(&n->b, n->apop, sizeof(n->apop)) == -1 ||
		    ipc_end(&n->b) == -1)
			goto out;
	}
	if (sandbox_net(n->c, line, sizeof(line)) == -1) {
		log_err("%s: cannot sandbox the net process: %s", s->peer,
		    line);
		_exit(71);
	}
	if (reply(n, "+OK kpopd ready%s%s", n->apop[0] ? " " : "", n->apop) !=
	    NV_OK)
		goto out;

	for (;;) {
		if (io_pending(n->io) == 0 && io_flush(n->io) != IO_OK)
			break;
		/* Room for max_line_length with CRLF, less the CRLF. */
		st = io_readline(n->io, line, n->c->max_line_length - 1, &len);
		if (st == IO_TIMEOUT) {
			n->end = "timeout";
			if (reply(n, "-ERR disconnected for inactivity") ==
			    NV_OK)
				(void)io_flush(n->io);
			break;
		}
		if (st == IO_EOF) {
			n->end = "eof";
			break;
		}
		if (st == IO_ERROR) {
			n->end = "io-error";
			break;
		}
		if (st == IO_TOOLONG) {
			v = bad(n, "line too long");
		} else if ((e = pop3_parse_cmd_max(line, len,
		    n->c->max_line_length, &cmd)) != POP3_CMD_OK) {
			v = bad(n, pop3_cmd_strerror(e));
		} else {
			for (i = 0; i < KP_NELEM(net_cmds); i++)
				if (strcmp(net_cmds[i].name, cmd.keyword) == 0)
					break;
			if (i == KP_NELEM(net_cmds))
				v = bad(n, "unknown command");
			else if ((net_cmds[i].states & (int)n->state) == 0)
				v = bad(n, "command not valid in this state");
			else if (n->state == NS_TRANS && net_cmds[i].table &&
			    n->snap_got < n->count && snapshot_rest(n) == -1) {
				n->end = "monitor";
				v = NV_FAIL;
			} else {
				touch_monitor(n);
				v = net_cmds[i].fn(n, &cmd);
			}
			util_wipe(&cmd, sizeof(cmd));
		}
		util_wipe(line, sizeof(line));
		if (v == NV_FAIL)
			break;
		if (v == NV_CLOSE) {
			(void)io_flush(n->io);
			break;
		}
		if (v == NV_BAD && ++n->bad >= n->c->max_bad_commands) {
			(void)reply(n, "-ERR too many bad commands");
			n->end = "bad-commands";
			(void)io_flush(n->io);
			break;
		}
	}
out:
	log_end(n);
	pre_drop(n);
	linger_close(n);
	io_free(n->io);
	close(mon);
	_exit(0);
}
