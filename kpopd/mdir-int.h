/* SPDX-License-Identifier: MIT */
/*
 * kpopd/mdir-int.h: what the files of the Maildir backend share, private
 * to them: the backend's state (struct mdir) and its snapshot entries,
 * and the calls between its files.  maildir.c is the backend (md_maildir)
 * and calls the others; mdir-scan.c reads new/ and cur/, mdir-cache.c
 * reads and writes kpopd.cache, mdir-name.c orders base names,
 * mdir-uidlist.c reads Dovecot's dovecot-uidlist and the user's small
 * files (mdir_file_read), mdir-courier.c Courier's courierpop3dsizelist,
 * mdir-xuidl.c X-UIDL headers; none of these calls maildir.c.
 */
#ifndef KPOPD_MDIR_INT_H
#define KPOPD_MDIR_INT_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "kpopd/md-int.h"

#define MDIR_NEW	0
#define MDIR_CUR	1
/* The name of new/ or cur/ (MDIR_NEW or MDIR_CUR). */
#define MDIR_SUB(which)	((which) == MDIR_NEW ? "new" : "cur")

#define MDIR_NONE	(~0ULL)

struct mdir_ent {
	char			*name;		/* in its directory */
	size_t			 baselen;	/* bytes before ':' */
	unsigned long long	 secs;		/* leading seconds, or 0 */
	unsigned long long	 s;		/* ,S= or MDIR_NONE */
	unsigned long long	 w;		/* ,W= or MDIR_NONE */
	unsigned long long	 phys;		/* from stat, or MDIR_NONE */
	unsigned long long	 size;		/* POP3 octets */
	unsigned char		 dir;		/* MDIR_NEW or MDIR_CUR */
	unsigned char		 gone;
	unsigned char		 borrowed;	/* name is in m->ctext */
	unsigned char		 nocache;	/* not in kpopd.cache */
};

struct mdir_centry {
	const char		*name;		/* into the cache text */
	size_t			 namelen;	/* the base name's */
	size_t			 fulllen;	/* with the info part */
	unsigned long long	 phys;		/* or MDIR_NONE */
	unsigned long long	 size;
	unsigned char		 dir;		/* format 2 */
	int			 used;
};

/* What identifies a directory's contents; valid 0 for "not recorded". */
struct mdir_stamp {
	int			 valid;
	unsigned long long	 dev, ino, csec, cnsec, msec, mnsec;
};

struct mdir {
	char			*path;
	void			(*note)(const char *);
	size_t			 notes;		/* files left out */
	int			 rootfd;
	int			 dfd[2];	/* new/, cur/ */
	struct mdir_ent		*ents;		/* snapshot order */
	size_t			 n;
	size_t			*byname;	/* ents sorted by base */
	/* The cache as read. */
	char			*ctext;
	struct mdir_centry	*cache;		/* in file order */
	size_t			 ncache;
	size_t			*csorted;	/* cache by base, for lookups */
	int			 cache_bad;	/* present but unusable */
	int			 cache_v1;
	struct mdir_stamp	 cstamp[2];	/* as the cache recorded them */
	struct mdir_stamp	 stamp[2];	/* new/, cur/ as read now */
	struct timespec		 locked_at;	/* the lock's stamp at open */
	int			 locked_ok;
	int			 listed;	/* the snapshot is the cache's */
	int			 truncated;	/* past MD_MSGS_MAX */
};

/* ---- mdir-name.c: base names (the name before its ":" info) ---- */

/* Compare two base names as memcmp, the shorter first on a tie. */
int	mdir_name_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* Item i of a collection set: its base name in *namep, *lenp. */
typedef void mdir_name_fn(const void *set, size_t i, const char **namep,
	    size_t *lenp);

/*
 * An index of the n items of set (positions 0 .. n-1) sorted by base
 * name with key, or left in order if sorted says they are already.
 * Returns it (n + 1 entries; the caller frees it), or NULL (no memory).
 */
size_t	*mdir_name_index(const void *set, size_t n, mdir_name_fn *key,
	    int sorted) KP_NONNULL(3) KP_WUR;

/*
 * In idx (from mdir_name_index, n entries), the first position whose
 * item's base name is not below (name, len): n if none.  The items with
 * that base name, if any, follow from there.
 */
size_t	mdir_name_find(const size_t *idx, size_t n, const void *set,
	    mdir_name_fn *key, const char *name, size_t len)
	    KP_NONNULL(4, 5);

/* ---- mdir-scan.c: reading new/ and cur/ ---- */

/*
 * Add the regular files of new/ or cur/ (which) to m->ents, growing it
 * by *cap, and record the directory's stamp (m->stamp) if it may be.
 * Returns KP_OK, or a status with err set.
 */
int	mdir_scan_dir(struct mdir *m, int which, size_t *cap, char *err,
	    size_t errlen) KP_NONNULL(1, 3, 4) KP_WUR;

/* Sort m->ents into snapshot order: leading seconds, base name, dir. */
void	mdir_scan_sort(struct mdir *m) KP_NONNULL(1);

/*
 * Point every snapshot entry whose base name is in new/ or cur/ now at
 * its current name (another program moved or reflagged it).  Returns 0,
 * or -1 (errno).
 */
int	mdir_scan_refresh(struct mdir *m) KP_NONNULL(1) KP_WUR;

/* Say (through md_opts.note) that a file was left out, and why. */
void	mdir_scan_note(struct mdir *m, int which, const char *name,
	    const char *why) KP_NONNULL(1, 3, 4);

/* The stamp of directory descriptor fd.  0, or -1 (errno). */
int	mdir_scan_stamp(int fd, struct mdir_stamp *st) KP_NONNULL(2);

/* Whether two stamps are both valid and the same. */
int	mdir_scan_same(const struct mdir_stamp *a, const struct mdir_stamp *b)
	    KP_NONNULL(1, 2);

/* ---- mdir-cache.c: kpopd.cache ---- */

/*
 * Whether kpopd.cache is absent or a file kpopd could have written: a
 * symlink, another account's file, one with more links is refused.
 * fd >= 0: the open cache; else it is looked at by name.  Returns KP_OK
 * or KP_PERM with err set.
 */
int	mdir_cache_check(struct mdir *m, int fd, const struct md_opts *o,
	    char *err, size_t errlen) KP_NONNULL(1, 3, 4) KP_WUR;

/*
 * Read the cache into m (ctext, cache, ncache, cache_v1, cstamp).  A
 * missing one is empty; a bad one is ignored (cache_bad); one kpopd did
 * not write (mdir_cache_check) refuses the maildrop.  Returns KP_OK, or a
 * status with err set.
 */
int	mdir_cache_load(struct mdir *m, const struct md_opts *o, char *err,
	    size_t errlen) KP_NONNULL(1, 2, 3) KP_WUR;

/*
 * The listing in the cache, taken as the snapshot: entries in its order,
 * with its sizes.  Returns KP_OK, or KP_TEMP (no memory) with err set.
 */
int	mdir_cache_listing(struct mdir *m, char *err, size_t errlen)
	    KP_NONNULL(1, 2) KP_WUR;

/*
 * The cache entry for base name (name, len), or NULL (none, or no
 * memory for the index).
 */
struct mdir_centry *mdir_cache_find(struct mdir *m, const char *name,
	    size_t len) KP_NONNULL(1, 2);

/*
 * Write the cache for the snapshot: every message, in snapshot order, and
 * the directories' stamps when the listing is whole.  Best effort: the
 * cache only saves work, so a failure (disk full, read-only) leaves the
 * old one and costs nothing but time.
 */
void	mdir_cache_write(struct mdir *m) KP_NONNULL(1);

/* ---- mdir-uidlist.c: Dovecot's dovecot-uidlist ---- */

/* One message's entry; the pointers are into the file's text. */
struct mdir_urec {
	const char		*name;		/* the base name */
	size_t			 namelen;
	const char		*pop3;		/* P: saved UIDL, or NULL */
	size_t			 pop3len;	/* 0: the base name */
	const char		*guid;		/* G, or NULL */
	size_t			 guidlen;
	unsigned long long	 order;		/* O, or MDIR_NONE */
	uint32_t		 uid;
};

struct mdir_uidlist {
	char			*text;		/* the file, owned */
	size_t			 len;
	int			 version;	/* 1 or 3 */
	int			 unusable;	/* bad header: no entries */
	uint32_t		 uidvalidity;
	uint32_t		 last_uid;	/* of the last record read */
	struct mdir_urec	*recs;		/* in file (UID) order */
	size_t			 n;
	size_t			*byname;	/* recs by base name */
	size_t			 bad;		/* lines left out */
	size_t			 first_bad;	/* the first one's number */
};

/*
 * Parse the len bytes of a dovecot-uidlist at text (malloc'd; u owns it
 * from now on, also on failure) into u.  A bad header sets u->unusable,
 * bad lines are counted in u->bad.  Returns KP_OK, or KP_TEMP (no
 * memory) with err set; mdir_uidlist_free(u) in every case.
 */
int	mdir_uidlist_parse(struct mdir_uidlist *u, char *text, size_t len,
	    char *err, size_t errlen) KP_NONNULL(1, 4) KP_WUR;

/* The entry of base name (name, len), or NULL. */
const struct mdir_urec *mdir_uidlist_find(const struct mdir_uidlist *u,
	    const char *name, size_t len) KP_NONNULL(1, 2);

/*
 * The UIDL Dovecot gave entry r with pop3_uidl_format fmt, made valid
 * (md_uidl_from) into out (POP3_UIDL_MAX + 1 bytes).  Returns 0, or -1
 * (a format md_uidfmt_setting refuses) with err set.
 */
int	mdir_uidlist_uidl(const struct mdir_uidlist *u,
	    const struct mdir_urec *r, const char *fmt, char *out, char *err,
	    size_t errlen) KP_NONNULL(1, 2, 3, 4, 5) KP_WUR;

void	mdir_uidlist_free(struct mdir_uidlist *u) KP_NONNULL(1);

/*
 * Read the file name in the Maildir's top directory, a file of the mail
 * user's, into *textp (malloc'd, one spare byte; the caller frees it)
 * and *lenp: through md_path_openat (no symlink) and md_path_check
 * (MD_K_FILE), at most max bytes.  Absent: KP_OK with *textp NULL.
 * Returns KP_OK, or KP_PERM (not the user's file, too large) or KP_TEMP
 * with err set.
 */
int	mdir_file_read(struct mdir *m, const struct md_opts *o,
	    const char *name, size_t max, char **textp, size_t *lenp,
	    char *err, size_t errlen) KP_NONNULL(1, 2, 3, 5, 6, 7) KP_WUR;

/* Say what about file name through md_opts.note (counted, bounded). */
void	mdir_file_note(struct mdir *m, const char *name, const char *what)
	    KP_NONNULL(1, 2, 3);

/*
 * Read <maildir>/dovecot-uidlist (absent: empty) into u, with
 * mdir_file_read.  Returns KP_OK, or KP_PERM (not the user's file, too
 * large) or KP_TEMP with err set; mdir_uidlist_free(u) in every case.
 */
int	mdir_uidlist_read(struct mdir *m, const struct md_opts *o,
	    struct mdir_uidlist *u, char *err, size_t errlen)
	    KP_NONNULL(1, 2, 3, 4) KP_WUR;

/*
 * Put m->ents into Dovecot's POP3 order and give msgs[i] (for the new
 * m->ents[i]) the UIDL Dovecot gave it with format fmt, the base name
 * for messages not in the file.  Returns KP_OK or a status with err set.
 */
int	mdir_uidlist_apply(struct mdir *m, const struct md_opts *o,
	    const char *fmt, struct md_msg *msgs, char *err, size_t errlen)
	    KP_NONNULL(1, 2, 3, 4, 5) KP_WUR;

/* ---- mdir-courier.c: Courier's courierpop3dsizelist ---- */

/* One message's line; the name points into the file's text. */
struct mdir_crec {
	const char		*name;		/* the base name */
	size_t			 namelen;
	unsigned long long	 uid;
	unsigned long long	 uidv;
};

struct mdir_courier {
	char			*text;		/* the file, owned */
	size_t			 len;
	int			 version;	/* 2 or 3 */
	int			 unusable;	/* bad header: no entries */
	struct mdir_crec	*recs;		/* in file order */
	size_t			 n;
	size_t			*byname;	/* recs by base name */
	size_t			 bad;		/* lines left out */
	size_t			 first_bad;	/* the first one's number */
};

/*
 * Parse the len bytes of a courierpop3dsizelist at text (malloc'd; c
 * owns it from now on, also on failure) into c.  A bad header sets
 * c->unusable, bad lines are counted in c->bad.  Returns KP_OK, or
 * KP_TEMP (no memory) with err set; mdir_courier_free(c) in every case.
 */
int	mdir_courier_parse(struct mdir_courier *c, char *text, size_t len,
	    char *err, size_t errlen) KP_NONNULL(1, 4) KP_WUR;

/* The line of base name (name, len), or NULL. */
const struct mdir_crec *mdir_courier_find(const struct mdir_courier *c,
	    const char *name, size_t len) KP_NONNULL(1, 2);

void	mdir_courier_free(struct mdir_courier *c) KP_NONNULL(1);

/*
 * The UIDL Courier's pop3d served for line r (or NULL: none) of the
 * message with base name (name, len), made valid (md_uidl_from) into
 * out (POP3_UIDL_MAX + 1 bytes).
 */
void	mdir_courier_uidl(const struct mdir_crec *r, const char *name,
	    size_t len, char *out) KP_NONNULL(2, 4);

/*
 * Give msgs[i] (for m->ents[i]) the UIDL Courier gave it, from
 * <maildir>/courierpop3dsizelist (read with mdir_file_read), the escaped
 * base name for messages not in the file.  Returns KP_OK or a status
 * with err set.
 */
int	mdir_courier_apply(struct mdir *m, const struct md_opts *o,
	    struct md_msg *msgs, char *err, size_t errlen)
	    KP_NONNULL(1, 2, 3, 4) KP_WUR;

/* ---- mdir-xuidl.c: X-UIDL headers of mail delivered before a cutoff ---- */

/*
 * Look for the first X-UIDL field in the len bytes at buf, the start of
 * a message; complete: they are the whole message or the whole header
 * window.  Returns 1 with the value in out (POP3_UIDL_MAX + 1 bytes): a
 * valid UIDL on one line; 0: none usable (no field, the header ended,
 * a folded or invalid value); -1: more bytes are needed to tell.
 */
int	mdir_xuidl_scan(const char *buf, size_t len, int complete,
	    char *out) KP_NONNULL(1, 4);

/*
 * Whether a UIDL is in the form of the base names MDAs make (leading
 * seconds and a dot), the UIDLs of mail that arrives after the switch:
 * an X-UIDL in that form is never honoured.
 */
int	mdir_xuidl_mdaform(const char *uidl) KP_NONNULL(1);

/*
 * Give msgs[i] (for m->ents[i]) its X-UIDL if the message was delivered
 * (by the leading seconds of its name) before cutoff and the value is
 * valid, not in the MDA form and no earlier such message's; its base
 * name otherwise.  Returns KP_OK or a status with err set.
 */
int	mdir_xuidl_apply(struct mdir *m, unsigned long long cutoff,
	    struct md_msg *msgs, char *err, size_t errlen)
	    KP_NONNULL(1, 3, 4) KP_WUR;

#endif
