/* SPDX-License-Identifier: MIT */
/*
 * kpopd/net-proxy.c: the net process reads the PROXY protocol header a
 * load balancer sends on a "proxy" listener (common/proxy.c parses it).
 * It reads from the raw socket, before any TLS or KPOP byte, and never
 * past the header: the parser says how many bytes the header can still
 * hold, and no more are asked for, so the client's first bytes (a TLS
 * ClientHello, KPOP's sendauth) stay in the socket for what follows.
 * The master let only a peer in proxy_trusted_networks connect; this
 * process runs unprivileged and chrooted by the time it reads.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proxy.h"
#include "kpopd/net-int.h"
#include "kpopd/title.h"

/*
 * Read the header into buf until it is whole or refused.  Returns
 * PROXY_DONE (*h filled) or PROXY_BAD with err set (a timeout, EOF or
 * read error included).
 */
static int
read_header(int fd, int timeout_ms, struct proxy_hdr *h, char *err,
    size_t errlen)
{
	unsigned char buf[PROXY_V2_MAX];
	struct pollfd pfd;
	int64_t until = util_now_ms() + timeout_ms, left;
	size_t have = 0, want;
	ssize_t r;
	int st;

	while ((st = proxy_parse(buf, have, h, &want, err, errlen)) ==
	    PROXY_MORE) {
		if ((left = until - util_now_ms()) <= 0) {
			util_snprintf(err, errlen, "no whole PROXY header "
			    "within login_timeout (%zu bytes came)", have);
			return PROXY_BAD;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR) {
			util_snprintf(err, errlen, "poll: %s",
			    strerror(errno));
			return PROXY_BAD;
		}
		if (pfd.revents == 0)
			continue;
		/* want <= sizeof(buf): the parser's bound. */
		r = read(fd, buf + have, want - have);
		if (r == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			util_snprintf(err, errlen, "%s after %zu bytes of a "
			    "PROXY header", r == 0 ? "end of connection" :
			    strerror(errno), have);
			return PROXY_BAD;
		}
		have += (size_t)r;
	}
	return st;
}

int
net_proxy(struct net *n)
{
	struct proxy_hdr h;
	char err[ERR_MSG_MAX], addr[sizeof(n->ss.peer)];
	int st;

	if (read_header(n->s->fd, (int)n->c->login_timeout * 1000, &h, err,
	    sizeof(err)) != PROXY_DONE) {
		log_notice("PROXY header from %s refused, connection closed: "
		    "%s", n->s->peer, err);
		n->end = "proxy-refused";
		return -1;
	}
	if (proxy_client(&h, addr, sizeof(addr)) == -1) {
		/* LOCAL (a health check), UNKNOWN: the balancer's own. */
		log_debug("PROXY v%d header from %s names no client", h.version,
		    n->s->peer);
		return 0;
	}
	if (mw_proxy(&n->mw, addr, &st) == -1) {
		n->end = "monitor";
		return -1;
	}
	util_strlcpy(n->ss.peer, addr, sizeof(n->ss.peer));
	title_set("kpopd: net %s", addr);
	n->proxy_over = st != KP_OK;
	return 0;
}
