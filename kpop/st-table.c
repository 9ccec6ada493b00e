/* SPDX-License-Identifier: MIT */
/*
 * kpop/st-table.c: the entries of the UIDL state (st-int.h), in a hash
 * table keyed by UIDL: a server may list 100,000 messages kept with
 * --keep, and a sorted array would cost O(n) a new message.  The table
 * changes only by st_table_apply, once a record is durable.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "kpop/state.h"
#include "kpop/st-int.h"

/* Buckets of the UIDL table at first; it doubles past two per bucket. */
#define ST_BUCKETS_MIN	256

static size_t
st_bucket(const char *uidl, size_t nb)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	while (*uidl != '\0') {
		h ^= (unsigned char)*uidl++;
		h *= 0x100000001b3ULL;
	}
	return (size_t)(h & (nb - 1));
}

struct st_ent *
st_table_find(const struct st *st, const char *uidl)
{
	struct st_ent *e;

	if (st->nb == 0)
		return NULL;
	for (e = st->tab[st_bucket(uidl, st->nb)]; e != NULL; e = e->next)
		if (strcmp(e->uidl, uidl) == 0)
			return e;
	return NULL;
}

/* Double the buckets (or make the first ones).  0 or -1. */
static int
st_grow(struct st *st)
{
	struct st_ent **tab, *e, *next;
	size_t nb = st->nb == 0 ? ST_BUCKETS_MIN : st->nb * 2, i, b;

	if ((tab = calloc(nb, sizeof(*tab))) == NULL)
		return -1;
	for (i = 0; i < st->nb; i++)
		for (e = st->tab[i]; e != NULL; e = next) {
			next = e->next;
			b = st_bucket(e->uidl, nb);
			e->next = tab[b];
			tab[b] = e;
		}
	free(st->tab);
	st->tab = tab;
	st->nb = nb;
	return 0;
}

/* The entry for uidl, made ST_UNKNOWN if new; NULL: no memory. */
static struct st_ent *
st_add(struct st *st, const char *uidl)
{
	struct st_ent *e;
	size_t b;

	if ((e = st_table_find(st, uidl)) != NULL)
		return e;
	if ((st->nb == 0 || st->count >= 2 * st->nb) && st_grow(st) == -1)
		return NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	(void)util_strlcpy(e->uidl, uidl, sizeof(e->uidl));
	b = st_bucket(uidl, st->nb);
	e->next = st->tab[b];
	st->tab[b] = e;
	st->count++;
	return e;
}

static void
st_del(struct st *st, const char *uidl)
{
	struct st_ent **pp, *e;

	if (st->nb == 0)
		return;
	for (pp = &st->tab[st_bucket(uidl, st->nb)]; (e = *pp) != NULL;
	    pp = &e->next)
		if (strcmp(e->uidl, uidl) == 0) {
			*pp = e->next;
			free(e->w);
			free(e);
			st->count--;
			return;
		}
}

/* Apply a record to the table.  0, or -1 (no memory). */
int
st_table_apply(struct st *st, const struct st_r *r)
{
	struct st_ent *e;

	if (r->type == 'F') {
		st_del(st, r->uidl);
		return 0;
	}
	if ((e = st_add(st, r->uidl)) == NULL)
		return -1;
	if (r->type == 'I') {
		if (e->w == NULL && (e->w = malloc(sizeof(*e->w))) == NULL)
			return -1;
		*e->w = *r->w;
		e->status = ST_PENDING;
		return 0;
	}
	free(e->w);
	e->w = NULL;
	e->status = r->type == 'D' ? ST_DELIVERED : r->type == 'K' ?
	    ST_KEPT : ST_DELETED;
	return 0;
}

void
st_table_free(struct st *st)
{
	struct st_ent *e, *next;
	size_t i;

	for (i = 0; i < st->nb; i++)
		for (e = st->tab[i]; e != NULL; e = next) {
			next = e->next;
			free(e->w);
			free(e);
		}
	free(st->tab);
	st->tab = NULL;
	st->nb = st->count = 0;
}
