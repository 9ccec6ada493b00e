/* SPDX-License-Identifier: MIT */
/*
 * kpopd/md-int.h: the maildrop code's private interface, inside kpopd/
 * (maildrop.h is the public one): the maildrop object and the backend
 * operations table that maildrop.c dispatches through, and the helpers
 * the backends share, each in its own file: the kpopd session lock
 * (md-lock.c), paths a mail user cannot redirect (md-path.c), the UIDL
 * rules (md-uidl.c), hashing (md-hash.c) and a line reader over a
 * descriptor (md-lr.c).  Errors go into the caller's buffer with
 * util_snprintf, an errno becomes a status with kp_status_errno.  The
 * helpers call neither maildrop.c nor a backend.
 */
#ifndef KPOPD_MD_INT_H
#define KPOPD_MD_INT_H

#include <sys/types.h>
#include <sys/stat.h>

#include <stdint.h>
#include <time.h>

#include "common/limits.h"
#include "common/pop3.h"
#include "common/util.h"
#include "kpopd/maildrop.h"

struct md_backend;

struct maildrop {
	const struct md_backend	*backend;	/* of its format */
	struct md_msg		*msgs;		/* count entries */
	size_t			 count;
	unsigned long long	 total;
	int			 lock_fd;	/* session lock, or -1 */
	dev_t			 lock_dev;
	ino_t			 lock_ino;
	struct timespec		 touched;	/* CLOCK_MONOTONIC */
	struct maildrop		*held_next;	/* md-lock.c's list */
	void			*be;		/* the backend's state */
};

/*
 * A maildrop format, as a table of operations (the shape of Postfix's
 * XSASL_SERVER_IMPL): maildrop.c picks one from the format in md_open()
 * and calls the backend only through it.  open fills md->msgs/count
 * (UIDLs as the format gives them; maildrop.c then makes them unique)
 * and md->be, taking the session lock with md_lock_session() first; on
 * failure it may leave md->be set: free is always called.  msg_fd and
 * commit are md_msg_fd() and md_commit() of maildrop.h, for a message
 * that exists and a commit that deletes something.
 */
struct md_backend {
	const char	*name;
	int		(*open)(struct maildrop *, const char *path,
			    const struct md_opts *, char *err, size_t errlen);
	int		(*msg_fd)(struct maildrop *, size_t i, int *fdp,
			    off_t *offp, off_t *lenp, char *err,
			    size_t errlen);
	int		(*commit)(struct maildrop *, const unsigned char *del,
			    char *err, size_t errlen);
	void		(*free)(struct maildrop *);
};

extern const struct md_backend md_maildir;	/* maildir.c */
extern const struct md_backend md_mbox;		/* mbox.c */

/* ---- md-lock.c: the session lock ---- */

/*
 * Take the kpopd session lock: an fcntl write lock on the file name in
 * directory dfd (created mode 0600 if missing; a symlink, a file of
 * another account or with more links is refused), with the takeover of
 * an idle holder that opts->takeover_idle allows.  shown is its path for
 * messages.  Sets md->lock_fd.  Returns KP_OK, KP_INUSE, KP_TEMP or
 * KP_PERM with a message in err.
 */
int	md_lock_session(struct maildrop *, int dfd, const char *name,
	    const char *shown, const struct md_opts *, char *err,
	    size_t errlen) KP_NONNULL(1, 3, 4, 5, 6) KP_WUR;

/* md_touch(): refresh the lock file's mtime, at most once a second. */
void	md_lock_touch(struct maildrop *) KP_NONNULL(1);

/* Release the session lock, if md holds it (the file stays). */
void	md_lock_release(struct maildrop *) KP_NONNULL(1);

/* ---- md-path.c: paths a mail user cannot redirect ---- */

/*
 * Open name, one path component, in directory dfd without following a
 * symbolic link there: openat2() with RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS where the kernel has it,
 * else openat() with O_NOFOLLOW (the same for one component).
 * O_CLOEXEC, O_NOFOLLOW and (but with O_PATH) O_NOCTTY are added to
 * flags.  Returns a descriptor, or -1 with errno (ELOOP for a symlink;
 * EINVAL for a name with '/', "." or "..").
 */
int	md_path_openat(int dfd, const char *name, int flags, mode_t mode)
	    KP_NONNULL(2) KP_WUR;

/* Set by tests to use the O_NOFOLLOW path; set on ENOSYS. */
extern int md_path_no_openat2;

/*
 * What md_path_check() demands of a file it is shown:
 *   MD_K_DIR     the maildrop's own directories (a Maildir, new/, cur/,
 *                tmp/): a directory of the process's euid, writable by
 *                no other account (group write only for opts->own_gid);
 *   MD_K_PARENT  a directory on the way there, below the trusted
 *                prefix: the same, but root may own it;
 *   MD_K_FILE    the mbox, kpopd.cache, the lock and journal files: a
 *                regular file of the euid with one link, not world
 *                writable (group write is the spool's way: 0660
 *                root:mail; it lets no one swap the file).
 */
enum md_kind { MD_K_DIR, MD_K_PARENT, MD_K_FILE };

/*
 * Whether st (of the file shown) is what kind demands.  Returns KP_OK,
 * or KP_PERM with the reason in err.
 */
int	md_path_check(const struct stat *st, enum md_kind kind,
	    const struct md_opts *, const char *shown, char *err,
	    size_t errlen) KP_NONNULL(1, 3, 4, 5) KP_WUR;

/*
 * Why a message file (stat st) is not served, or NULL if it may be: a
 * regular file of the euid.  Its links do not matter: another account's
 * file linked in is not the euid's, and a link of the user's own file
 * (Dovecot copies between folders so, tests/bench/run copies Maildirs
 * so) holds nothing the user could not read anyway, and unlinking it
 * removes only this name.
 */
const char *md_path_unfit(const struct stat *st) KP_NONNULL(1);

/*
 * The status and message (in err) for md_path_openat(dfd, name) having
 * failed with errno e: a symlink or a name that is no directory is refused
 * (KP_PERM, saying so), others go through kp_status_errno().
 */
int	md_path_failed(int dfd, const char *name, const char *shown, int e,
	    char *err, size_t errlen) KP_NONNULL(2, 3, 5);

/*
 * Open the directory that holds path's last component: the trusted
 * prefix (opts->trusted) with symlinks followed, then each further
 * component with md_path_openat() and md_path_check(MD_K_PARENT), with
 * O_PATH, so that search permission is enough on the way.  Returns KP_OK
 * with *dfdp (read-only if the process may read it, else O_PATH; the
 * caller closes it) and *namep (into path: the last component), or
 * KP_PERM/KP_TEMP with err set.
 */
int	md_path_resolve(const char *path, const struct md_opts *, int *dfdp,
	    const char **namep, char *err, size_t errlen)
	    KP_NONNULL(1, 2, 3, 4, 5) KP_WUR;

/* ---- md-uidl.c: UIDLs ---- */

/*
 * Make a UIDL (NUL-terminated, in out of POP3_UIDL_MAX + 1 bytes) from
 * the len bytes at s: s itself if valid; otherwise, deterministically, a
 * printable prefix of s, "+" and 32 hex digits of SHA-256(s).
 */
void	md_uidl_from(const char *s, size_t len, char *out) KP_NONNULL(1, 3);

/*
 * Make the UIDLs of msgs[0 .. count) unique, in place: the first message
 * with a UIDL keeps it, a later one gets the first of "-2", "-3", ...
 * not taken by an earlier message (the UIDL cut to leave room).  The
 * same input always gives the same result; time is linear in count
 * whatever the UIDLs are (md-uidl.c says how).  Returns KP_OK, or
 * KP_TEMP (no memory) with a message in err.
 */
int	md_uidl_dedup(struct md_msg *msgs, size_t count, char *err,
	    size_t errlen) KP_NONNULL(3) KP_WUR;

/* ---- md-uidfmt.c: uidl_format and Dovecot's pop3_uidl_format ---- */

#define MD_UIDL_FILENAME	0	/* the base name (the default) */
#define MD_UIDL_DOVECOT		1	/* dovecot-uidlist, then the name */
#define MD_UIDL_COURIER		2	/* courierpop3dsizelist, the name */
#define MD_UIDL_XUIDL		3	/* X-UIDL before a cutoff, the name */
/* Dovecot's default pop3_uidl_format, for uidl_format = dovecot-saved. */
#define MD_UIDFMT_DOVECOT_DEFAULT	"%08Xu%08Xv"

/*
 * Which source a uidl_format setting names: MD_UIDL_FILENAME,
 * MD_UIDL_COURIER, MD_UIDL_DOVECOT with *fmtp the Dovecot format (into
 * setting, or the default's), checked, or MD_UIDL_XUIDL with *fmtp the
 * cutoff's text (md_uidfmt_cutoff passed it); or -1 with the reason in
 * err.
 */
int	md_uidfmt_setting(const char *setting, const char **fmtp, char *err,
	    size_t errlen) KP_NONNULL(1, 2, 3) KP_WUR;

/*
 * The cutoff of x-uidl:CUTOFF: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ (UTC) or
 * seconds since 1970, a moment past, as seconds in *secsp.  Returns 0, or
 * -1 with err set.
 */
int	md_uidfmt_cutoff(const char *text, unsigned long long *secsp,
	    char *err, size_t errlen) KP_NONNULL(1, 2, 3) KP_WUR;

/* What a Dovecot format may name for one message. */
struct md_uidvars {
	uint32_t	 uid;		/* %u */
	uint32_t	 uidvalidity;	/* %v */
	const char	*name;		/* %f: the base file name */
	size_t		 namelen;
	const char	*guid;		/* %g: G field, or NULL (the name) */
	size_t		 guidlen;
};

/*
 * Expand Dovecot format fmt as Dovecot 2.3 would, into out (of
 * MD_UIDFMT_OUT_MAX bytes, NUL-terminated, cut there), *lenp its length.
 * Returns 0, or -1 with err set for what cannot be reproduced.
 */
int	md_uidfmt_expand(const char *fmt, const struct md_uidvars *,
	    char *out, size_t *lenp, char *err, size_t errlen)
	    KP_NONNULL(1, 2, 3, 4, 5) KP_WUR;

/* ---- md-hash.c: hashing ---- */

/* SHA-256 over pieces.  A failure inside OpenSSL sticks until final. */
#define MD_HASH_LEN	32
struct md_hash {
	void	*ctx;		/* EVP_MD_CTX */
	int	 failed;
};

/* Returns 0, or -1 (no memory). */
int	md_hash_init(struct md_hash *) KP_NONNULL(1) KP_WUR;
void	md_hash_update(struct md_hash *, const void *, size_t)
	    KP_NONNULL(1);
/* Write the digest and start over.  Returns 0, or -1 if OpenSSL failed. */
int	md_hash_final(struct md_hash *, unsigned char *out) KP_NONNULL(1, 2)
	    KP_WUR;
void	md_hash_free(struct md_hash *) KP_NONNULL(1);

/* 64-bit FNV-1a, to be chained: start with MD_HASH_FNV_INIT. */
#define MD_HASH_FNV_INIT	0xcbf29ce484222325ULL
uint64_t md_hash_fnv(uint64_t h, const void *p, size_t n);

/* ---- md-lr.c: the line reader ---- */

/*
 * Line reader: hands out the bytes of [start, end) of a descriptor as
 * pieces, each ending at an LF or where a line is longer than the buffer
 * (MD_BUF_SIZE).  The first piece of a line holds min(line, buffer) bytes.
 */
struct md_lr {
	int		 fd;
	unsigned char	*buf;
	size_t		 pos, len;	/* unread bytes: buf[pos, len) */
	off_t		 boff;		/* file offset of buf[0] */
	off_t		 end;
	int		 bol;		/* the next piece starts a line */
	int		 shortread;	/* the file ended before end */
};

struct md_piece {
	const unsigned char	*p;
	size_t			 n;
	off_t			 off;	/* file offset of p[0] */
	int			 bol;	/* starts a line */
	int			 eol;	/* ends with the line's LF */
};

/* Returns 0, or -1 (no memory). */
int	md_lr_init(struct md_lr *, int fd, off_t start, off_t end)
	    KP_NONNULL(1) KP_WUR;
/* Returns 1 and the next piece, 0 at the end, or -1 (errno) on error. */
int	md_lr_next(struct md_lr *, struct md_piece *) KP_NONNULL(1, 2) KP_WUR;
void	md_lr_free(struct md_lr *) KP_NONNULL(1);

#endif
