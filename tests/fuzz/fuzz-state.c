/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz-state.c: libFuzzer entry for kpop's state files
 * (kpop/st-journal.c: the snapshot "state" and the journal "journal" of one
 * account), through the real st_open() on a scratch state directory.
 *
 * The input is the journal, or the snapshot, a line "%%", and the
 * journal; with the first byte's bit 1 and no "%%", the snapshot alone.
 * Every record is CRC-checked, which a fuzzer would rarely get right, so
 * with the first byte's bit 0 the harness appends to each LF-terminated
 * line the " CRC" that makes it a whole record (an unterminated last line
 * stays as it is: a torn write).
 *
 * Checked: st_open either refuses or gives a state whose entries all have
 * valid UIDLs and answer st_get() as st_each() lists them; that state
 * compacts (st_compact), and opening it again gives the same entries,
 * statuses and, for pending ones, the same <where> field by field (what
 * is written is what is read).
 */
#include "config.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/pop3.h"
#include "common/util.h"
#include "fuzz/fuzz-scratch.h"
#include "kpop/deliver.h"
#include "kpop/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define ID	"alice@pop.example.org:110"

static char base[PATH_MAX], adir[PATH_MAX + 64];

struct ent {
	char			 uidl[POP3_UIDL_MAX + 1];
	enum st_status		 status;
	int			 has_w;
	struct dlv_where	 w;
};

struct view {
	struct ent	*e;
	size_t		 n, cap;
	const struct st	*st;
};

static void
setup(void)
{
	fz_scratch(base, sizeof(base), "fuzz-state");
	(void)util_snprintf(adir, sizeof(adir), "%s/%s", base, ID);
	if (mkdir(adir, 0700) == -1)
		abort();
}

/* CRC-32 (IEEE 802.3), written again here so a shared bug cannot hide. */
static uint32_t
crc32_of(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffU;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		c ^= p[i];
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320U : c >> 1;
	}
	return ~c;
}

/* Write the n bytes at p to file name of the account, sealed if asked. */
static void
put(const char *name, const uint8_t *p, size_t n, int seal)
{
	char path[PATH_MAX + 128], crc[16];
	const uint8_t *nl;
	size_t len;
	int fd;

	(void)util_snprintf(path, sizeof(path), "%s/%s", adir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		abort();
	while (n > 0) {
		nl = memchr(p, '\n', n);
		len = nl != NULL ? (size_t)(nl - p) : n;
		if (util_write_all(fd, p, len, -1) == -1)
			abort();
		if (nl != NULL) {
			(void)util_snprintf(crc, sizeof(crc), "%s%08x\n",
			    seal ? " " : "", seal ? crc32_of(p, len) : 0);
			if (util_write_all(fd, seal ? crc : "\n",
			    seal ? strlen(crc) : 1, -1) == -1)
				abort();
			len++;
		}
		p += len;
		n -= len;
	}
	if (close(fd) == -1)
		abort();
}

static void
rm(const char *name)
{
	char path[PATH_MAX + 128];

	(void)util_snprintf(path, sizeof(path), "%s/%s", adir, name);
	(void)unlink(path);
}

static int
collect(void *arg, const char *uidl, enum st_status s,
    const struct dlv_where *w)
{
	struct view *v = arg;
	struct ent *e;

	if (!pop3_uidl_ok(uidl, strlen(uidl)) || st_get(v->st, uidl, NULL) != s ||
	    s == ST_UNKNOWN || (s == ST_PENDING) != (w != NULL))
		__builtin_trap();
	if (v->n == v->cap) {
		v->cap = v->cap == 0 ? 16 : v->cap * 2;
		if ((v->e = reallocarray(v->e, v->cap, sizeof(*v->e))) == NULL)
			abort();
	}
	e = &v->e[v->n++];
	memset(e, 0, sizeof(*e));
	(void)util_strlcpy(e->uidl, uidl, sizeof(e->uidl));
	e->status = s;
	if (w != NULL) {
		e->has_w = 1;
		e->w = *w;
	}
	return 0;
}

static int
by_uidl(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->uidl,
	    ((const struct ent *)b)->uidl);
}

static void
view_of(const struct st *st, struct view *v)
{
	memset(v, 0, sizeof(*v));
	v->st = st;
	(void)st_each(st, collect, v);
	if (v->n != st_count(st))
		__builtin_trap();
	if (v->n > 1)
		qsort(v->e, v->n, sizeof(*v->e), by_uidl);
}

static int
same_where(const struct dlv_where *a, const struct dlv_where *b)
{
	return a->kind == b->kind && strcmp(a->arg, b->arg) == 0 &&
	    strcmp(a->token, b->token) == 0 &&
	    strcmp(a->name, b->name) == 0 && a->size == b->size &&
	    a->placed == b->placed && (!a->placed || (a->offset == b->offset &&
	    a->len == b->len &&
	    memcmp(a->sha256, b->sha256, sizeof(a->sha256)) == 0));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct st *st;
	struct view v1, v2;
	const uint8_t *sep = NULL;
	char err[512];
	size_t i;
	int flags, rc;

	if (base[0] == '\0')
		setup();
	if (len == 0)
		return 0;
	flags = data[0];
	data++;
	len--;
	rm("state");
	rm("journal");
	rm("state.tmp");
	for (i = 0; i + 3 <= len; i++)
		if (memcmp(data + i, "%%\n", 3) == 0 && (i == 0 ||
		    data[i - 1] == '\n')) {
			sep = data + i;
			break;
		}
	if (sep != NULL) {
		put("state", data, (size_t)(sep - data), flags & 1);
		put("journal", sep + 3, len - (size_t)(sep - data) - 3,
		    flags & 1);
	} else
		put(flags & 2 ? "state" : "journal", data, len, flags & 1);

	if (st_open(base, ID, 0, &st, err, sizeof(err)) != KP_OK)
		return 0;
	view_of(st, &v1);
	if ((rc = st_compact(st, NULL, 0, err, sizeof(err))) != KP_OK) {
		fprintf(stderr, "st_compact: %s\n", err);
		__builtin_trap();
	}
	st_close(st);
	if (st_open(base, ID, 0, &st, err, sizeof(err)) != KP_OK) {
		fprintf(stderr, "st_open after st_compact: %s\n", err);
		__builtin_trap();
	}
	view_of(st, &v2);
	st_close(st);
	if (v1.n != v2.n)
		__builtin_trap();
	for (i = 0; i < v1.n; i++)
		if (strcmp(v1.e[i].uidl, v2.e[i].uidl) != 0 ||
		    v1.e[i].status != v2.e[i].status ||
		    v1.e[i].has_w != v2.e[i].has_w ||
		    (v1.e[i].has_w && !same_where(&v1.e[i].w, &v2.e[i].w)))
			__builtin_trap();
	free(v1.e);
	free(v2.e);
	return 0;
}
