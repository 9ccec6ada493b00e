/* SPDX-License-Identifier: MIT */
/*
 * kpopd/refuse.c: turning away a connection over the session limits with
 * the RFC 3206 "[SYS/TEMP]" a client reports as "try again later", as far
 * as each port's protocol allows (kpopd.conf(5) says what each does):
 *
 *   POP3   "-ERR [SYS/TEMP] ..." as the greeting, written by the master
 *          (a fresh socket's buffer takes one line at once) and closed.
 *   POP3S  the same line after the TLS handshake, so the client sees a
 *          POP3 answer rather than a TLS failure.
 *   KPOP   the sendauth versions accepted and the AP-REQ read (never
 *          checked: no key is used), then a KRB-ERROR
 *          KDC_ERR_SVC_UNAVAILABLE ("A service is not available") whose
 *          text is the same sentence; krb5_sendauth hands it to the
 *          client, and fetchmail shows it as "[server says '...']".
 *
 * On a "proxy" listener the refusal process first reads the balancer's
 * PROXY header (common/proxy.c), so the answer reaches the client and
 * the log names it.  The net process refuses a proxied session over
 * max_sessions_per_ip itself (net.c), with refuse_kpop on the KPOP port.
 *
 * The last two wait on the client, so a refusal process does them, never
 * the master: unprivileged in the empty chroot as the net process is,
 * at most REFUSE_PROCS_MAX at once, each ended after REFUSE_TIMEOUT
 * seconds.  Past that bound a connection is closed without a word: a
 * flood of refused connections costs a few processes, never more.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <krb5.h>

#include "common/io.h"
#include "common/log.h"
#include "common/proxy.h"
#include "common/sendauth.h"
#include "common/tls.h"
#include "kpopd/drop.h"
#include "kpopd/kpopd.h"
#include "kpopd/refuse.h"
#include "kpopd/title.h"


static const char refuse_line[] = "-ERR " REFUSE_TEXT "\r\n";

static pid_t	refusers[REFUSE_PROCS_MAX];
static size_t	nrefusers;

static const char *
port_name(enum listen_kind k)
{
	return k == LK_POP3S ? "POP3S" : k == LK_KPOP ? "KPOP" : "POP3";
}

int
refuse_now(const struct session_start *s, const char *why)
{
	if (s->kind == LK_POP3) {
		(void)!write(s->fd, refuse_line, sizeof(refuse_line) - 1);
		log_notice("refused a connection from %s: %s (POP3: -ERR "
		    "[SYS/TEMP] sent)", s->peer, why);
	} else if (nrefusers == REFUSE_PROCS_MAX)
		log_notice("refused a connection from %s: %s (%s: closed "
		    "without a reply, %d refusals already in progress)",
		    s->peer, why, port_name(s->kind), REFUSE_PROCS_MAX);
	else
		return 0;
	close(s->fd);
	return 1;
}

void
refuse_started(pid_t pid, const struct session_start *s, const char *why)
{
	if (nrefusers < REFUSE_PROCS_MAX)
		refusers[nrefusers++] = pid;
	log_notice("refused a connection from %s: %s (%s: [SYS/TEMP] %s)",
	    s->peer, why, port_name(s->kind), s->kind == LK_KPOP ? "in a "
	    "KRB-ERROR after the sendauth exchange" : "after the TLS "
	    "handshake");
}

int
refuse_reaped(pid_t pid, int st)
{
	size_t i;

	for (i = 0; i < nrefusers; i++) {
		if (refusers[i] != pid)
			continue;
		refusers[i] = refusers[--nrefusers];
		if (WIFSIGNALED(st))
			log_info("a refusal process (pid %ld) was ended by "
			    "signal %d%s", (long)pid, WTERMSIG(st),
			    WTERMSIG(st) == SIGALRM ? ": the client took "
			    "too long" : "");
		return 1;
	}
	return 0;
}

int
refuse_krb_error(const struct session_start *s, const char *text,
    krb5_data *pkt)
{
	krb5_context ctx = NULL;
	krb5_error e;
	char name[600], buf[128];
	int r = -1;

	memset(&e, 0, sizeof(e));
	memset(pkt, 0, sizeof(*pkt));
	if (krb5_init_context(&ctx) != 0)
		return -1;
	util_snprintf(name, sizeof(name), "%s/%s", s->conf->service,
	    s->conf->hostname);
	if (krb5_parse_name(ctx, name, &e.server) != 0)
		goto out;
	e.error = (krb5_ui_4)(KRB5KDC_ERR_SVC_UNAVAILABLE -
	    ERROR_TABLE_BASE_krb5);
	util_strlcpy(buf, text, sizeof(buf));
	e.text.data = buf;
	e.text.length = (unsigned int)strlen(buf);
	(void)krb5_us_timeofday(ctx, &e.stime, &e.susec);
	if (krb5_mk_error(ctx, &e, pkt) == 0)
		r = 0;
out:
	krb5_free_principal(ctx, e.server);
	krb5_free_context(ctx);
	return r;
}

int
refuse_kpop(struct io *io, const krb5_data *pkt, char *err, size_t errlen)
{
	static unsigned char apreq[KPOPD_APREQ_MAX];
	size_t len;
	int st;

	if ((st = sendauth_accept(io, KPOP_APPL_VERSION, err, errlen)) ==
	    SA_OK)
		st = sendauth_read_block(io, apreq, sizeof(apreq), &len, err,
		    errlen);
	if (st != SA_OK)
		return -1;
	if (sendauth_write_block(io, pkt->data, pkt->length) != SA_OK ||
	    io_flush(io) != IO_OK) {
		util_snprintf(err, errlen, "%s", io_error(io));
		return -1;
	}
	return 0;
}

void
refuse_main(const struct session_start *s)
{
	struct proxy_hdr h;
	krb5_data pkt;
	struct io *io;
	char err[ERR_MSG_MAX], client[64];

	alarm(REFUSE_TIMEOUT);
	log_set_session(s->id);		/* its lines say which connection */
	title_set("kpopd: refusing %s", s->peer);
	memset(&pkt, 0, sizeof(pkt));
	if (s->kind == LK_KPOP &&
	    refuse_krb_error(s, REFUSE_TEXT, &pkt) == -1) {
		log_warn("cannot make the KRB-ERROR refusing %s", s->peer);
		_exit(0);
	}
	drop_net(s);
	/* Behind a balancer: its header first, then the client's bytes. */
	if (s->proxy) {
		if (proxy_read(s->fd, REFUSE_TIMEOUT * 1000, &h, err,
		    sizeof(err)) != PROXY_DONE) {
			log_info("%s: refusing: PROXY header: %s", s->peer,
			    err);
			_exit(0);
		}
		if (proxy_client(&h, client, sizeof(client)) == 0) {
			log_notice("refusing %s: the client is %s (PROXY "
			    "header)", s->peer, client);
			title_set("kpopd: refusing %s", client);
		}
	}
	if ((io = io_new(s->fd)) == NULL)
		_exit(71);
	io_set_timeout(io, REFUSE_TIMEOUT * 1000);
	if (s->kind == LK_POP3S) {
		if (s->tls == NULL ||
		    tls_start(io, s->tls, TLS_SERVER, NULL) != IO_OK) {
			log_info("%s: refusing: %s",
			    s->peer, io_error(io));
			_exit(0);
		}
		(void)io_puts(io, refuse_line);
	} else if (refuse_kpop(io, &pkt, err, sizeof(err)) == -1) {
		log_info("%s: refusing: KPOP: %s", s->peer, err);
		_exit(0);
	}
	if (io_flush(io) != IO_OK)
		log_info("%s: refusing: %s", s->peer, io_error(io));
	io_free(io);	/* TLS close_notify, then close */
	_exit(0);
}
