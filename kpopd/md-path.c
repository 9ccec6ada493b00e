/* SPDX-License-Identifier: MIT */
/*
 * kpopd/md-path.c: paths a mail user cannot redirect.  Below the prefix
 * the administrator chose, every component of a maildrop path is opened
 * without following a symbolic link (md_path_openat, md_path_resolve)
 * and checked to be the mail user's (md_path_check, md_path_unfit);
 * md_path_failed says why an open failed.  The backends and the session
 * lock use them; they call only common/.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_LINUX_OPENAT2_H
#include <linux/openat2.h>
#include <sys/syscall.h>
#endif

#include "common/util.h"
#include "kpopd/md-int.h"

int md_path_no_openat2;

/* Tries of openat2() that the kernel answers EAGAIN (a rename raced). */
#define MD_OPENAT2_TRIES	8

int
md_path_openat(int dfd, const char *name, int flags, mode_t mode)
{
#if defined(HAVE_LINUX_OPENAT2_H) && defined(SYS_openat2)
	struct open_how how;
	long fd;
	int i;
#endif

	if (name[0] == '\0' || strchr(name, '/') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		errno = EINVAL;
		return -1;
	}
	/* openat2 takes only these with O_PATH (and they are all it needs). */
	flags |= O_CLOEXEC | O_NOFOLLOW | ((flags & O_PATH) != 0 ? 0 :
	    O_NOCTTY);
#if defined(HAVE_LINUX_OPENAT2_H) && defined(SYS_openat2)
	if (!md_path_no_openat2) {
		memset(&how, 0, sizeof(how));
		how.flags = (uint64_t)(unsigned int)flags;
		how.mode = (flags & O_CREAT) != 0 ? mode : 0;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		    RESOLVE_NO_MAGICLINKS;
		for (i = 0; i < MD_OPENAT2_TRIES; i++) {
			fd = syscall(SYS_openat2, dfd, name, &how,
			    sizeof(how));
			if (fd >= 0)
				return (int)fd;
			if (errno != EAGAIN)
				break;
		}
		if (errno != ENOSYS)
			return -1;
		/* An older kernel: the same, one component at a time. */
		md_path_no_openat2 = 1;
	}
#endif
	return openat(dfd, name, flags, mode);
}

int
md_path_check(const struct stat *st, enum md_kind kind, const struct md_opts *o,
    const char *shown, char *err, size_t errlen)
{
	uid_t me = geteuid();

	if (kind == MD_K_FILE ? !S_ISREG(st->st_mode) :
	    !S_ISDIR(st->st_mode)) {
		util_snprintf(err, errlen, "%s: not a %s; refused", shown,
		    kind == MD_K_FILE ? "regular file" : "directory");
		return KP_PERM;
	}
	if (st->st_uid != me && !(kind == MD_K_PARENT && st->st_uid == 0)) {
		util_snprintf(err, errlen, "%s: owned by uid %lu, not by the "
		    "mail user (uid %lu); refused", shown,
		    (unsigned long)st->st_uid, (unsigned long)me);
		return KP_PERM;
	}
	if ((st->st_mode & S_IWOTH) != 0) {
		util_snprintf(err, errlen, "%s: writable by every account "
		    "(mode %04o); refused", shown, (unsigned int)(st->st_mode &
		    07777));
		return KP_PERM;
	}
	if (kind != MD_K_FILE && (st->st_mode & S_IWGRP) != 0 &&
	    !(o->group_ok && st->st_gid == o->own_gid)) {
		util_snprintf(err, errlen, "%s: writable by group %lu (mode "
		    "%04o), which is not the mail user's own; refused", shown,
		    (unsigned long)st->st_gid, (unsigned int)(st->st_mode &
		    07777));
		return KP_PERM;
	}
	if (kind == MD_K_FILE && st->st_nlink != 1) {
		util_snprintf(err, errlen, "%s: has %lu links, not one; "
		    "refused", shown, (unsigned long)st->st_nlink);
		return KP_PERM;
	}
	return KP_OK;
}

const char *
md_path_unfit(const struct stat *st)
{
	if (S_ISLNK(st->st_mode))
		return "a symbolic link";
	if (S_ISDIR(st->st_mode))
		return "a directory";
	if (!S_ISREG(st->st_mode))
		return "not a regular file";
	if (st->st_uid != geteuid())
		return "owned by another account";
	return NULL;
}

int
md_path_failed(int dfd, const char *name, const char *shown, int e,
    char *err, size_t errlen)
{
	struct stat st;

	if ((e == ELOOP || e == ENOTDIR || e == EXDEV) &&
	    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		util_snprintf(err, errlen, "%s: %s; refused", shown,
		    S_ISLNK(st.st_mode) ? "a symbolic link" :
		    "not a directory");
		return KP_PERM;
	}
	util_snprintf(err, errlen, "%s: %s", shown, strerror(e));
	return kp_status_errno(e);
}

int
md_path_resolve(const char *path, const struct md_opts *o, int *dfdp,
    const char **namep, char *err, size_t errlen)
{
	char buf[PATH_MAX], comp[NAME_MAX + 1];
	const char *last, *name, *p, *q, *end;
	struct stat st;
	size_t t;
	int fd, nfd, rc;

	*dfdp = -1;
	last = strrchr(path, '/');
	name = last != NULL ? last + 1 : path;
	end = last != NULL ? last : path;
	if (name[0] == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		util_snprintf(err, errlen, "%s: not a maildrop path", path);
		return KP_PERM;
	}
	/* The administrator's part, symlinks and all. */
	t = o->trusted;
	if (t == 0 || t > (size_t)(end - path))
		t = (size_t)(end - path);
	if (t == 0)
		(void)util_strlcpy(buf, path[0] == '/' ? "/" : ".",
		    sizeof(buf));
	else if (t >= sizeof(buf)) {
		util_snprintf(err, errlen, "%s: path too long", path);
		return KP_PERM;
	} else {
		memcpy(buf, path, t);
		buf[t] = '\0';
	}
	/* O_PATH on the way: search permission is all a path needs. */
	if ((fd = open(buf, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		rc = errno;
		util_snprintf(err, errlen, "%s: %s", buf, strerror(rc));
		return kp_status_errno(rc);
	}
	/* The user's part: no symlink, every step checked. */
	for (p = path + t; p < end; p = q) {
		while (p < end && *p == '/')
			p++;
		for (q = p; q < end && *q != '/'; q++)
			;
		if (q == p)
			continue;
		if ((size_t)(q - p) > NAME_MAX) {
			util_snprintf(err, errlen, "%s: name too long", path);
			rc = KP_PERM;
			goto fail;
		}
		memcpy(comp, p, (size_t)(q - p));
		comp[q - p] = '\0';
		(void)util_snprintf(buf, sizeof(buf), "%.*s", (int)(q - path),
		    path);
		if ((nfd = md_path_openat(fd, comp, O_PATH | O_DIRECTORY, 0)) ==
		    -1) {
			rc = md_path_failed(fd, comp, buf, errno, err, errlen);
			goto fail;
		}
		(void)close(fd);
		fd = nfd;
		if (fstat(fd, &st) == -1) {
			rc = errno;
			util_snprintf(err, errlen, "%s: %s", buf, strerror(rc));
			rc = KP_TEMP;
			goto fail;
		}
		if ((rc = md_path_check(&st, MD_K_PARENT, o, buf, err,
		    errlen)) != KP_OK)
			goto fail;
	}
	/* The last one readable if it may be (fsync wants that), as is. */
	if ((nfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
	    -1) {
		(void)close(fd);
		fd = nfd;
	}
	*dfdp = fd;
	*namep = name;
	return KP_OK;
fail:
	(void)close(fd);
	return rc;
}
