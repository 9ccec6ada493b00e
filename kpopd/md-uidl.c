/* SPDX-License-Identifier: MIT */
/*
 * kpopd/md-uidl.c: the UIDL rules of the maildrops: a valid UIDL from
 * any name or header value (md_uidl_from), and UIDLs made unique across
 * a snapshot, deterministically and in linear time (md_uidl_dedup).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/limits.h"
#include "common/pop3.h"
#include "common/util.h"
#include "kpopd/md-int.h"

/* Printable characters kept before the hash of an unusable name. */
#define MD_UIDL_PREFIX	(POP3_UIDL_MAX - 1 - 32)

void
md_uidl_from(const char *s, size_t len, char *out)
{
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned int diglen = 0;
	uint64_t h1, h2;
	size_t i, k;

	if (pop3_uidl_ok(s, len)) {
		memcpy(out, s, len);
		out[len] = '\0';
		return;
	}
	/* A readable prefix, then the hash of the whole name. */
	for (k = 0; k < len && k < MD_UIDL_PREFIX; k++)
		out[k] = ((unsigned char)s[k] < 0x21 ||
		    (unsigned char)s[k] > 0x7e) ? '_' : s[k];
	out[k++] = '+';
	if (EVP_Digest(s, len, dig, &diglen, EVP_sha256(), NULL) != 1 ||
	    diglen < 16) {
		/* Only without memory; still deterministic. */
		h1 = md_hash_fnv(MD_HASH_FNV_INIT, s, len);
		h2 = md_hash_fnv(h1, s, len);
		for (i = 0; i < 8; i++) {
			dig[i] = (unsigned char)(h1 >> (8 * i));
			dig[8 + i] = (unsigned char)(h2 >> (8 * i));
		}
	}
	util_hex(dig, 16, out + k);
}

/*
 * Making UIDLs unique.  The first message with a UIDL U keeps it; a later
 * one gets the first of U-2, U-3, ... that no earlier message holds, U
 * cut to leave room for the suffix: the candidate for k is S-k, S the
 * longest prefix of U that fits beside "-k".  The snapshot order is
 * stable across sessions, so the result is too.
 *
 * Trying each k from 2 costs quadratic time when a sender repeats one
 * X-UIDL (or names Maildir files x:1 ... x:N), so each stem keeps a
 * counter: all of S-2 ... S-(next-1) are known to be taken (taken stays
 * taken while the set only grows), and the next duplicate starts at
 * next.  The stem depends on the digit count of k once U must be cut, so
 * the counter belongs to the stem and that digit count; candidates of
 * different such keys never coincide (S-k splits at its last '-').  A
 * candidate that is taken advances its key's counter for good, and each
 * taken UIDL is the candidate of at most one key, so the whole pass tries
 * at most twice as many suffixed candidates as there are messages (one
 * taken, one free), besides a counter lookup per digit count.  The
 * result is exactly that of trying every k from 2.
 */

/* The set of UIDLs given out so far: hash and message index. */
struct md_uset {
	uint64_t	 h;
	size_t		 i;		/* SIZE_MAX: an empty slot */
};

/*
 * A stem's counter.  msg is a message whose UIDL is S-k for some k of
 * the key's digit count, where the stem's bytes are read.
 */
struct md_ustem {
	uint64_t		 h;
	size_t			 msg;	/* SIZE_MAX: an empty slot */
	unsigned long long	 next;	/* the first k not known taken */
	unsigned char		 len;	/* of S */
	unsigned char		 digits;
};

/* Suffix numbers have at most this many digits (10^19 fits in 64 bits). */
#define MD_SUFFIX_DIGITS	19

/* Slots in the UIDL set: a power of two at least twice the count. */
static size_t
md_set_size(size_t n)
{
	size_t sz = 16;

	while (sz < 2 * n)
		sz *= 2;
	return sz;
}

/*
 * A quick 64-bit hash for the in-memory UIDL set, eight bytes a step (not
 * persisted anywhere, so it may change; md_hash_fnv is the stable one).
 */
static uint64_t
md_quickhash(const char *s, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len, w;

	while (len >= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
		s += 8;
		len -= 8;
	}
	w = 0;
	memcpy(&w, s, len);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 29);
}

/*
 * Look c up in the set: returns its slot, which holds the message that
 * has it or is the empty slot where it would go.
 */
static size_t
md_uset_find(const struct md_uset *set, size_t sz, const struct md_msg *msgs,
    const char *c, size_t clen, uint64_t *hp)
{
	uint64_t h = md_quickhash(c, clen);
	size_t j;

	/* Compare strings only when the hashes agree. */
	for (j = (size_t)h & (sz - 1); set[j].i != SIZE_MAX;
	    j = (j + 1) & (sz - 1))
		if (set[j].h == h && strcmp(msgs[set[j].i].uidl, c) == 0)
			break;
	*hp = h;
	return j;
}

/* The stem S of u for suffixes of d digits: returns its length. */
static size_t
md_stem_len(const char *u, unsigned int d)
{
	size_t n = strlen(u);

	return n > POP3_UIDL_MAX - 1 - d ? POP3_UIDL_MAX - 1 - d : n;
}

/* Look up the counter of (u's first len bytes, d): its slot. */
static size_t
md_ustem_find(const struct md_ustem *st, size_t sz, const struct md_msg *msgs,
    const char *u, size_t len, unsigned int d, uint64_t *hp)
{
	uint64_t h = md_quickhash(u, len) ^ (0x100000001b3ULL * d);
	size_t j;

	for (j = (size_t)h & (sz - 1); st[j].msg != SIZE_MAX;
	    j = (j + 1) & (sz - 1))
		if (st[j].h == h && st[j].len == len && st[j].digits == d &&
		    memcmp(msgs[st[j].msg].uidl, u, len) == 0)
			break;
	*hp = h;
	return j;
}

int
md_uidl_dedup(struct md_msg *msgs, size_t count, char *err, size_t errlen)
{
	struct md_uset *set = NULL;
	struct md_ustem *st = NULL;
	unsigned long long k, lo, hi;
	uint64_t h, sh;
	size_t sz, i, j, s, len;
	unsigned int d;
	char cand[POP3_UIDL_MAX + 1];
	int rc = KP_TEMP;

	if (count < 2)
		return KP_OK;
	sz = md_set_size(count);
	if ((set = malloc(sz * sizeof(*set))) == NULL)
		goto nomem;
	for (j = 0; j < sz; j++)
		set[j].i = SIZE_MAX;
	for (i = 0; i < count; i++) {
		char *u = msgs[i].uidl;

		j = md_uset_find(set, sz, msgs, u, strlen(u), &h);
		if (set[j].i == SIZE_MAX)
			goto take;
		/* A duplicate: the counters, made on the first one. */
		if (st == NULL) {
			if ((st = malloc(sz * sizeof(*st))) == NULL)
				goto nomem;
			for (s = 0; s < sz; s++)
				st[s].msg = SIZE_MAX;
		}
		for (d = 1, lo = 2, hi = 9; d <= MD_SUFFIX_DIGITS;
		    d++, lo = hi + 1, hi = hi * 10 + 9) {
			len = md_stem_len(u, d);
			s = md_ustem_find(st, sz, msgs, u, len, d, &sh);
			k = st[s].msg == SIZE_MAX ? lo : st[s].next;
			for (; k <= hi; k++) {
				if (util_snprintf(cand, sizeof(cand),
				    "%.*s-%llu", (int)len, u, k) == -1)
					goto internal;
				j = md_uset_find(set, sz, msgs, cand,
				    strlen(cand), &h);
				if (set[j].i == SIZE_MAX)
					break;
				if (st[s].msg == SIZE_MAX) {
					/* Its UIDL is S-k: the stem's bytes. */
					st[s].msg = set[j].i;
					st[s].h = sh;
					st[s].len = (unsigned char)len;
					st[s].digits = (unsigned char)d;
				}
				st[s].next = k + 1;
			}
			if (k <= hi) {
				memcpy(u, cand, strlen(cand) + 1);
				if (st[s].msg == SIZE_MAX) {
					st[s].msg = i;
					st[s].h = sh;
					st[s].len = (unsigned char)len;
					st[s].digits = (unsigned char)d;
				}
				st[s].next = k + 1;
				goto take;
			}
		}
		/* More candidates than messages were all taken: cannot be. */
		goto internal;
take:
		set[j].h = h;
		set[j].i = i;
	}
	rc = KP_OK;
	goto out;
nomem:
	util_snprintf(err, errlen, "out of memory");
	goto out;
internal:
	util_snprintf(err, errlen, "no unique UIDL for message %zu", i + 1);
out:
	free(st);
	free(set);
	return rc;
}
