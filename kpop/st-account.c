/* SPDX-License-Identifier: MIT */
/*
 * kpop/st-account.c: where an account's UIDL state lives and who may
 * use it (st-int.h): account ids made from user, host and port, the
 * state directories (made durably, mode 0700, checked to be ours), and
 * the account lock, an fcntl lock on <dir>/lock that also says which
 * process holds it.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/limits.h"
#include "common/util.h"
#include "kpop/state.h"
#include "kpop/st-int.h"

/*
 * The states this process has open: fcntl locks do not exclude the
 * process that holds them, and closing any descriptor of the lock file
 * would drop ours, so a second st_open of an account is caught here,
 * before it opens anything.  kpop is single-threaded.
 */
static struct st *st_held;

/* ---- account ids and directories ---- */

/* Whether c may stand for itself in an id (a '.' not first). */
static int
st_id_plain(unsigned char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '+' || c == '-' ||
	    (c == '.' && !first);
}

/* Append s to out at *o, %XX-encoded; host names in lower case. */
static void
st_id_enc(char *out, size_t *o, const char *s, int lower, int first)
{
	static const char digits[] = "0123456789ABCDEF";
	unsigned char c;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		c = (unsigned char)s[i];
		if (lower && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (st_id_plain(c, first && i == 0))
			out[(*o)++] = (char)c;
		else {
			out[(*o)++] = '%';
			out[(*o)++] = digits[c >> 4];
			out[(*o)++] = digits[c & 0x0f];
		}
	}
	out[*o] = '\0';
}

/* Cut a long id and append "~" and a hash of the whole. */
static int
st_id_cut(char *id, size_t len, char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int mdlen = 0;
	size_t cut = ST_ID_MAX - 1 - ST_ID_HASH_HEX;

	if (EVP_Digest(id, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen * 2 < ST_ID_HASH_HEX)
		return KP_TEMP;
	util_hex(md, mdlen, hex);
	hex[ST_ID_HASH_HEX] = '\0';
	/* Do not leave half of a %XX at the cut. */
	if (id[cut - 1] == '%')
		cut -= 1;
	else if (id[cut - 2] == '%')
		cut -= 2;
	id[cut] = '\0';
	return util_snprintf(out, outlen, "%s~%s", id, hex) == 0 ? KP_OK :
	    KP_TEMP;
}

int
st_account_id(const char *user, const char *host, unsigned int port,
    char *out, size_t outlen)
{
	char id[3 * 2 * ST_NAME_IN_MAX + 16];
	size_t o = 0, ul = strlen(user), hl = strlen(host);

	if (ul == 0 || hl == 0 || ul > ST_NAME_IN_MAX ||
	    hl > ST_NAME_IN_MAX || port == 0 || port > 65535 ||
	    outlen <= ST_ID_MAX)
		return KP_TEMP;
	st_id_enc(id, &o, user, 0, 1);
	id[o++] = '@';
	st_id_enc(id, &o, host, 1, 0);
	if (util_snprintf(id + o, sizeof(id) - o, ":%u", port) == -1)
		return KP_TEMP;
	o += strlen(id + o);
	if (o <= ST_ID_MAX)
		return util_strlcpy(out, id, outlen) == 0 ? KP_OK : KP_TEMP;
	return st_id_cut(id, o, out, outlen);
}

/* Whether id is one st_account_id could have made. */
int
st_account_id_valid(const char *id)
{
	const unsigned char *p = (const unsigned char *)id;
	size_t i;

	for (i = 0; p[i] != '\0'; i++)
		if (i >= ST_ID_MAX || !(st_id_plain(p[i], i == 0) ||
		    p[i] == '%' || p[i] == '@' || p[i] == ':' || p[i] == '~'))
			return 0;
	return i > 0;
}

/*
 * fsync the directory that holds path, so that a directory just made
 * there survives a crash with what it will hold.  0 or -1 (errno).
 */
static int
st_fsync_parent(const char *path)
{
	char p[PATH_MAX];
	char *slash;

	if (util_strlcpy(p, path, sizeof(p)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((slash = strrchr(p, '/')) == NULL)
		return util_fsync_dir(".");
	slash[slash == p ? 1 : 0] = '\0';
	return util_fsync_dir(p);
}

/* mkdir -p path; the directories made get mode 0700, durably. */
int
st_account_mkdirs(const char *path, char *err, size_t errlen)
{
	char p[PATH_MAX];
	struct stat st;
	size_t i;

	if (util_strlcpy(p, path, sizeof(p)) == -1) {
		(void)util_snprintf(err, errlen, "%s: path too long", path);
		return KP_TEMP;
	}
	for (i = 1; ; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0700) == 0) {
			if (st_fsync_parent(p) == -1)
				goto fail;
		} else if (errno != EEXIST)
			goto fail;
		if (path[i] == '\0')
			break;
		p[i] = '/';
	}
	if (stat(p, &st) == -1)
		goto fail;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		goto fail;
	}
	return KP_OK;
fail:
	(void)util_snprintf(err, errlen,
	    "state directory %s: %s", p, strerror(errno));
	return KP_TEMP;
}

/*
 * Make the account's directory, and check that it is a directory of
 * ours (not a symbolic link someone planted) and closed to others.
 */
int
st_account_dir(struct st *st, char *err, size_t errlen)
{
	struct stat sb;

	if (mkdir(st->dir, 0700) == 0) {
		if (st_fsync_parent(st->dir) == -1)
			goto fail;
	} else if (errno != EEXIST)
		goto fail;
	if (lstat(st->dir, &sb) == -1)
		goto fail;
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != geteuid()) {
		(void)util_snprintf(err, errlen,
		    "state directory %s: not a directory "
		    "of this user", st->dir);
		return KP_TEMP;
	}
	if ((sb.st_mode & 077) != 0 && chmod(st->dir, 0700) == -1)
		goto fail;
	return KP_OK;
fail:
	(void)util_snprintf(err, errlen, "state directory %s: %s", st->dir,
	    strerror(errno));
	return KP_TEMP;
}

/* ---- the account lock ---- */

/* Whether this process has the lock file at path open already. */
static int
st_held_here(const char *path)
{
	struct stat sb;
	struct st *h;

	if (stat(path, &sb) == -1)
		return 0;
	for (h = st_held; h != NULL; h = h->held_next)
		if (h->pid == getpid() && h->lock_dev == sb.st_dev &&
		    h->lock_ino == sb.st_ino)
			return 1;
	return 0;
}

/* Wait for the lock until the deadline, then say who has it. */
static int
st_lock_wait(struct st *st, unsigned int wait_s, char *err, size_t errlen)
{
	const struct timespec poll = { 0, ST_LOCK_POLL_MS * 1000000L };
	long long deadline = util_now_ms() + (long long)wait_s * 1000;
	int busy;

	while ((busy = util_trylock(st->lock_fd)) == 1) {
		if (util_now_ms() >= deadline) {
			(void)util_snprintf(err, errlen,
			    "account %s is busy (pid %ld)",
			    st->id, util_lock_holder(st->lock_fd));
			return KP_INUSE;
		}
		(void)nanosleep(&poll, NULL);
	}
	if (busy == -1) {
		(void)util_snprintf(err, errlen, "account %s: lock: %s", st->id,
		    strerror(errno));
		return KP_TEMP;
	}
	return KP_OK;
}

int
st_account_lock(struct st *st, unsigned int wait_s, char *err,
    size_t errlen)
{
	char path[PATH_MAX], pid[32];
	struct stat sb;
	int rc;

	if (util_snprintf(path, sizeof(path), "%s/lock", st->dir) == -1) {
		(void)util_snprintf(err, errlen, "%s: path too long", st->dir);
		return KP_TEMP;
	}
	if (st_held_here(path)) {
		(void)util_snprintf(err, errlen,
		    "account %s is busy (pid %ld, this "
		    "process)", st->id, (long)getpid());
		return KP_INUSE;
	}
	if ((st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW | O_NOCTTY, 0600)) == -1 ||
	    fstat(st->lock_fd, &sb) == -1) {
		(void)util_snprintf(err, errlen,
		    "%s: %s", path, strerror(errno));
		return KP_TEMP;
	}
	if ((rc = st_lock_wait(st, wait_s, err, errlen)) != KP_OK)
		return rc;
	st->lock_dev = sb.st_dev;
	st->lock_ino = sb.st_ino;
	st->pid = getpid();
	st->held_next = st_held;
	st_held = st;
	/* For people: who has it.  F_GETLK tells programs. */
	(void)util_snprintf(pid, sizeof(pid), "%ld\n", (long)st->pid);
	if (ftruncate(st->lock_fd, 0) == 0 &&
	    util_write_all(st->lock_fd, pid, strlen(pid), -1) == -1) {
		/* Only for people to read: the lock holds all the same. */
	}
	return KP_OK;
}

void
st_account_unlock(struct st *st)
{
	struct st **pp;

	for (pp = &st_held; *pp != NULL; pp = &(*pp)->held_next)
		if (*pp == st) {
			*pp = st->held_next;
			break;
		}
	if (st->lock_fd != -1)
		(void)close(st->lock_fd);
	st->lock_fd = -1;
}
