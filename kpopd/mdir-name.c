/* SPDX-License-Identifier: MIT */
/*
 * kpopd/mdir-name.c: the order of Maildir base names (the name before
 * its ":" info, which a move from new/ to cur/ or a flag change leaves
 * alone), and one sorted index with its lookup for both collections
 * searched by base name: the snapshot (mdir-scan.c, finding messages
 * moved by other programs) and kpopd.cache (mdir-cache.c, sizes).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "kpopd/mdir-int.h"

int
mdir_name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c;

	c = memcmp(a, b, alen < blen ? alen : blen);
	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* What mdir_name_index() sorts, for its comparison. */
static const void	*mdir_name_set;
static mdir_name_fn	*mdir_name_key;

static int
mdir_name_qcmp(const void *va, const void *vb)
{
	const char *a, *b;
	size_t alen, blen;

	mdir_name_key(mdir_name_set, *(const size_t *)va, &a, &alen);
	mdir_name_key(mdir_name_set, *(const size_t *)vb, &b, &blen);
	return mdir_name_cmp(a, alen, b, blen);
}

size_t *
mdir_name_index(const void *set, size_t n, mdir_name_fn *key, int sorted)
{
	size_t *idx, i;

	if ((idx = calloc(n + 1, sizeof(*idx))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		idx[i] = i;
	if (!sorted && n > 1) {
		mdir_name_set = set;
		mdir_name_key = key;
		qsort(idx, n, sizeof(*idx), mdir_name_qcmp);
		mdir_name_set = NULL;
		mdir_name_key = NULL;
	}
	return idx;
}

size_t
mdir_name_find(const size_t *idx, size_t n, const void *set,
    mdir_name_fn *key, const char *name, size_t len)
{
	const char *mname;
	size_t lo = 0, hi = n, mid, mlen;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		key(set, idx[mid], &mname, &mlen);
		if (mdir_name_cmp(mname, mlen, name, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
