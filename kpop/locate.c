/* SPDX-License-Identifier: MIT */
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

#include "common/limits.h"
#include "kpop/locate.h"

#ifdef HAVE_HESIOD
/*
 * Whether a name from a Hesiod answer is one word of printable ASCII:
 * whoever answers the query chooses it, and it goes into USER and onto
 * the terminal, where CR LF would start a command of theirs and ESC a
 * sequence.
 */
static int
hesiod_word_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/* 0 with *po filled, -1 for no entry, -2 for an entry refused (err). */
static int
from_hesiod(const char *user, struct locate_po *po, char *err, size_t errlen)
{
	struct hesiod_postoffice *po_h;
	void *ctx;
	int rc = -1;

	if (hesiod_init(&ctx) != 0)
		return -1;
	if ((po_h = hesiod_getmailhost(ctx, user)) != NULL) {
		if (strcasecmp(po_h->hesiod_po_type, "POP") == 0 &&
		    ((po_h->hesiod_po_host != NULL &&
		    !hesiod_word_ok(po_h->hesiod_po_host)) ||
		    (po_h->hesiod_po_name != NULL &&
		    !hesiod_word_ok(po_h->hesiod_po_name)))) {
			util_snprintf(err, errlen, "the Hesiod pobox entry of "
			    "%s names a host or account with a blank, a "
			    "control character or a byte outside ASCII: not "
			    "used", user);
			rc = -2;
		} else if (strcasecmp(po_h->hesiod_po_type, "POP") == 0 &&
		    po_h->hesiod_po_host != NULL &&
		    po_h->hesiod_po_host[0] != '\0' &&
		    util_strlcpy(po->host, po_h->hesiod_po_host,
		    sizeof(po->host)) != -1 &&
		    (po_h->hesiod_po_name == NULL ||
		    util_strlcpy(po->user, po_h->hesiod_po_name,
		    sizeof(po->user)) != -1)) {
			/* The Athena model: the pobox host is the identity. */
			util_strlcpy(po->tls_name, po->host,
			    sizeof(po->tls_name));
			util_strlcpy(po->source, "Hesiod", sizeof(po->source));
			rc = 0;
		}
		hesiod_free_postoffice(ctx, po_h);
	}
	hesiod_end(ctx);
	return rc;
}
#endif

int
locate_in_domain(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (d > 0 && domain[d - 1] == '.')
		d--;
	if (d == 0 || n < d || strncasecmp(name + n - d, domain, d) != 0)
		return 0;
	return n == d || name[n - d - 1] == '.';
}

/*
 * The best SRV target of name (lowest priority, then highest weight; RFC
 * 2782 picks among equal priorities by weight at random, one choice is
 * as good for a single fetch), with the domain the resolver found it in
 * (the question's name without name: res_search tries the search list).
 * 0 and host, port and domain, or -1.
 */
static int
from_srv(const char *name, char *host, size_t hostlen, unsigned int *port,
    char *domain, size_t domlen)
{
	unsigned char ans[LOCATE_ANSWER_MAX];
	ns_msg msg;
	ns_rr rr;
	const char *q;
	size_t nlen = strlen(name);
	int n, i, best = -1;
	unsigned int bprio = 0, bweight = 0;

	if ((n = res_search(name, ns_c_in, ns_t_srv, ans, sizeof(ans))) <= 0 ||
	    n > (int)sizeof(ans) || ns_initparse(ans, n, &msg) == -1 ||
	    ns_parserr(&msg, ns_s_qd, 0, &rr) == -1)
		return -1;
	q = ns_rr_name(rr);
	if (strncasecmp(q, name, nlen) != 0 || (q[nlen] != '\0' &&
	    q[nlen] != '.') || util_strlcpy(domain, q[nlen] == '.' ?
	    q + nlen + 1 : "", domlen) == -1)
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
locate_pobox(const char *user, int trust_target, struct locate_po *po,
    char *err, size_t errlen)
{
	static const char *const srv[] = { "_pop3s._tcp", "_pop3._tcp" };
	char host[NS_MAXDNAME], domain[NS_MAXDNAME];
	unsigned int port;
	size_t i;

	memset(po, 0, sizeof(*po));
#ifdef HAVE_HESIOD
	switch (from_hesiod(user, po, err, errlen)) {
	case 0:
		return 0;
	case -2:
		return -1;
	}
	memset(po, 0, sizeof(*po));
#else
	(void)user;
#endif
	for (i = 0; i < sizeof(srv) / sizeof(srv[0]); i++) {
		if (from_srv(srv[i], host, sizeof(host), &port, domain,
		    sizeof(domain)) == -1)
			continue;
		util_snprintf(po->source, sizeof(po->source), "%s%s%s", srv[i],
		    domain[0] != '\0' ? "." : "", domain);
		if (util_strlcpy(po->host, host, sizeof(po->host)) == -1 ||
		    util_strlcpy(po->tls_name, trust_target ||
		    locate_in_domain(host, domain) ? host : domain,
		    sizeof(po->tls_name)) == -1) {
			util_snprintf(err, errlen, "SRV %s: a name too long",
			    po->source);
			return -1;
		}
		if (po->tls_name[0] == '\0') {
			util_snprintf(err, errlen, "SRV %s names %s, outside "
			    "any domain: nothing to check its certificate "
			    "against (trust_srv_target = yes takes %s)",
			    po->source, host, host);
			return -1;
		}
		po->port = port;
		po->implicit_tls = i == 0;
		return 0;
	}
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
