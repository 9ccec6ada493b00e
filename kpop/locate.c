/*
 * kpop/locate.c: the post office from Hesiod or DNS SRV.  See locate.h.
 */
#include "config.h"

#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef HAVE_HESIOD
#include <hesiod.h>
#endif

#include "kpop/locate.h"

/* A DNS answer (RFC 1035 s.4.2.1 allows more over TCP; SRV sets fit). */
#define LOCATE_ANSWER_MAX	4096

#ifdef HAVE_HESIOD
static int
from_hesiod(const char *user, char *out, size_t outlen)
{
	struct hesiod_postoffice *po;
	void *ctx;
	int rc = -1;

	if (hesiod_init(&ctx) != 0)
		return -1;
	if ((po = hesiod_getmailhost(ctx, user)) != NULL) {
		if (strcasecmp(po->hesiod_po_type, "POP") == 0 &&
		    po->hesiod_po_host != NULL && po->hesiod_po_host[0] != '\0')
			rc = util_strlcpy(out, po->hesiod_po_host, outlen);
		hesiod_free_postoffice(ctx, po);
	}
	hesiod_end(ctx);
	return rc;
}
#endif

/*
 * The best SRV target of name (lowest priority, then highest weight; RFC
 * 2782 picks among equal priorities by weight at random, one choice is
 * as good for a single fetch).  0 and the host and port, or -1.
 */
static int
from_srv(const char *name, char *host, size_t hostlen, unsigned int *port)
{
	unsigned char ans[LOCATE_ANSWER_MAX];
	ns_msg msg;
	ns_rr rr;
	int n, i, best = -1;
	unsigned int bprio = 0, bweight = 0;

	if ((n = res_search(name, ns_c_in, ns_t_srv, ans, sizeof(ans))) <= 0 ||
	    n > (int)sizeof(ans) || ns_initparse(ans, n, &msg) == -1)
		return -1;
	for (i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		const unsigned char *d;
		unsigned int prio, weight;
		char target[NS_MAXDNAME];

		if (ns_parserr(&msg, ns_s_an, i, &rr) == -1 ||
		    ns_rr_type(rr) != ns_t_srv || ns_rr_rdlen(rr) < 7)
			continue;
		d = ns_rr_rdata(rr);
		prio = ns_get16(d);
		weight = ns_get16(d + 2);
		if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), d + 6,
		    target, sizeof(target)) == -1)
			continue;
		/* "." means the service is decidedly not offered. */
		if (strcmp(target, ".") == 0 || target[0] == '\0')
			continue;
		if (best == -1 || prio < bprio || (prio == bprio &&
		    weight > bweight)) {
			best = i;
			bprio = prio;
			bweight = weight;
			*port = ns_get16(d + 4);
			if (util_strlcpy(host, target, hostlen) == -1)
				best = -1;
		}
	}
	return best == -1 ? -1 : 0;
}

int
locate_pobox(const char *user, char *out, size_t outlen, char *err,
    size_t errlen)
{
	char host[NS_MAXDNAME];
	unsigned int port;

#ifdef HAVE_HESIOD
	if (from_hesiod(user, out, outlen) == 0)
		return 0;
#else
	(void)user;
#endif
	if (from_srv("_pop3s._tcp", host, sizeof(host), &port) == 0)
		return util_snprintf(out, outlen, "pops://%s:%u", host, port);
	if (from_srv("_pop3._tcp", host, sizeof(host), &port) == 0)
		return util_snprintf(out, outlen, "%s:%u", host, port);
	util_snprintf(err, errlen, "no server given, and none found: %sno "
	    "_pop3s._tcp or _pop3._tcp SRV record in the DNS search domains; "
	    "give a URL or a host in the config",
#ifdef HAVE_HESIOD
	    "no Hesiod pobox entry, "
#else
	    ""
#endif
	    );
	return -1;
}
