/* SPDX-License-Identifier: MIT */
/*
 * kpopd/maildrop.c: the format-independent half of the maildrop interface
 * (maildrop.h): it picks the backend of the format once (md_maildir,
 * md_mbox: struct md_backend in md-int.h) and calls it only through that
 * table, makes the snapshot's UIDLs unique (md-uidl.c), keeps its totals,
 * and releases the session lock (md-lock.c) at the end.
 */
#include "config.h"

#include <stdlib.h>

#include "common/util.h"
#include "kpopd/md-int.h"

/* The backend of each format. */
static const struct md_backend *const md_backends[] = {
	[MD_MAILDIR] = &md_maildir,
	[MD_MBOX] = &md_mbox
};

int
md_open(enum md_format fmt, const char *path, const struct md_opts *opts,
    struct maildrop **mdp, char *err, size_t errlen)
{
	struct maildrop *md;
	size_t i;
	int rc;

	*mdp = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if ((md = calloc(1, sizeof(*md))) == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return KP_TEMP;
	}
	md->lock_fd = -1;
	if ((unsigned int)fmt >= KP_NELEM(md_backends) ||
	    md_backends[fmt] == NULL) {
		util_snprintf(err, errlen, "unknown maildrop format");
		rc = KP_PERM;
	} else {
		md->backend = md_backends[fmt];
		rc = md->backend->open(md, path, opts, err, errlen);
	}
	if (rc == KP_OK)
		rc = md_uidl_dedup(md->msgs, md->count, err, errlen);
	if (rc != KP_OK) {
		md_close(md);
		return rc;
	}
	for (i = 0; i < md->count; i++)
		md->total += md->msgs[i].size;
	*mdp = md;
	return KP_OK;
}

size_t
md_count(const struct maildrop *md)
{
	return md->count;
}

const struct md_msg *
md_msg(const struct maildrop *md, size_t i)
{
	return i < md->count ? &md->msgs[i] : NULL;
}

unsigned long long
md_total(const struct maildrop *md)
{
	return md->total;
}

int
md_msg_fd(struct maildrop *md, size_t i, int *fdp, off_t *offp,
    off_t *lenp, char *err, size_t errlen)
{
	*fdp = -1;
	if (i >= md->count) {
		util_snprintf(err, errlen, "no such message");
		return KP_GONE;
	}
	return md->backend->msg_fd(md, i, fdp, offp, lenp, err, errlen);
}

void
md_touch(struct maildrop *md)
{
	md_lock_touch(md);
}

int
md_commit(struct maildrop *md, const unsigned char *del, char *err,
    size_t errlen)
{
	size_t i;

	if (errlen > 0)
		err[0] = '\0';
	for (i = 0; i < md->count; i++)
		if (del[i])
			break;
	if (i == md->count)
		return KP_OK;
	return md->backend->commit(md, del, err, errlen);
}

void
md_close(struct maildrop *md)
{
	if (md == NULL)
		return;
	if (md->backend != NULL)
		md->backend->free(md);
	md_lock_release(md);
	free(md->msgs);
	free(md);
}
