/*
 * kpopd/maildrop.c: the format-independent half of the maildrop interface
 * (maildrop.h): dispatch to the Maildir and mbox backends, the kpopd
 * session lock and the takeover of an idle holder, the UIDL rules, and
 * the helpers both backends share (md-int.h).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LINUX_OPENAT2_H
#include <linux/openat2.h>
#include <sys/syscall.h>
#endif

#include <openssl/evp.h>

#include "common/limits.h"
#include "kpopd/md-int.h"

/*
 * The maildrops this process holds.  fcntl locks belong to the process,
 * so a second md_open() of the same maildrop here would "succeed" and
 * closing either would drop the lock of both: refuse it instead.  kpopd
 * is single-threaded; so is this list.
 */
static struct maildrop *md_held;

/* ---- errors and small helpers ---- */

void
md_vseterr(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (errlen == 0)
		return;
	if (vsnprintf(err, errlen, fmt, ap) < 0)
		err[0] = '\0';
}

void
md_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	md_vseterr(err, errlen, fmt, ap);
	va_end(ap);
}

int
md_errno_status(int e)
{
	switch (e) {
	case EACCES:
	case EPERM:
	case ENOENT:
	case ENOTDIR:
	case EISDIR:
	case ELOOP:
	case ENAMETOOLONG:
	case EROFS:
		return MD_PERM;
	default:
		return MD_TEMP;
	}
}

void
md_spool(const struct md_spool *sp, int on)
{
	if (!sp->ok)
		return;
	if (on) {
		/* A failure shows as EACCES in the step that needed it. */
		if (setegid(sp->gid) == -1)
			return;
	} else if (setegid(getgid()) == -1)
		abort();	/* the real gid is always allowed */
}

/* Milliseconds from a to b. */
static long long
md_ms_between(const struct timespec *a, const struct timespec *b)
{
	return ((long long)b->tv_sec - a->tv_sec) * 1000 +
	    (b->tv_nsec - a->tv_nsec) / 1000000;
}



/* ---- paths a mail user cannot redirect ---- */

int md_no_openat2;

/* Tries of openat2() that the kernel answers EAGAIN (a rename raced). */
#define MD_OPENAT2_TRIES	8

int
md_openat(int dfd, const char *name, int flags, mode_t mode)
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
	if (!md_no_openat2) {
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
		md_no_openat2 = 1;
	}
#endif
	return openat(dfd, name, flags, mode);
}

int
md_check(const struct stat *st, enum md_kind kind, const struct md_opts *o,
    const char *shown, char *err, size_t errlen)
{
	uid_t me = geteuid();

	if (kind == MD_K_FILE ? !S_ISREG(st->st_mode) :
	    !S_ISDIR(st->st_mode)) {
		md_seterr(err, errlen, "%s: not a %s; refused", shown,
		    kind == MD_K_FILE ? "regular file" : "directory");
		return MD_PERM;
	}
	if (st->st_uid != me && !(kind == MD_K_PARENT && st->st_uid == 0)) {
		md_seterr(err, errlen, "%s: owned by uid %lu, not by the mail "
		    "user (uid %lu); refused", shown,
		    (unsigned long)st->st_uid, (unsigned long)me);
		return MD_PERM;
	}
	if ((st->st_mode & S_IWOTH) != 0) {
		md_seterr(err, errlen, "%s: writable by every account (mode "
		    "%04o); refused", shown, (unsigned int)(st->st_mode &
		    07777));
		return MD_PERM;
	}
	if (kind != MD_K_FILE && (st->st_mode & S_IWGRP) != 0 &&
	    !(o->group_ok && st->st_gid == o->own_gid)) {
		md_seterr(err, errlen, "%s: writable by group %lu (mode "
		    "%04o), which is not the mail user's own; refused", shown,
		    (unsigned long)st->st_gid, (unsigned int)(st->st_mode &
		    07777));
		return MD_PERM;
	}
	if (kind == MD_K_FILE && st->st_nlink != 1) {
		md_seterr(err, errlen, "%s: has %lu links, not one; refused",
		    shown, (unsigned long)st->st_nlink);
		return MD_PERM;
	}
	return MD_OK;
}

const char *
md_msg_unfit(const struct stat *st)
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
md_open_failed(int dfd, const char *name, const char *shown, int e,
    char *err, size_t errlen)
{
	struct stat st;

	if ((e == ELOOP || e == ENOTDIR || e == EXDEV) &&
	    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		md_seterr(err, errlen, "%s: %s; refused", shown,
		    S_ISLNK(st.st_mode) ? "a symbolic link" :
		    "not a directory");
		return MD_PERM;
	}
	md_seterr(err, errlen, "%s: %s", shown, strerror(e));
	return md_errno_status(e);
}

int
md_resolve(const char *path, const struct md_opts *o, int *dfdp,
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
		md_seterr(err, errlen, "%s: not a maildrop path", path);
		return MD_PERM;
	}
	/* The administrator's part, symlinks and all. */
	t = o->trusted;
	if (t == 0 || t > (size_t)(end - path))
		t = (size_t)(end - path);
	if (t == 0)
		(void)util_strlcpy(buf, path[0] == '/' ? "/" : ".",
		    sizeof(buf));
	else if (t >= sizeof(buf)) {
		md_seterr(err, errlen, "%s: path too long", path);
		return MD_PERM;
	} else {
		memcpy(buf, path, t);
		buf[t] = '\0';
	}
	/* O_PATH on the way: search permission is all a path needs. */
	if ((fd = open(buf, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		rc = errno;
		md_seterr(err, errlen, "%s: %s", buf, strerror(rc));
		return md_errno_status(rc);
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
			md_seterr(err, errlen, "%s: name too long", path);
			rc = MD_PERM;
			goto fail;
		}
		memcpy(comp, p, (size_t)(q - p));
		comp[q - p] = '\0';
		(void)util_snprintf(buf, sizeof(buf), "%.*s", (int)(q - path),
		    path);
		if ((nfd = md_openat(fd, comp, O_PATH | O_DIRECTORY, 0)) ==
		    -1) {
			rc = md_open_failed(fd, comp, buf, errno, err, errlen);
			goto fail;
		}
		(void)close(fd);
		fd = nfd;
		if (fstat(fd, &st) == -1) {
			rc = errno;
			md_seterr(err, errlen, "%s: %s", buf, strerror(rc));
			rc = MD_TEMP;
			goto fail;
		}
		if ((rc = md_check(&st, MD_K_PARENT, o, buf, err, errlen)) !=
		    MD_OK)
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
	return MD_OK;
fail:
	(void)close(fd);
	return rc;
}

/* ---- hashing ---- */

int
md_hash_init(struct md_hash *h)
{
	EVP_MD_CTX *ctx;

	h->ctx = NULL;
	h->failed = 0;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -1;
	}
	h->ctx = ctx;
	return 0;
}

void
md_hash_update(struct md_hash *h, const void *p, size_t n)
{
	if (h->failed || n == 0)
		return;
	if (EVP_DigestUpdate(h->ctx, p, n) != 1)
		h->failed = 1;
}

int
md_hash_final(struct md_hash *h, unsigned char *out)
{
	unsigned int len = 0;
	int rc = -1;

	if (!h->failed && EVP_DigestFinal_ex(h->ctx, out, &len) == 1 &&
	    len == MD_HASH_LEN)
		rc = 0;
	h->failed = 0;
	if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		h->failed = 1;
	return rc;
}

void
md_hash_free(struct md_hash *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

uint64_t
md_fnv(uint64_t h, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* ---- the line reader ---- */

int
md_lr_init(struct md_lr *lr, int fd, off_t start, off_t end)
{
	memset(lr, 0, sizeof(*lr));
	lr->fd = fd;
	lr->boff = start;
	lr->end = end;
	lr->bol = 1;
	if ((lr->buf = malloc(MD_BUF_SIZE)) == NULL)
		return -1;
	return 0;
}

int
md_lr_next(struct md_lr *lr, struct md_piece *pc)
{
	unsigned char *nl;
	size_t want;
	ssize_t r;

	for (;;) {
		if (lr->pos < lr->len) {
			nl = memchr(lr->buf + lr->pos, '\n', lr->len - lr->pos);
			/* A whole line, a full buffer, or the end. */
			if (nl != NULL ||
			    (lr->pos == 0 && lr->len == MD_BUF_SIZE) ||
			    lr->boff + (off_t)lr->len >= lr->end) {
				size_t stop = nl != NULL ?
				    (size_t)(nl - lr->buf) + 1 : lr->len;

				pc->p = lr->buf + lr->pos;
				pc->n = stop - lr->pos;
				pc->off = lr->boff + (off_t)lr->pos;
				pc->bol = lr->bol;
				pc->eol = (nl != NULL);
				lr->bol = (nl != NULL);
				lr->pos = stop;
				return 1;
			}
		} else if (lr->boff + (off_t)lr->len >= lr->end)
			return 0;
		/* Move what is left to the front and read more. */
		memmove(lr->buf, lr->buf + lr->pos, lr->len - lr->pos);
		lr->boff += (off_t)lr->pos;
		lr->len -= lr->pos;
		lr->pos = 0;
		want = MD_BUF_SIZE - lr->len;
		if ((off_t)want > lr->end - (lr->boff + (off_t)lr->len))
			want = (size_t)(lr->end - (lr->boff + (off_t)lr->len));
		r = pread(lr->fd, lr->buf + lr->len, want,
		    lr->boff + (off_t)lr->len);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			/* Shorter than we were told: stop here. */
			lr->shortread = 1;
			lr->end = lr->boff + (off_t)lr->len;
			continue;
		}
		lr->len += (size_t)r;
	}
}

void
md_lr_free(struct md_lr *lr)
{
	free(lr->buf);
	lr->buf = NULL;
}

/* ---- UIDLs ---- */

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
		h1 = md_fnv(MD_FNV_INIT, s, len);
		h2 = md_fnv(h1, s, len);
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
 * persisted anywhere, so it may change; md_fnv is the stable one).
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
	int rc = MD_TEMP;

	if (count < 2)
		return MD_OK;
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
	rc = MD_OK;
	goto out;
nomem:
	md_seterr(err, errlen, "out of memory");
	goto out;
internal:
	md_seterr(err, errlen, "no unique UIDL for message %zu", i + 1);
out:
	free(st);
	free(set);
	return rc;
}

/* ---- the session lock ---- */

int
md_lock_session(struct maildrop *md, int dfd, const char *name,
    const char *path, const struct md_opts *opts, char *err, size_t errlen)
{
	struct flock fl;
	struct stat st;
	struct timespec now;
	struct maildrop *h;
	long long deadline = 0, idle_ms;
	int fd, e, rc, busy, killed = 0;

	fd = md_openat(dfd, name, O_RDWR | O_CREAT | O_NONBLOCK, 0600);
	if (fd == -1)
		return md_open_failed(dfd, name, path, errno, err, errlen);
	if (fstat(fd, &st) == -1) {
		e = errno;
		md_seterr(err, errlen, "session lock %s: %s", path,
		    strerror(e));
		rc = MD_TEMP;
		goto fail;
	}
	if ((rc = md_check(&st, MD_K_FILE, opts, path, err, errlen)) != MD_OK)
		goto fail;
	for (h = md_held; h != NULL; h = h->held_next) {
		if (h->lock_dev == st.st_dev && h->lock_ino == st.st_ino) {
			md_seterr(err, errlen, "maildrop already open in "
			    "this process");
			rc = MD_INUSE;
			goto fail;
		}
	}
	for (;;) {
		if ((busy = util_trylock(fd)) == 0)
			break;
		if (busy == -1) {
			e = errno;
			md_seterr(err, errlen, "session lock %s: %s", path,
			    strerror(e));
			rc = MD_TEMP;
			goto fail;
		}
		if (killed) {
			if (util_now_ms() >= deadline) {
				md_seterr(err, errlen, "in use: the idle "
				    "session did not let go");
				rc = MD_INUSE;
				goto fail;
			}
			util_sleep_ms(MD_LOCK_POLL_MS);
			continue;
		}
		if (opts->takeover_idle == 0) {
			md_seterr(err, errlen, "in use by another session");
			rc = MD_INUSE;
			goto fail;
		}
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_GETLK, &fl) == -1 || fstat(fd, &st) == -1) {
			e = errno;
			md_seterr(err, errlen, "session lock %s: %s", path,
			    strerror(e));
			rc = MD_TEMP;
			goto fail;
		}
		if (fl.l_type == F_UNLCK)
			continue;	/* let go meanwhile */
		(void)clock_gettime(CLOCK_REALTIME, &now);
		idle_ms = md_ms_between(&st.st_mtim, &now);
		if (idle_ms <= (long long)opts->takeover_idle * 1000 ||
		    fl.l_pid <= 0 || fl.l_pid == getpid()) {
			md_seterr(err, errlen, "in use by another session "
			    "(pid %ld, idle %llds)", (long)fl.l_pid,
			    idle_ms / 1000);
			rc = MD_INUSE;
			goto fail;
		}
		if (kill(fl.l_pid, SIGTERM) == -1 && errno != ESRCH) {
			e = errno;
			md_seterr(err, errlen, "in use by pid %ld, which "
			    "cannot be taken over: %s", (long)fl.l_pid,
			    strerror(e));
			rc = MD_INUSE;
			goto fail;
		}
		killed = 1;
		deadline = util_now_ms() + MD_TAKEOVER_WAIT * 1000LL;
	}
	/* A fresh session is not idle, whatever the file said before. */
	(void)futimens(fd, NULL);
	md->lock_fd = fd;
	md->lock_dev = st.st_dev;
	md->lock_ino = st.st_ino;
	(void)clock_gettime(CLOCK_MONOTONIC, &md->touched);
	md->held_next = md_held;
	md_held = md;
	return MD_OK;
fail:
	(void)close(fd);
	return rc;
}

void
md_touch(struct maildrop *md)
{
	struct timespec now;

	if (md->lock_fd == -1)
		return;
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	if (md_ms_between(&md->touched, &now) < 1000)
		return;
	(void)futimens(md->lock_fd, NULL);
	md->touched = now;
}

/* ---- the interface ---- */

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
		md_seterr(err, errlen, "out of memory");
		return MD_TEMP;
	}
	md->fmt = fmt;
	md->lock_fd = -1;
	switch (fmt) {
	case MD_MAILDIR:
		rc = maildir_open(md, path, opts, err, errlen);
		break;
	case MD_MBOX:
		rc = mbox_open(md, path, opts, err, errlen);
		break;
	default:
		md_seterr(err, errlen, "unknown maildrop format");
		rc = MD_PERM;
		break;
	}
	if (rc == MD_OK)
		rc = md_uidl_dedup(md->msgs, md->count, err, errlen);
	if (rc != MD_OK) {
		md_close(md);
		return rc;
	}
	for (i = 0; i < md->count; i++)
		md->total += md->msgs[i].size;
	*mdp = md;
	return MD_OK;
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
		md_seterr(err, errlen, "no such message");
		return MD_GONE;
	}
	if (md->fmt == MD_MAILDIR)
		return maildir_msg_fd(md, i, fdp, offp, lenp, err, errlen);
	return mbox_msg_fd(md, i, fdp, offp, lenp, err, errlen);
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
		return MD_OK;
	if (md->fmt == MD_MAILDIR)
		return maildir_commit(md, del, err, errlen);
	return mbox_commit(md, del, err, errlen);
}

void
md_close(struct maildrop *md)
{
	struct maildrop **pp;

	if (md == NULL)
		return;
	if (md->fmt == MD_MAILDIR)
		maildir_free(md);
	else if (md->fmt == MD_MBOX)
		mbox_free(md);
	if (md->lock_fd != -1) {
		for (pp = &md_held; *pp != NULL; pp = &(*pp)->held_next) {
			if (*pp == md) {
				*pp = md->held_next;
				break;
			}
		}
		/* Closing drops the lock; the file stays for the next one. */
		(void)close(md->lock_fd);
	}
	free(md->msgs);
	free(md);
}
