/* SPDX-License-Identifier: MIT */
/*
 * kpopd/penalty.c: the failed-login counts per client address
 * (penalty.h), kept by the master in a fixed table: PENALTY_MAX
 * addresses, the one that failed longest ago evicted first, an address
 * forgotten PENALTY_FORGET seconds after its last failure.  Linear
 * scans: a few thousand short strings per refused login is nothing
 * beside the password check that came before.
 */
#include "config.h"

#include <string.h>

#include "common/limits.h"
#include "kpopd/penalty.h"

struct pen {
	char		peer[64];
	unsigned int	fails;
	int64_t		last_ms;
};

static struct pen	pens[PENALTY_MAX];
static size_t		npens;

static struct pen *
find(const char *peer)
{
	size_t i;

	for (i = 0; i < npens; i++)
		if (strcmp(pens[i].peer, peer) == 0)
			return &pens[i];
	return NULL;
}

unsigned int
penalty_fail(const char *peer, int64_t now_ms)
{
	struct pen *p;
	size_t i, old = 0;

	if ((p = find(peer)) != NULL &&
	    now_ms - p->last_ms > (int64_t)PENALTY_FORGET * 1000)
		p->fails = 0;
	if (p == NULL) {
		if (npens < PENALTY_MAX)
			p = &pens[npens++];
		else {
			for (i = 1; i < npens; i++)
				if (pens[i].last_ms < pens[old].last_ms)
					old = i;
			p = &pens[old];
		}
		memset(p, 0, sizeof(*p));
		util_strlcpy(p->peer, peer, sizeof(p->peer));
	}
	if (p->fails < PENALTY_SHIFT_MAX + 1)
		p->fails++;
	p->last_ms = now_ms;
	return p->fails;
}

void
penalty_clear(const char *peer)
{
	struct pen *p;

	if ((p = find(peer)) != NULL)
		*p = pens[--npens];
}

unsigned int
penalty_delay_ms(unsigned int base_s, unsigned int max_s, unsigned int fails)
{
	unsigned long long d;

	if (max_s < base_s)
		max_s = base_s;
	if (fails == 0)
		fails = 1;
	if (fails > PENALTY_SHIFT_MAX + 1)
		fails = PENALTY_SHIFT_MAX + 1;
	d = (unsigned long long)base_s << (fails - 1);
	if (d > max_s)
		d = max_s;
	return (unsigned int)d * 1000;
}
