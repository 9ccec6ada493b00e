/*
 * kpop/state.c: the per-account UIDL state (state.h): account ids and
 * directories, the account lock, the record format, loading the snapshot
 * and replaying the journal, recording, recovery after a crash, the
 * wholesale-change rule and compaction.
 *
 * The entries live in a hash table keyed by UIDL (a server may list
 * 100,000 messages kept with --keep; a sorted array would cost O(n) a
 * new message).  Every change is journalled and fsynced before the table
 * changes, so what the table says was durable when it said it.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/limits.h"
#include "common/pop3.h"
#include "common/util.h"
#include "kpop/deliver.h"
#include "kpop/state.h"

/* Buckets of the UIDL table at first; it doubles past two per bucket. */
#define ST_BUCKETS_MIN	256
/* Fields of a record before its CRC: "I", the UIDL, eight of <where>. */
#define ST_FIELDS_MAX	10
/* The CRC field: CRC-32 as 8 hex digits. */
#define ST_CRC_HEX	8
/* Fields of <where>. */
#define ST_WHERE_FIELDS	8
/* Bytes of random in a token (ST_TOKEN_LEN hex digits). */
#define ST_TOKEN_BYTES	(ST_TOKEN_LEN / 2)

struct st_ent {
	struct st_ent	*next;
	struct dlv_where *w;		/* ST_PENDING: where it is going */
	unsigned int	 mark;		/* == st->mark: the server lists it */
	enum st_status	 status;
	char		 uidl[POP3_UIDL_MAX + 1];
};

struct st {
	char		 dir[PATH_MAX];	/* the account's directory */
	char		 id[ST_ID_MAX + 1];
	int		 lock_fd;
	dev_t		 lock_dev;
	ino_t		 lock_ino;
	pid_t		 pid;		/* the process holding the lock */
	struct st	*held_next;	/* st_held */
	int		 jfd;		/* the journal, O_APPEND */
	off_t		 jsize;		/* its good length */
	unsigned long long gen;		/* of the snapshot and journal */
	int		 broken;	/* a torn record could not be cut */
	struct st_ent	**tab;
	size_t		 nb;		/* buckets: a power of two */
	size_t		 count;
	unsigned int	 mark;
	char		 line[ST_LINE_MAX];	/* a record being made */
};

/* One record, parsed or to be written. */
struct st_r {
	char		 type;		/* I D K X F; S J for the headers */
	char		 uidl[POP3_UIDL_MAX + 1];
	unsigned long long gen;		/* S, J */
	const struct dlv_where *w;	/* I, and D when given */
};

/*
 * The states this process has open: fcntl locks do not exclude the
 * process that holds them, and closing any descriptor of the lock file
 * would drop ours, so a second st_open of an account is caught here,
 * before it opens anything.  kpop is single-threaded.
 */
static struct st *st_held;

/* ---- small helpers ---- */


/* CRC-32 (IEEE 802.3, as zlib), bit by bit: records are short. */
static uint32_t
st_crc32(const char *p, size_t n)
{
	uint32_t c = 0xffffffffU;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		c ^= (unsigned char)p[i];
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320U & (0U - (c & 1U)));
	}
	return ~c;
}

/* n hex digits at s as n / 2 bytes at out.  0 or -1. */
static int
st_unhex(const char *s, size_t n, unsigned char *out)
{
	size_t i;
	int hi, lo;

	for (i = 0; i + 1 < n; i += 2) {
		if ((hi = util_xdigit(s[i])) == -1 ||
		    (lo = util_xdigit(s[i + 1])) == -1)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return n % 2 == 0 ? 0 : -1;
}


/* Write all n bytes, retrying on EINTR.  0 or -1 (errno). */
static int
st_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
st_token(char *out, size_t outlen)
{
	unsigned char r[ST_TOKEN_BYTES];

	if (outlen <= ST_TOKEN_LEN || RAND_bytes(r, sizeof(r)) != 1)
		return ST_ERR;
	util_hex(r, sizeof(r), out);
	return ST_OK;
}

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
		return ST_ERR;
	util_hex(md, mdlen, hex);
	hex[ST_ID_HASH_HEX] = '\0';
	/* Do not leave half of a %XX at the cut. */
	if (id[cut - 1] == '%')
		cut -= 1;
	else if (id[cut - 2] == '%')
		cut -= 2;
	id[cut] = '\0';
	return util_snprintf(out, outlen, "%s~%s", id, hex) == 0 ? ST_OK :
	    ST_ERR;
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
		return ST_ERR;
	st_id_enc(id, &o, user, 0, 1);
	id[o++] = '@';
	st_id_enc(id, &o, host, 1, 0);
	if (util_snprintf(id + o, sizeof(id) - o, ":%u", port) == -1)
		return ST_ERR;
	o += strlen(id + o);
	if (o <= ST_ID_MAX)
		return util_strlcpy(out, id, outlen) == 0 ? ST_OK : ST_ERR;
	return st_id_cut(id, o, out, outlen);
}

/* Whether id is one st_account_id could have made. */
static int
st_id_valid(const char *id)
{
	const unsigned char *p = (const unsigned char *)id;
	size_t i;

	for (i = 0; p[i] != '\0'; i++)
		if (i >= ST_ID_MAX || !(st_id_plain(p[i], i == 0) ||
		    p[i] == '%' || p[i] == '@' || p[i] == ':' || p[i] == '~'))
			return 0;
	return i > 0;
}

int
st_default_dir(char *out, size_t outlen, char *err, size_t errlen)
{
	const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	struct passwd *pw;

	if (x != NULL && x[0] == '/') {
		if (util_snprintf(out, outlen, "%s/kpop", x) == -1)
			goto long_path;
		return ST_OK;
	}
	if ((home == NULL || home[0] != '/') &&
	    (pw = getpwuid(getuid())) != NULL)
		home = pw->pw_dir;
	if (home == NULL || home[0] != '/') {
		(void)util_snprintf(err, errlen,
		    "no state directory: set HOME or "
		    "XDG_STATE_HOME");
		return ST_ERR;
	}
	if (util_snprintf(out, outlen, "%s/.local/state/kpop", home) == -1)
		goto long_path;
	return ST_OK;
long_path:
	(void)util_snprintf(err, errlen, "state directory: path too long");
	return ST_ERR;
}

/* Whether the string uidl is a UIDL. */
static int
uidl_ok(const char *uidl)
{
	return pop3_uidl_ok(uidl, strlen(uidl));
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
static int
st_mkdirs(const char *path, char *err, size_t errlen)
{
	char p[PATH_MAX];
	struct stat st;
	size_t i;

	if (util_strlcpy(p, path, sizeof(p)) == -1) {
		(void)util_snprintf(err, errlen, "%s: path too long", path);
		return ST_ERR;
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
	return ST_OK;
fail:
	(void)util_snprintf(err, errlen,
	    "state directory %s: %s", p, strerror(errno));
	return ST_ERR;
}

/*
 * Make the account's directory, and check that it is a directory of
 * ours (not a symbolic link someone planted) and closed to others.
 */
static int
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
		return ST_ERR;
	}
	if ((sb.st_mode & 077) != 0 && chmod(st->dir, 0700) == -1)
		goto fail;
	return ST_OK;
fail:
	(void)util_snprintf(err, errlen, "state directory %s: %s", st->dir,
	    strerror(errno));
	return ST_ERR;
}

/* ---- the account lock ---- */

/* The pid holding an fcntl lock on fd, 0 if none (or unknown). */
static long
st_lock_holder(int fd)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &fl) == -1 || fl.l_type == F_UNLCK)
		return 0;
	return (long)fl.l_pid;
}

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
			    st->id, st_lock_holder(st->lock_fd));
			return ST_BUSY;
		}
		(void)nanosleep(&poll, NULL);
	}
	if (busy == -1) {
		(void)util_snprintf(err, errlen, "account %s: lock: %s", st->id,
		    strerror(errno));
		return ST_ERR;
	}
	return ST_OK;
}

static int
st_lock(struct st *st, unsigned int wait_s, char *err, size_t errlen)
{
	char path[PATH_MAX], pid[32];
	struct stat sb;
	int rc;

	if (util_snprintf(path, sizeof(path), "%s/lock", st->dir) == -1) {
		(void)util_snprintf(err, errlen, "%s: path too long", st->dir);
		return ST_ERR;
	}
	if (st_held_here(path)) {
		(void)util_snprintf(err, errlen,
		    "account %s is busy (pid %ld, this "
		    "process)", st->id, (long)getpid());
		return ST_BUSY;
	}
	if ((st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW | O_NOCTTY, 0600)) == -1 ||
	    fstat(st->lock_fd, &sb) == -1) {
		(void)util_snprintf(err, errlen,
		    "%s: %s", path, strerror(errno));
		return ST_ERR;
	}
	if ((rc = st_lock_wait(st, wait_s, err, errlen)) != ST_OK)
		return rc;
	st->lock_dev = sb.st_dev;
	st->lock_ino = sb.st_ino;
	st->pid = getpid();
	st->held_next = st_held;
	st_held = st;
	/* For people: who has it.  F_GETLK tells programs. */
	(void)util_snprintf(pid, sizeof(pid), "%ld\n", (long)st->pid);
	if (ftruncate(st->lock_fd, 0) == 0)
		(void)st_write_all(st->lock_fd, pid, strlen(pid));
	return ST_OK;
}

/* ---- the table ---- */

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

static struct st_ent *
st_find(const struct st *st, const char *uidl)
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

	if ((e = st_find(st, uidl)) != NULL)
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
static int
st_apply(struct st *st, const struct st_r *r)
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

/* ---- making records ---- */

struct st_out {
	char	*p;
	size_t	 size, n;
	int	 full;
};

static void st_out_fmt(struct st_out *, const char *, ...) KP_PRINTF(2, 3);

static void
st_out_fmt(struct st_out *o, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (o->full)
		return;
	va_start(ap, fmt);
	k = vsnprintf(o->p + o->n, o->size - o->n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= o->size - o->n)
		o->full = 1;
	else
		o->n += (size_t)k;
}

/*
 * " " and s percent-encoded: bytes outside 0x21-0x7E and '%' as %XX;
 * "" is "-" and "-" itself "%2D", so "-" can mean none.
 */
static void
st_out_str(struct st_out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (*p == '\0') {
		st_out_fmt(o, " -");
		return;
	}
	if (strcmp(s, "-") == 0) {
		st_out_fmt(o, " %%2D");
		return;
	}
	st_out_fmt(o, " ");
	for (; *p != '\0' && !o->full; p++)
		if (*p < 0x21 || *p > 0x7e || *p == '%')
			st_out_fmt(o, "%%%02X", *p);
		else
			st_out_fmt(o, "%c", *p);
}

static char
st_kind_char(enum dlv_kind k)
{
	switch (k) {
	case DLV_MAILDIR:
		return 'm';
	case DLV_MBOX:
		return 'b';
	case DLV_MDA:
		return 'p';
	default:
		return 's';
	}
}

static void
st_out_where(struct st_out *o, const struct dlv_where *w)
{
	char sha[2 * DLV_SHA256_LEN + 1];

	st_out_fmt(o, " %c", st_kind_char(w->kind));
	st_out_str(o, w->token);
	st_out_fmt(o, " %llu", w->size);
	if (w->placed) {
		util_hex(w->sha256, sizeof(w->sha256), sha);
		st_out_fmt(o, " %llu %llu %s", w->offset, w->len, sha);
	} else
		st_out_fmt(o, " - - -");
	st_out_str(o, w->arg);
	st_out_str(o, w->name);
}

/* Make r's line (with CRC and LF) in st->line; its length, or 0. */
static size_t
st_format(struct st *st, const struct st_r *r)
{
	struct st_out o = { st->line, sizeof(st->line), 0, 0 };
	uint32_t crc;

	if (r->type == 'S' || r->type == 'J')
		st_out_fmt(&o, "%c %llu", r->type, r->gen);
	else
		st_out_fmt(&o, "%c %s", r->type, r->uidl);
	if (r->w != NULL)
		st_out_where(&o, r->w);
	if (o.full)
		return 0;
	crc = st_crc32(o.p, o.n);
	st_out_fmt(&o, " %08x\n", (unsigned int)crc);
	return o.full ? 0 : o.n;
}

/* ---- reading records ---- */

struct st_fields {
	const char	*f[ST_FIELDS_MAX];
	size_t		 len[ST_FIELDS_MAX];
	size_t		 n;
};

/* Check the CRC of the n bytes of a line (no LF) and split them. */
static int
st_split(const char *line, size_t n, struct st_fields *fs)
{
	unsigned char crc[4];
	size_t i, start = 0, body;
	uint32_t want;

	if (n < ST_CRC_HEX + 2 || line[n - ST_CRC_HEX - 1] != ' ' ||
	    st_unhex(line + n - ST_CRC_HEX, ST_CRC_HEX, crc) == -1)
		return -1;
	body = n - ST_CRC_HEX - 1;
	want = (uint32_t)crc[0] << 24 | (uint32_t)crc[1] << 16 |
	    (uint32_t)crc[2] << 8 | crc[3];
	if (st_crc32(line, body) != want)
		return -1;
	fs->n = 0;
	for (i = 0; i <= body; i++) {
		if (i < body && line[i] != ' ')
			continue;
		if (i == start || fs->n == ST_FIELDS_MAX)
			return -1;
		fs->f[fs->n] = line + start;
		fs->len[fs->n++] = i - start;
		start = i + 1;
	}
	return 0;
}

/* Decode a string field into out (of outlen).  0 or -1. */
static int
st_dec(const char *s, size_t n, char *out, size_t outlen)
{
	unsigned char b;
	size_t i, o = 0;

	if (n == 1 && s[0] == '-') {
		out[0] = '\0';
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (s[i] != '%')
			b = (unsigned char)s[i];
		else if (i + 2 >= n || st_unhex(s + i + 1, 2, &b) == -1 ||
		    b == '\0')
			return -1;
		else
			i += 2;
		if (o + 1 >= outlen)
			return -1;
		out[o++] = (char)b;
	}
	out[o] = '\0';
	return 0;
}

static int
st_num(const char *s, size_t n, unsigned long long *v)
{
	return util_parse_uint(s, n, ULLONG_MAX, v);
}

static int
st_is_none(const char *s, size_t n)
{
	return n == 1 && s[0] == '-';
}

static int
st_kind(char c, enum dlv_kind *k)
{
	static const enum dlv_kind kinds[] = { DLV_MAILDIR, DLV_MBOX,
	    DLV_MDA, DLV_STDOUT };
	size_t i;

	for (i = 0; i < KP_NELEM(kinds); i++)
		if (st_kind_char(kinds[i]) == c) {
			*k = kinds[i];
			return 0;
		}
	return -1;
}

/* The offset, length and digest of a placed mbox append, or "- - -". */
static int
st_parse_place(const struct st_fields *fs, size_t at, struct dlv_where *w)
{
	if (st_is_none(fs->f[at], fs->len[at]) &&
	    st_is_none(fs->f[at + 1], fs->len[at + 1]) &&
	    st_is_none(fs->f[at + 2], fs->len[at + 2]))
		return 0;
	w->placed = 1;
	if (st_num(fs->f[at], fs->len[at], &w->offset) == -1 ||
	    st_num(fs->f[at + 1], fs->len[at + 1], &w->len) == -1 ||
	    fs->len[at + 2] != 2 * DLV_SHA256_LEN ||
	    st_unhex(fs->f[at + 2], fs->len[at + 2], w->sha256) == -1)
		return -1;
	return 0;
}

/* <where> from field at on. */
static int
st_parse_where(const struct st_fields *fs, size_t at, struct dlv_where *w)
{
	memset(w, 0, sizeof(*w));
	if (fs->n != at + ST_WHERE_FIELDS || fs->len[at] != 1 ||
	    st_kind(fs->f[at][0], &w->kind) == -1 ||
	    st_dec(fs->f[at + 1], fs->len[at + 1], w->token,
	    sizeof(w->token)) == -1 ||
	    (w->token[0] != '\0' && !dlv_token_valid(w->token)) ||
	    st_num(fs->f[at + 2], fs->len[at + 2], &w->size) == -1 ||
	    st_parse_place(fs, at + 3, w) == -1 ||
	    st_dec(fs->f[at + 6], fs->len[at + 6], w->arg,
	    sizeof(w->arg)) == -1 ||
	    st_dec(fs->f[at + 7], fs->len[at + 7], w->name,
	    sizeof(w->name)) == -1)
		return -1;
	return 0;
}

/*
 * Parse the n bytes of one line (no LF) into r; w is the storage for its
 * <where>.  0 or -1 (torn or corrupt).
 */
static int
st_parse(const char *line, size_t n, struct st_r *r, struct dlv_where *w)
{
	struct st_fields fs;
	char t;

	if (st_split(line, n, &fs) == -1 || fs.len[0] != 1)
		return -1;
	memset(r, 0, sizeof(*r));
	r->type = t = fs.f[0][0];
	if (t == 'S' || t == 'J')
		return fs.n == 2 && st_num(fs.f[1], fs.len[1], &r->gen) == 0 ?
		    0 : -1;
	if (strchr("IDKXF", t) == NULL || fs.n < 2 ||
	    fs.len[1] > POP3_UIDL_MAX)
		return -1;
	memcpy(r->uidl, fs.f[1], fs.len[1]);
	r->uidl[fs.len[1]] = '\0';
	if (!uidl_ok(r->uidl))
		return -1;
	if (t == 'I' || (t == 'D' && fs.n > 2)) {
		r->w = w;
		return st_parse_where(&fs, 2, w);
	}
	return fs.n == 2 ? 0 : -1;
}

/* The whole file open as fd into *bufp (NUL-terminated), *lenp. */
static int
st_slurp(int fd, const char *path, char **bufp, size_t *lenp, char *err,
    size_t errlen)
{
	struct stat sb;
	size_t got = 0;
	ssize_t r;
	char *buf;

	*bufp = NULL;
	if (fstat(fd, &sb) == -1) {
		(void)util_snprintf(err, errlen,
		    "%s: %s", path, strerror(errno));
		return ST_ERR;
	}
	if (sb.st_size > ST_FILE_MAX) {
		(void)util_snprintf(err, errlen,
		    "%s: larger than %d bytes", path,
		    ST_FILE_MAX);
		return ST_ERR;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		(void)util_snprintf(err, errlen, "%s: out of memory", path);
		return ST_ERR;
	}
	while (got < (size_t)sb.st_size) {
		r = pread(fd, buf + got, (size_t)sb.st_size - got, (off_t)got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got < (size_t)sb.st_size) {
		(void)util_snprintf(err, errlen,
		    "%s: read: %s", path, strerror(errno));
		free(buf);
		return ST_ERR;
	}
	buf[got] = '\0';
	*bufp = buf;
	*lenp = got;
	return ST_OK;
}

/*
 * Replay the records in buf (len bytes) whose first record must be the
 * header head ('S' or 'J').  *gen gets the header's generation, *good the
 * length of the good records.  A journal (torn_ok) may end in one bad
 * record, which is left out of *good; a journal whose header is missing
 * or torn, or older than min_gen, is skipped whole (returns 1, *good 0).
 * Returns 0, 1, or ST_ERR (corrupt, or no memory).
 */
static int
st_replay(struct st *st, const char *buf, size_t len, char head,
    int torn_ok, unsigned long long min_gen, unsigned long long *gen,
    size_t *good, const char *path, char *err, size_t errlen)
{
	struct dlv_where w;
	struct st_r r;
	const char *nl;
	size_t at = 0, lineno = 0;

	*good = 0;
	while (at < len) {
		lineno++;
		nl = memchr(buf + at, '\n', len - at);
		if (nl == NULL || st_parse(buf + at, (size_t)(nl - buf) - at,
		    &r, &w) == -1 || (lineno == 1 ? r.type != head :
		    r.type == 'S' || r.type == 'J')) {
			if (torn_ok && (nl == NULL || (size_t)(nl - buf) + 1 ==
			    len))
				return lineno == 1 ? 1 : 0;
			(void)util_snprintf(err, errlen,
			    "%s: line %zu is corrupt", path,
			    lineno);
			return ST_ERR;
		}
		if (lineno == 1 && (*gen = r.gen) < min_gen)
			return 1;
		if (lineno > 1 && st_apply(st, &r) == -1) {
			(void)util_snprintf(err, errlen,
			    "%s: out of memory", path);
			return ST_ERR;
		}
		at = (size_t)(nl - buf) + 1;
		*good = at;
	}
	return lineno == 0 ? 1 : 0;
}

/* ---- the journal ---- */

static int
st_path(const struct st *st, const char *name, char *out, size_t outlen)
{
	return util_snprintf(out, outlen, "%s/%s", st->dir, name);
}

/* Start the journal over at generation gen, empty but for its header. */
static int
st_jreset(struct st *st, unsigned long long gen, char *err, size_t errlen)
{
	struct st_r r = { 'J', "", gen, NULL };
	size_t n = st_format(st, &r);

	if (ftruncate(st->jfd, 0) == -1 ||
	    st_write_all(st->jfd, st->line, n) == -1 || fsync(st->jfd) == -1) {
		(void)util_snprintf(err, errlen, "%s/journal: %s", st->dir,
		    strerror(errno));
		st->broken = 1;
		return ST_ERR;
	}
	st->jsize = (off_t)n;
	st->gen = gen;
	st->broken = 0;
	return ST_OK;
}

/* Load the snapshot, if any.  Sets st->gen. */
static int
st_load_snapshot(struct st *st, char *err, size_t errlen)
{
	char path[PATH_MAX], *buf;
	size_t len, good;
	int fd, rc;

	st->gen = 0;
	if (st_path(st, "state", path, sizeof(path)) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			return ST_OK;
		(void)util_snprintf(err, errlen,
		    "%s: %s", path, strerror(errno));
		return ST_ERR;
	}
	rc = st_slurp(fd, path, &buf, &len, err, errlen);
	(void)close(fd);
	if (rc != ST_OK)
		return rc;
	rc = st_replay(st, buf, len, 'S', 0, 0, &st->gen, &good, path, err,
	    errlen);
	free(buf);
	if (rc == 1) {
		(void)util_snprintf(err, errlen, "%s: no header", path);
		return ST_ERR;
	}
	return rc;
}

/*
 * Open and replay the journal; cut a torn record off its end, and start
 * it over when it is missing, empty, torn at its header, or stale.
 */
static int
st_load_journal(struct st *st, char *err, size_t errlen)
{
	char path[PATH_MAX], *buf;
	unsigned long long gen = 0;
	size_t len, good;
	int rc;

	if (st_path(st, "journal", path, sizeof(path)) == -1 ||
	    (st->jfd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC |
	    O_NOFOLLOW | O_NOCTTY, 0600)) == -1) {
		(void)util_snprintf(err, errlen,
		    "%s: %s", path, strerror(errno));
		return ST_ERR;
	}
	if ((rc = st_slurp(st->jfd, path, &buf, &len, err, errlen)) != ST_OK)
		return rc;
	rc = st_replay(st, buf, len, 'J', 1, st->gen, &gen, &good, path, err,
	    errlen);
	free(buf);
	if (rc == ST_ERR)
		return rc;
	/* A new journal must not vanish with the directory entry. */
	if (rc == 1)
		return st_jreset(st, st->gen, err, errlen) == ST_OK &&
		    util_fsync_dir(st->dir) == 0 ? ST_OK : ST_ERR;
	if (gen > st->gen)
		st->gen = gen;
	st->jsize = (off_t)good;
	if (good < len && (ftruncate(st->jfd, (off_t)good) == -1 ||
	    fsync(st->jfd) == -1)) {
		(void)util_snprintf(err, errlen,
		    "%s: cutting a torn record: %s", path,
		    strerror(errno));
		return ST_ERR;
	}
	return ST_OK;
}

/* Append the n-byte line in st->line, without fsync. */
static int
st_jwrite(struct st *st, size_t n, char *err, size_t errlen)
{
	if (n == 0) {
		(void)util_snprintf(err, errlen,
		    "%s/journal: record too long", st->dir);
		return ST_ERR;
	}
	if (st_write_all(st->jfd, st->line, n) == -1) {
		(void)util_snprintf(err, errlen,
		    "%s/journal: write: %s", st->dir,
		    strerror(errno));
		return ST_ERR;
	}
	return ST_OK;
}

/*
 * After the records from start: fsync them (ok) or cut them off again.
 * A journal that cannot be cut back is broken: no more records.
 */
static int
st_jsync(struct st *st, int ok, char *err, size_t errlen)
{
	struct stat sb;

	if (ok && fsync(st->jfd) == 0 && fstat(st->jfd, &sb) == 0) {
		st->jsize = sb.st_size;
		return ST_OK;
	}
	if (ok)
		(void)util_snprintf(err, errlen,
		    "%s/journal: fsync: %s", st->dir,
		    strerror(errno));
	if (ftruncate(st->jfd, st->jsize) == -1 || fsync(st->jfd) == -1)
		st->broken = 1;
	return ST_ERR;
}

/* Journal n records durably, then apply them. */
static int
st_log(struct st *st, const struct st_r *r, size_t n, char *err,
    size_t errlen)
{
	size_t i;
	int ok = 1;

	if (st->broken) {
		(void)util_snprintf(err, errlen,
		    "%s/journal: an earlier write failed "
		    "and could not be undone", st->dir);
		return ST_ERR;
	}
	for (i = 0; i < n && ok; i++)
		ok = st_jwrite(st, st_format(st, &r[i]), err, errlen) == ST_OK;
	if (st_jsync(st, ok, err, errlen) != ST_OK)
		return ST_ERR;
	for (i = 0; i < n; i++)
		if (st_apply(st, &r[i]) == -1) {
			(void)util_snprintf(err, errlen, "out of memory");
			return ST_ERR;
		}
	return ST_OK;
}

/* ---- open and close ---- */

int
st_open(const char *base, const char *id, unsigned int wait_s,
    struct st **stp, char *err, size_t errlen)
{
	char dbase[PATH_MAX];
	struct st *st;
	int rc;

	*stp = NULL;
	if (!st_id_valid(id)) {
		(void)util_snprintf(err, errlen, "bad account id");
		return ST_ERR;
	}
	if (base == NULL) {
		if (st_default_dir(dbase, sizeof(dbase), err, errlen) != ST_OK)
			return ST_ERR;
		base = dbase;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		(void)util_snprintf(err, errlen, "out of memory");
		return ST_ERR;
	}
	st->lock_fd = st->jfd = -1;
	(void)util_strlcpy(st->id, id, sizeof(st->id));
	if (util_snprintf(st->dir, sizeof(st->dir), "%s/%s", base, id) == -1) {
		(void)util_snprintf(err, errlen, "%s: path too long", base);
		rc = ST_ERR;
	} else if ((rc = st_mkdirs(base, err, errlen)) == ST_OK &&
	    (rc = st_account_dir(st, err, errlen)) == ST_OK &&
	    (rc = st_lock(st, wait_s, err, errlen)) == ST_OK &&
	    (rc = st_load_snapshot(st, err, errlen)) == ST_OK &&
	    (rc = st_load_journal(st, err, errlen)) == ST_OK &&
	    st->jsize > ST_COMPACT_AT)
		rc = st_compact(st, NULL, 0, err, errlen);
	if (rc != ST_OK) {
		st_close(st);
		return rc;
	}
	*stp = st;
	return ST_OK;
}

void
st_close(struct st *st)
{
	struct st **pp;
	struct st_ent *e, *next;
	size_t i;

	if (st == NULL)
		return;
	for (pp = &st_held; *pp != NULL; pp = &(*pp)->held_next)
		if (*pp == st) {
			*pp = st->held_next;
			break;
		}
	if (st->jfd != -1)
		(void)close(st->jfd);
	if (st->lock_fd != -1)
		(void)close(st->lock_fd);
	for (i = 0; i < st->nb; i++)
		for (e = st->tab[i]; e != NULL; e = next) {
			next = e->next;
			free(e->w);
			free(e);
		}
	free(st->tab);
	free(st);
}

const char *
st_dir(const struct st *st)
{
	return st->dir;
}

/* ---- queries ---- */

enum st_status
st_get(const struct st *st, const char *uidl, const struct dlv_where **wp)
{
	struct st_ent *e;

	if (wp != NULL)
		*wp = NULL;
	if (!uidl_ok(uidl) || (e = st_find(st, uidl)) == NULL)
		return ST_UNKNOWN;
	if (wp != NULL)
		*wp = e->w;
	return e->status;
}

size_t
st_count(const struct st *st)
{
	return st->count;
}

int
st_each(const struct st *st, int (*fn)(void *, const char *,
    enum st_status, const struct dlv_where *), void *arg)
{
	struct st_ent *e;
	size_t i;
	int rc;

	for (i = 0; i < st->nb; i++)
		for (e = st->tab[i]; e != NULL; e = e->next)
			if ((rc = fn(arg, e->uidl, e->status, e->w)) != 0)
				return rc;
	return 0;
}

/* ---- recording ---- */

/*
 * Check a record call: the UIDL is valid and its status one of the
 * allowed (a bit per enum st_status).  Returns the entry's status, or -1
 * with err set.
 */
static int
st_check(const struct st *st, const char *uidl, unsigned int allowed,
    const char *what, char *err, size_t errlen)
{
	static const char *const name[] = { "unknown", "pending",
	    "delivered", "kept", "deleted" };
	enum st_status s;

	if (!uidl_ok(uidl)) {
		(void)util_snprintf(err, errlen,
		    "%s: not a valid UIDL (1-70 characters "
		    "0x21-0x7E)", what);
		return -1;
	}
	s = st_get(st, uidl, NULL);
	if ((allowed & (1U << s)) == 0) {
		(void)util_snprintf(err, errlen,
		    "%s %s: not allowed, the message is %s",
		    what, uidl, name[s]);
		return -1;
	}
	return (int)s;
}

#define ST_BIT(s)	(1U << (s))

/* A record of type t for uidl (checked valid), with w or NULL. */
static void
st_rec(struct st_r *r, char t, const char *uidl, const struct dlv_where *w)
{
	memset(r, 0, sizeof(*r));
	r->type = t;
	(void)util_strlcpy(r->uidl, uidl, sizeof(r->uidl));
	r->w = w;
}

int
st_intent(struct st *st, const char *uidl, const struct dlv_where *w,
    char *err, size_t errlen)
{
	struct st_r r;

	/* DELETED: a server may list a UIDL again once its message is
	   gone (RFC 1939 s.7); what it lists under it now is new mail. */
	if (st_check(st, uidl, ST_BIT(ST_UNKNOWN) | ST_BIT(ST_PENDING) |
	    ST_BIT(ST_DELETED), "intent", err, errlen) == -1)
		return ST_ERR;
	if ((w->kind == DLV_MAILDIR || w->token[0] != '\0') &&
	    !dlv_token_valid(w->token)) {
		(void)util_snprintf(err, errlen,
		    "intent %s: bad delivery token", uidl);
		return ST_ERR;
	}
	st_rec(&r, 'I', uidl, w);
	return st_log(st, &r, 1, err, errlen);
}

int
st_delivered(struct st *st, const char *uidl, const struct dlv_where *w,
    char *err, size_t errlen)
{
	struct st_r r;
	int s;

	if ((s = st_check(st, uidl, ST_BIT(ST_PENDING) | ST_BIT(ST_DELIVERED),
	    "delivered", err, errlen)) == -1)
		return ST_ERR;
	if (s == ST_DELIVERED)
		return ST_OK;
	st_rec(&r, 'D', uidl, w);
	return st_log(st, &r, 1, err, errlen);
}

int
st_kept(struct st *st, const char *uidl, char *err, size_t errlen)
{
	struct st_r r;
	int s;

	if ((s = st_check(st, uidl, ST_BIT(ST_DELIVERED) | ST_BIT(ST_KEPT),
	    "kept", err, errlen)) == -1)
		return ST_ERR;
	if (s == ST_KEPT)
		return ST_OK;
	st_rec(&r, 'K', uidl, NULL);
	return st_log(st, &r, 1, err, errlen);
}

int
st_deleted(struct st *st, const char *const *uidls, size_t n, char *err,
    size_t errlen)
{
	struct st_r *r;
	size_t i, k = 0;
	int s, rc;

	if ((r = calloc(n == 0 ? 1 : n, sizeof(*r))) == NULL) {
		(void)util_snprintf(err, errlen, "out of memory");
		return ST_ERR;
	}
	for (i = 0; i < n; i++) {
		if ((s = st_check(st, uidls[i], ST_BIT(ST_DELIVERED) |
		    ST_BIT(ST_KEPT) | ST_BIT(ST_DELETED), "deleted", err,
		    errlen)) == -1) {
			free(r);
			return ST_ERR;
		}
		if (s != ST_DELETED)
			st_rec(&r[k++], 'X', uidls[i], NULL);
	}
	rc = k == 0 ? ST_OK : st_log(st, r, k, err, errlen);
	free(r);
	return rc;
}

int
st_forget(struct st *st, const char *uidl, char *err, size_t errlen)
{
	struct st_r r;

	if (st_check(st, uidl, ST_BIT(ST_PENDING), "forget", err,
	    errlen) == -1)
		return ST_ERR;
	st_rec(&r, 'F', uidl, NULL);
	return st_log(st, &r, 1, err, errlen);
}

/* ---- recovery ---- */

struct st_note {
	void		(*fn)(void *, const char *, const char *);
	void		*arg;
};

static void st_say(const struct st_note *, const char *, const char *, ...)
    KP_PRINTF(3, 4);

static void
st_say(const struct st_note *nt, const char *uidl, const char *fmt, ...)
{
	char msg[DLV_ERR_MAX];
	va_list ap;

	if (nt->fn == NULL)
		return;
	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	nt->fn(nt->arg, uidl, msg);
}

/* A pending mbox append: whole, torn (cut it off), or never made. */
static int
st_recover_mbox(struct st *st, const char *uidl, struct dlv_where *w,
    const struct st_note *nt, unsigned int lock_wait, char *err,
    size_t errlen)
{
	int rc;

	if (!w->placed)
		return st_forget(st, uidl, err, errlen);
	rc = dlv_mbox_check(w->arg, w->offset, w->len, w->sha256, err,
	    errlen);
	if (rc < 0)
		return ST_ERR;
	if (rc == DLV_PRESENT) {
		st_say(nt, uidl, "mbox %s: the interrupted delivery is there "
		    "(offset %llu): not delivering it again", w->arg,
		    w->offset);
		return st_delivered(st, uidl, w, err, errlen);
	}
	if (rc == DLV_PARTIAL) {
		rc = dlv_mbox_unappend(w->arg, w->offset, w->len, lock_wait,
		    err, errlen);
		if (rc == DLV_TEMP)
			return ST_ERR;
		if (rc == DLV_PERM)
			st_say(nt, uidl, "%s", err);
		else
			st_say(nt, uidl, "mbox %s: removed the torn delivery "
			    "at offset %llu", w->arg, w->offset);
	}
	return st_forget(st, uidl, err, errlen);
}

/* Settle one pending entry (its where copied, as forget frees it). */
static int
st_recover_one(struct st *st, const char *uidl, const struct st_note *nt,
    unsigned int lock_wait, char *err, size_t errlen)
{
	struct dlv_where w;
	const struct dlv_where *wp;
	int rc;

	if (st_get(st, uidl, &wp) != ST_PENDING || wp == NULL)
		return ST_OK;
	w = *wp;
	switch (w.kind) {
	case DLV_MAILDIR:
		rc = dlv_maildir_find(w.arg, w.token, w.name, sizeof(w.name),
		    err, errlen);
		if (rc < 0)
			return ST_ERR;
		if (rc == 0)
			return st_forget(st, uidl, err, errlen);
		st_say(nt, uidl, "Maildir %s: the interrupted delivery is "
		    "there (%s): not delivering it again", w.arg, w.name);
		return st_delivered(st, uidl, &w, err, errlen);
	case DLV_MBOX:
		return st_recover_mbox(st, uidl, &w, nt, lock_wait, err,
		    errlen);
	case DLV_MDA:
		st_say(nt, uidl, "mda %s was interrupted: delivering again "
		    "(the MDA may see it twice)", w.arg);
		return st_forget(st, uidl, err, errlen);
	default:
		st_say(nt, uidl, "output to stdout was interrupted: "
		    "delivering again");
		return st_forget(st, uidl, err, errlen);
	}
}

/* Collect the pending UIDLs (changes during recovery move entries). */
static int
st_pending(const struct st *st, char (**listp)[POP3_UIDL_MAX + 1],
    size_t *np)
{
	char (*list)[POP3_UIDL_MAX + 1] = NULL;
	struct st_ent *e;
	size_t i, n = 0, cap = 0;

	for (i = 0; i < st->nb; i++)
		for (e = st->tab[i]; e != NULL; e = e->next) {
			if (e->status != ST_PENDING)
				continue;
			if (n == cap) {
				void *p;

				cap = cap == 0 ? 16 : cap * 2;
				if ((p = realloc(list, cap * sizeof(*list))) ==
				    NULL) {
					free(list);
					return -1;
				}
				list = p;
			}
			memcpy(list[n++], e->uidl, sizeof(e->uidl));
		}
	*listp = list;
	*np = n;
	return 0;
}

int
st_recover(struct st *st, void (*note)(void *, const char *, const char *),
    void *arg, unsigned int lock_wait, char *err, size_t errlen)
{
	char (*list)[POP3_UIDL_MAX + 1];
	struct st_note nt = { note, arg };
	size_t i, n;
	int rc = ST_OK;

	if (st_pending(st, &list, &n) == -1) {
		(void)util_snprintf(err, errlen, "out of memory");
		return ST_ERR;
	}
	for (i = 0; i < n && rc == ST_OK; i++)
		rc = st_recover_one(st, list[i], &nt, lock_wait, err, errlen);
	free(list);
	return rc;
}

/* ---- the server's list: wholesale change and forgetting ---- */

/* Mark the entries the server lists; returns how many UIDLs were valid. */
static size_t
st_mark(struct st *st, const char *const *uidls, size_t n)
{
	struct st_ent *e;
	size_t i, valid = 0;

	if (++st->mark == 0) {
		for (i = 0; i < st->nb; i++)
			for (e = st->tab[i]; e != NULL; e = e->next)
				e->mark = 0;
		st->mark = 1;
	}
	for (i = 0; i < n; i++) {
		if (uidls[i] == NULL || !uidl_ok(uidls[i]))
			continue;
		valid++;
		if ((e = st_find(st, uidls[i])) != NULL)
			e->mark = st->mark;
	}
	return valid;
}

int
st_changed(struct st *st, const char *const *uidls, size_t n)
{
	struct st_ent *e;
	size_t i, expect = 0, listed = 0, valid;

	valid = st_mark(st, uidls, n);
	for (i = 0; i < st->nb; i++)
		for (e = st->tab[i]; e != NULL; e = e->next) {
			/*
			 * Only kept mail must still be there: a DELIVERED
			 * entry may be gone by a QUIT whose +OK a crash kept
			 * us from recording.
			 */
			if (e->status != ST_KEPT)
				continue;
			expect++;
			if (e->mark == st->mark)
				listed++;
		}
	return valid > 0 && expect >= ST_CHANGED_MIN &&
	    listed * 100 < expect * ST_CHANGED_PCT;
}

/* Drop settled entries the server no longer lists (marked by st_mark). */
static void
st_forget_gone(struct st *st)
{
	struct st_ent **pp, *e;
	size_t i;

	for (i = 0; i < st->nb; i++)
		for (pp = &st->tab[i]; (e = *pp) != NULL; ) {
			if (e->mark == st->mark || e->status == ST_PENDING) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			free(e->w);
			free(e);
			st->count--;
		}
}

/* The record that rebuilds an entry. */
static void
st_ent_rec(const struct st_ent *e, struct st_r *r)
{
	static const char type[] = { 'F', 'I', 'D', 'K', 'X' };

	st_rec(r, type[e->status], e->uidl, e->status == ST_PENDING ? e->w :
	    NULL);
}

/* Write every entry's record to fp after the header; 0 or -1. */
static int
st_write_entries(struct st *st, FILE *fp, unsigned long long gen)
{
	struct st_r r = { 'S', "", gen, NULL };
	struct st_ent *e;
	size_t i, n;

	n = st_format(st, &r);
	if (n == 0 || fwrite(st->line, 1, n, fp) != n)
		return -1;
	for (i = 0; i < st->nb; i++)
		for (e = st->tab[i]; e != NULL; e = e->next) {
			st_ent_rec(e, &r);
			n = st_format(st, &r);
			if (n == 0 || fwrite(st->line, 1, n, fp) != n)
				return -1;
		}
	return 0;
}

/* Write the snapshot of generation gen: tmp, fsync, rename, fsync dir. */
static int
st_write_snapshot(struct st *st, unsigned long long gen, char *err,
    size_t errlen)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	FILE *fp = NULL;
	int fd, ok;

	if (st_path(st, "state.tmp", tmp, sizeof(tmp)) == -1 ||
	    st_path(st, "state", path, sizeof(path)) == -1) {
		(void)util_snprintf(err, errlen, "%s: path too long", st->dir);
		return ST_ERR;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW | O_NOCTTY, 0600)) == -1 ||
	    (fp = fdopen(fd, "w")) == NULL) {
		(void)util_snprintf(err, errlen,
		    "%s: %s", tmp, strerror(errno));
		if (fd != -1)
			(void)close(fd);
		return ST_ERR;
	}
	ok = st_write_entries(st, fp, gen) == 0 && fflush(fp) == 0 &&
	    fsync(fd) == 0;
	if (fclose(fp) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) == -1 || util_fsync_dir(st->dir) == -1) {
		(void)util_snprintf(err, errlen, "%s: %s", ok ? path : tmp,
		    strerror(errno));
		(void)unlink(tmp);
		return ST_ERR;
	}
	return ST_OK;
}

int
st_compact(struct st *st, const char *const *uidls, size_t n, char *err,
    size_t errlen)
{
	if (st->broken) {
		(void)util_snprintf(err, errlen,
		    "%s/journal: an earlier write failed "
		    "and could not be undone", st->dir);
		return ST_ERR;
	}
	if (uidls != NULL && !st_changed(st, uidls, n))
		st_forget_gone(st);
	if (st_write_snapshot(st, st->gen + 1, err, errlen) != ST_OK)
		return ST_ERR;
	/*
	 * The snapshot has it all now.  Should the journal not start over,
	 * its old generation makes the next st_open drop it; but records
	 * appended to it now would be lost with it, so none are allowed.
	 */
	return st_jreset(st, st->gen + 1, err, errlen);
}
