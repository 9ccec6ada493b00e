/* SPDX-License-Identifier: MIT */
/*
 * kpop/dlv-maildir.c: delivery to a Maildir (deliver.h, dlv-int.h), and
 * the check a rerun after a crash makes there.
 *
 * The message goes to tmp/<time>.K<token>.<host>, is fsynced and
 * closed, then linked (renamed where the file system has no hard links)
 * to new/<same>,S=<size>; new/ is fsynced before tmp/ loses its name.
 * The token makes the name findable after a crash (dlv_maildir_find).
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/util.h"
#include "kpop/deliver.h"
#include "kpop/dlv-int.h"

/* mkdir path mode 0700 if missing; *made says it was.  0 or -1. */
static int
dlv_mkdir(const char *path, int *made)
{
	struct stat st;

	if (mkdir(path, 0700) == 0) {
		*made = 1;
		return 0;
	}
	if (errno != EEXIST)
		return -1;
	if (stat(path, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* Make the Maildir and its tmp/, new/, cur/ as needed, durably. */
static int
dlv_maildir_dirs(struct dlv *h)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	char path[PATH_MAX];
	int made_top = 0, made = 0, e;
	size_t i;

	if (dlv_mkdir(h->w.arg, &made_top) == -1)
		goto fail_top;
	for (i = 0; i < KP_NELEM(sub); i++) {
		if (util_snprintf(path, sizeof(path), "%s/%s", h->w.arg,
		    sub[i]) == -1)
			return dlv_io_fail(h, KP_PERM, "Maildir %s: path too "
			    "long", h->w.arg);
		if (dlv_mkdir(path, &made) == -1) {
			e = errno;
			return dlv_io_fail(h, dlv_io_status(e), "Maildir "
			    "%s: %s", path, strerror(e));
		}
	}
	if ((made || made_top) && dlv_io_fsync_dir(h->w.arg) == -1)
		goto fail_top;
	/* A new Maildir must not vanish from its parent in a crash. */
	if (made_top && util_snprintf(path, sizeof(path), "%s/..",
	    h->w.arg) == 0 && dlv_io_fsync_dir(path) == -1)
		goto fail_top;
	return KP_OK;
fail_top:
	e = errno;
	return dlv_io_fail(h, dlv_io_status(e), "Maildir %s: %s", h->w.arg,
	    strerror(e));
}

/*
 * This host's name for Maildir file names, with '/', ':' and ',' (and
 * anything unprintable) as \ooo, as the Maildir specification and
 * Dovecot have it, cut to DLV_HOST_PART_MAX.
 */
static void
dlv_maildir_host(char *out, size_t outlen)
{
	char host[256];
	size_t i, o = 0;
	unsigned char c;

	if (gethostname(host, sizeof(host)) == -1)
		(void)util_strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	for (i = 0; host[i] != '\0' && o + 5 < outlen; i++) {
		c = (unsigned char)host[i];
		if (c == '/' || c == ':' || c == ',' || c <= ' ' || c >= 0x7f) {
			(void)util_snprintf(out + o, outlen - o, "\\%03o", c);
			o += 4;
		} else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

/* Make the directories and open tmp/<time>.K<token>.<host>. */
static int
dlv_maildir_open(struct dlv *h, const struct dlv_info *info)
{
	char host[DLV_HOST_PART_MAX];
	int e, tries;

	(void)info;
	h->label = h->tmp;
	if (h->w.token[0] == '\0')
		return dlv_io_fail(h, KP_PERM, "Maildir %s: no delivery token",
		    h->w.arg);
	if (dlv_maildir_dirs(h) != KP_OK)
		return h->status;
	dlv_maildir_host(host, sizeof(host));
	if (util_snprintf(h->base, sizeof(h->base), "%lld.K%s.%s",
	    (long long)h->when, h->w.token, host) == -1 ||
	    util_snprintf(h->tmp, sizeof(h->tmp), "%s/tmp/%s", h->w.arg,
	    h->base) == -1)
		return dlv_io_fail(h, KP_PERM, "Maildir %s: path too long",
		    h->w.arg);
	/* The same token and second: our own leftover, so replace it. */
	for (tries = 0; tries < 2; tries++) {
		h->fd = open(h->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW | O_NOCTTY, 0600);
		if (h->fd != -1 || errno != EEXIST)
			break;
		(void)unlink(h->tmp);
	}
	if (h->fd == -1) {
		e = errno;
		h->tmp[0] = '\0';	/* not ours to remove */
		return dlv_io_fail(h, dlv_io_status(e), "Maildir %s/tmp/%s: "
		    "%s", h->w.arg, h->base, strerror(e));
	}
	return KP_OK;
}

/* Flush, fsync and close the tmp/ file; name the file for new/. */
static int
dlv_maildir_prepare(struct dlv *h)
{
	int fd, e;

	if (dlv_io_flush(h) != KP_OK)
		return h->status;
	fd = h->fd;
	h->fd = -1;
	if (dlv_io_fsync(fd, "file") == -1) {
		e = errno;
		(void)close(fd);
		return dlv_io_fail(h, dlv_io_status(e), "%s: fsync: %s",
		    h->tmp, strerror(e));
	}
	if (close(fd) == -1) {
		e = errno;
		return dlv_io_fail(h, dlv_io_status(e), "%s: close: %s",
		    h->tmp, strerror(e));
	}
	if (util_snprintf(h->w.name, sizeof(h->w.name), "%s,S=%llu",
	    h->base, h->w.size) == -1)
		return dlv_io_fail(h, KP_PERM, "Maildir %s: name too long",
		    h->w.arg);
	return KP_OK;
}

/*
 * Link tmp/ into new/ (rename where there are no hard links), fsync
 * new/, then drop the tmp/ name.  A failed fsync of new/ takes the file
 * out again: the caller will deliver it again, so it must not stay.
 */
static int
dlv_maildir_commit(struct dlv *h)
{
	char path[PATH_MAX], dir[PATH_MAX];
	int e, linked = 1;

	if (util_snprintf(dir, sizeof(dir), "%s/new", h->w.arg) == -1 ||
	    util_snprintf(path, sizeof(path), "%s/%s", dir, h->w.name) == -1)
		return dlv_io_fail(h, KP_PERM, "Maildir %s: path too long",
		    h->w.arg);
	if (link(h->tmp, path) == -1) {
		e = errno;
		if ((e != EPERM && e != ENOTSUP && e != ENOSYS) ||
		    rename(h->tmp, path) == -1) {
			e = errno;
			return dlv_io_fail(h, dlv_io_status(e), "Maildir "
			    "%s: link: %s", path, strerror(e));
		}
		linked = 0;
	}
	if (dlv_io_fsync_dir(dir) == -1) {
		e = errno;
		(void)unlink(path);
		return dlv_io_fail(h, dlv_io_status(e), "Maildir %s: fsync: "
		    "%s", dir, strerror(e));
	}
	if (linked)
		(void)unlink(h->tmp);
	h->tmp[0] = '\0';
	return KP_OK;
}

/* Link what dlv_maildir_prepare wrote, if it could. */
static int
dlv_maildir_done(struct dlv *h, int status)
{
	return status == KP_OK ? dlv_maildir_commit(h) : status;
}

/* Close and remove the tmp/ file unless it went to new/. */
static void
dlv_maildir_release(struct dlv *h)
{
	if (h->fd != -1) {
		(void)close(h->fd);
		h->fd = -1;
	}
	if (h->tmp[0] != '\0')
		(void)unlink(h->tmp);
}

const struct dlv_ops dlv_maildir_ops = {
	.kind = DLV_MAILDIR,
	.open = dlv_maildir_open,
	.prepare = dlv_maildir_prepare,
	.commit = dlv_maildir_done,
	.release = dlv_maildir_release,
};

/* ---- checks after a crash ---- */

/* Whether a Maildir name's second dot-separated part is K<token>. */
static int
dlv_name_has(const char *name, const char *token, size_t tlen)
{
	const char *p = strchr(name, '.');

	return p != NULL && p[1] == 'K' && strncmp(p + 2, token, tlen) == 0 &&
	    p[2 + tlen] == '.';
}

/* Look in one subdirectory; as dlv_maildir_find(). */
static int
dlv_find_in(const char *dir, const char *sub, const char *token,
    char *name, size_t namelen, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	size_t tlen = strlen(token);
	int found = 0, e;

	if (util_snprintf(path, sizeof(path), "%s/%s", dir, sub) == -1) {
		(void)util_snprintf(err, errlen,
		    "Maildir %s: path too long", dir);
		return KP_PERM;
	}
	if ((d = opendir(path)) == NULL) {
		if ((e = errno) == ENOENT)
			return 0;
		(void)util_snprintf(err, errlen,
		    "Maildir %s: %s", path, strerror(e));
		return dlv_io_status(e);
	}
	errno = 0;
	while (!found && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' &&
		    dlv_name_has(de->d_name, token, tlen)) {
			found = 1;
			if (namelen > 0)
				(void)util_strlcpy(name, de->d_name, namelen);
		}
	e = errno;
	(void)closedir(d);
	if (!found && e != 0) {
		(void)util_snprintf(err, errlen,
		    "Maildir %s: %s", path, strerror(e));
		return KP_TEMP;
	}
	return found;
}

int
dlv_maildir_find(const char *dir, const char *token, char *name,
    size_t namelen, char *err, size_t errlen)
{
	int rc;

	if (!dlv_token_valid(token)) {
		(void)util_snprintf(err, errlen, "bad delivery token");
		return KP_PERM;
	}
	rc = dlv_find_in(dir, "new", token, name, namelen, err, errlen);
	if (rc == 0)
		rc = dlv_find_in(dir, "cur", token, name, namelen, err,
		    errlen);
	return rc;
}
