/* SPDX-License-Identifier: MIT */
/*
 * kpopd/net-proxy.c: the net process reads the PROXY protocol header a
 * load balancer sends on a "proxy" listener (common/proxy.c reads and
 * parses it, from the raw socket, before any TLS or KPOP byte and never
 * past the header) and tells the monitor the client's address.
 * The master let only a peer in proxy_trusted_networks connect; this
 * process runs unprivileged and chrooted by the time it reads.
 */
#include "config.h"

#include "common/log.h"
#include "common/proxy.h"
#include "kpopd/net-int.h"
#include "kpopd/title.h"

int
net_proxy(struct net *n)
{
	struct proxy_hdr h;
	char err[ERR_MSG_MAX], addr[sizeof(n->ss.peer)];
	int st;

	if (proxy_read(n->s->fd, (int)n->c->login_timeout * 1000, &h, err,
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
