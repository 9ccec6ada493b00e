/* SPDX-License-Identifier: MIT */
/*
 * kpopd/net.c: the net process.  It owns the client connection (and TLS),
 * runs with no privileges in an empty chroot when kpopd started as root,
 * and is the only process that parses what the client sends.  This file
 * sets the process up (privileges, KPOP's sendauth, POP3S, the sandbox,
 * the greeting) and runs the command loop over a table of the states each
 * command is valid in; the commands are net-auth.c's (AUTHORIZATION) and
 * net-trans.c's (TRANSACTION).  Handlers reply through the buffered io,
 * so pipelined commands are answered in order and their replies leave in
 * one write.  The monitor is asked through monwrap.h.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/io.h"
#include "common/log.h"
#include "common/pop3.h"
#include "common/sendauth.h"
#include "common/tls.h"
#include "kpopd/drop.h"
#include "kpopd/kpopd.h"
#include "kpopd/monwrap.h"
#include "kpopd/net-int.h"
#include "kpopd/refuse.h"
#include "kpopd/title.h"

/* What a proxied session over max_sessions_per_ip is told. */
#define PER_IP_TEXT	"[SYS/TEMP] too many sessions from your address"

struct net_cmd {
	const char		*name;
	net_cmd_fn		*fn;
	int			 states;
	int			 table;	/* the snapshot's table read first */
};

#define A	NS_AUTH
#define T	NS_TRANS

/*
 * The commands, the states each is valid in, and whether it needs the
 * snapshot's table.  A name may have a row per state (QUIT); one that
 * matches no row of the current state is "not valid in this state".
 */
static const struct net_cmd net_cmds[] = {
	{ "CAPA", net_auth_capa, A | T, 1 },
	{ "STLS", net_auth_stls, A, 0 },
	{ "USER", net_auth_user, A, 0 },
	{ "PASS", net_auth_pass, A, 0 },
	{ "AUTH", net_auth_auth, A, 0 },
	{ "APOP", net_auth_apop, A, 0 },
	{ "UTF8", net_auth_utf8, A, 0 },
	{ "QUIT", net_auth_quit, A, 0 },
	{ "QUIT", net_trans_quit, T, 1 },
	{ "STAT", net_trans_stat, T, 0 },
	{ "LIST", net_trans_list, T, 1 },
	{ "UIDL", net_trans_uidl, T, 1 },
	{ "RETR", net_trans_retr, T, 1 },
	{ "TOP", net_trans_top, T, 1 },
	{ "DELE", net_trans_dele, T, 1 },
	{ "RSET", net_trans_rset, T, 1 },
	{ "NOOP", net_trans_noop, T, 0 },
	{ "LAST", net_trans_last, T, 1 },
};

#undef A
#undef T

/*
 * The row of net_cmds[] for keyword in state: the command's, NULL with
 * *known set if it exists only in other states, NULL if it is unknown.
 */
static const struct net_cmd *
cmd_find(const char *keyword, enum net_state state, int *known)
{
	size_t i;

	*known = 0;
	for (i = 0; i < KP_NELEM(net_cmds); i++) {
		if (strcmp(net_cmds[i].name, keyword) != 0)
			continue;
		*known = 1;
		if ((net_cmds[i].states & (int)state) != 0)
			return &net_cmds[i];
	}
	return NULL;
}

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
	int st, ok;

	st = sendauth_accept(n->io, KPOP_APPL_VERSION, err, sizeof(err));
	if (st == SA_OK)
		st = sendauth_read_block(n->io, apreq, sizeof(apreq), &len,
		    err, sizeof(err));
	if (st != SA_OK) {
		log_notice("KPOP connection refused: not a Kerberos "
		    "sendauth exchange kpopd accepts: %s", err);
		return -1;
	}
	if (mw_kpop_apreq(&n->mw, apreq, len, &ok, &data, &len) == -1)
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

/*
 * The end-of-session line kpopd(8) documents: key=value, every value one
 * word (log_value).  The net process writes it as the last thing it does
 * and exits 0; the monitor writes it instead when the net process could
 * not (monitor.c).
 */
static void
log_end(const struct net *n)
{
	char peer[4 * sizeof(n->s->peer)], user[160], method[64], tls[32];

	(void)log_value(peer, sizeof(peer), n->s->peer);
	(void)log_value(user, sizeof(user), n->state == NS_TRANS ? n->user :
	    "");
	(void)log_value(method, sizeof(method), n->method);
	(void)log_value(tls, sizeof(tls), tls_active(n->io) ?
	    tls_version(n->io) : "none");
	log_notice("end=%s peer=%s user=%s method=%s tls=%s layer=%s "
	    "retr=%llu bytes=%llu dele=%zu time=%ld", n->end != NULL ?
	    n->end : "error", peer, user, method, tls, n->layer ? "yes" : "no",
	    n->retr_msgs, n->retr_bytes, n->end != NULL &&
	    strcmp(n->end, "quit") == 0 ? n->ndel : 0,
	    (long)(time(NULL) - n->start));
}

static void
touch_monitor(struct net *n)
{
	time_t now = time(NULL);

	if (now == n->touched)
		return;
	n->touched = now;
	if (mw_touch(&n->mw, io_sent(n->io)) == -1)
		log_debug("cannot tell the monitor the session is active: %s",
		    strerror(errno));
}

void
net_main(const struct session_start *s, int mon)
{
	static struct net net;
	struct net *n = &net;
	krb5_data refusal = { 0 };
	struct pop3_cmd cmd;
	char err[ERR_MSG_MAX];
	enum net_verdict v;
	const struct net_cmd *c;
	size_t len;
	int st, e, known;

	n->ss = *s;
	n->s = s = &n->ss;
	/* A proxied KPOP client may have to be refused (below). */
	if (s->proxy && s->kind == LK_KPOP &&
	    refuse_krb_error(s, PER_IP_TEXT, &refusal) == -1)
		log_warn("cannot make the KRB-ERROR that would refuse %s",
		    s->peer);
	title_set("kpopd: net %s", s->peer);
	n->c = s->conf;
	mw_init(&n->mw, mon);
	n->state = NS_AUTH;
	n->start = time(NULL);
	signal(SIGTERM, SIG_DFL);
	drop_net(s);
	if ((n->io = io_new(s->fd)) == NULL) {
		log_err("cannot start the session: out of memory");
		_exit(71);	/* the monitor writes the end line */
	}
	if (s->proxy && net_proxy(n) == -1)
		goto out;
	if (s->kind == LK_KPOP && !n->proxy_over) {
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
			log_notice("POP3S port: %s", io_error(n->io));
			n->end = "tls-failed";
			goto out;
		}
	}
	io_set_timeout(n->io, (int)n->c->login_timeout * 1000);
	if (n->proxy_over) {
		/* KPOP says it in a KRB-ERROR after its sendauth. */
		if (s->kind != LK_KPOP)
			(void)net_reply(n, "-ERR " PER_IP_TEXT);
		else if (refusal.length > 0 &&
		    refuse_kpop(n->io, &refusal, err, sizeof(err)) == -1)
			log_info("KPOP: refusing: %s", err);
		n->end = "max-per-ip";
		goto out;
	}
	/* The monitor makes and keeps the APOP timestamp. */
	if (n->c->apop &&
	    mw_apop_challenge(&n->mw, n->apop, sizeof(n->apop)) == -1) {
		n->end = "monitor";
		goto out;
	}
	if (sandbox_net(n->c, err, sizeof(err)) == -1) {
		log_err("cannot confine the session's net process, ending "
		    "the session: %s", err);
		n->end = "error";
		goto out;
	}
	if (net_reply(n, "+OK kpopd ready%s%s", n->apop[0] ? " " : "",
	    n->apop) != NV_OK)
		goto out;

	for (;;) {
		if (io_pending(n->io) == 0 && io_flush(n->io) != IO_OK) {
			n->end = "io-error";
			break;
		}
		/*
		 * Room for the longest AUTH line (pop3_parse_auth_line);
		 * every other command is held to max_line_length below.
		 */
		len = 0;
		st = io_readline(n->io, n->line, sizeof(n->line), &len);
		if (st == IO_TIMEOUT) {
			n->end = "timeout";
			if (net_reply(n, "-ERR disconnected for inactivity") ==
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
		if (st == IO_TOOLONG)
			e = POP3_CMD_TOOLONG;
		else if (len + 2 <= n->c->max_line_length)
			e = pop3_parse_cmd_max(n->line, len,
			    n->c->max_line_length, &cmd);
		else if (n->state == NS_AUTH)
			e = pop3_parse_auth_line(n->line, len, &cmd);
		else
			e = POP3_CMD_TOOLONG;
		if (e == POP3_CMD_TOOLONG) {
			v = net_reply_bad(n, "line too long");
		} else if (e != POP3_CMD_OK) {
			v = net_reply_bad(n, pop3_cmd_strerror(e));
		} else {
			if ((c = cmd_find(cmd.keyword, n->state, &known)) ==
			    NULL)
				v = net_reply_bad(n, known ? "command not "
				    "valid in this state" : "unknown command");
			else if (n->state == NS_TRANS && c->table &&
			    n->snap_got < n->count &&
			    net_trans_table(n) == -1) {
				n->end = "monitor";
				v = NV_FAIL;
			} else {
				touch_monitor(n);
				v = c->fn(n, &cmd);
			}
			util_wipe(&cmd, sizeof(cmd));
		}
		/* The line may hold a password (PASS) or a token (AUTH). */
		util_wipe(n->line, st == IO_TOOLONG ? sizeof(n->line) :
		    len + 1);
		if (v == NV_FAIL)
			break;
		if (v == NV_CLOSE) {
			(void)io_flush(n->io);
			break;
		}
		if (v == NV_BAD && ++n->bad >= n->c->max_bad_commands) {
			(void)net_reply(n, "-ERR too many bad commands");
			n->end = "bad-commands";
			(void)io_flush(n->io);
			break;
		}
	}
out:
	if (mw_kicked(&n->mw))
		n->end = "kicked";
	net_trans_end(n);
	linger_close(n);
	/* The last count, for kpopctl (the monitor may be gone: no matter). */
	(void)!mw_touch(&n->mw, io_sent(n->io));
	log_end(n);
	io_free(n->io);
	/* The monitor sees mon close as we exit: after the end line. */
	_exit(0);
}
