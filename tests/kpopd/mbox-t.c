/* SPDX-License-Identifier: MIT */
/*
 * tests/kpopd/mbox-t.c: tests for the mbox backend of kpopd/maildrop.h
 * (kpopd/mbox*.c, with the shared kpopd/maildrop.c and md-*.c): parsing
 * (LF and CRLF, dot lines, ">From ", "From " inside a paragraph, an empty
 * message, a last line without newline), sizes against the encoder, byte
 * ranges, UIDLs (X-UIDL, hashes that survive rewrites and flag changes,
 * unique), the session lock, MDA locks held only while needed, delivery
 * during a session, commits refused when another program changed the
 * file, a disk full while journalling, journals left by crashes (made by
 * hand), and commits killed at random instants and, built with
 * KPOP_TEST_HOOKS, at every step: the mbox afterwards holds exactly the
 * old messages or exactly the new ones, plus all mail delivered
 * meanwhile.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kpopd/maildrop.h"
#include "kpopd/mbox-int.h"
#include "tap/basic.h"
#include "md-test.h"

/* ---- helpers ---- */

static int
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* What the lock file says, its first line, for a message. */
static const char *
lock_text(const char *lock)
{
	static char text[128];
	size_t n;
	char *t = t_slurp(lock, &n);

	(void)util_strlcpy(text, t != NULL ? t : "", sizeof(text));
	text[strcspn(text, "\n")] = '\0';
	free(t);
	return text;
}

static time_t
lock_mtime(const char *lock)
{
	struct stat st;

	return lstat(lock, &st) == 0 ? st.st_mtime : 0;
}

/* Append as an MDA does: dotlock, fcntl lock, write, unlock. */
static void
mda_append(const char *mbox, const char *data, size_t len)
{
	struct flock fl;
	char lock[PATH_MAX];
	int fd, lfd, i, e;

	(void)util_snprintf(lock, sizeof(lock), "%s.lock", mbox);
	for (i = 0; (lfd = open(lock, O_WRONLY | O_CREAT | O_EXCL, 0644)) ==
	    -1; i++) {
		e = errno;
		if (e != EEXIST || i > 200)
			bail("mda dotlock %s: %s (it says '%s', %lld s old)",
			    lock, strerror(e), lock_text(lock),
			    (long long)(time(NULL) - lock_mtime(lock)));
		util_sleep_ms(50);
	}
	if ((fd = open(mbox, O_WRONLY | O_APPEND | O_CREAT, 0600)) == -1)
		bail("mda open: %s", strerror(errno));
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLKW, &fl) == -1)
		bail("mda fcntl: %s", strerror(errno));
	if (util_write_all(fd, data, len, -1) == -1 || fsync(fd) == -1)
		bail("mda write: %s", strerror(errno));
	close(fd);
	close(lfd);
	unlink(lock);
}

/* A growable byte string. */
struct str {
	char	*p;
	size_t	 len, cap;
};

static void
str_add(struct str *s, const void *p, size_t n)
{
	if (s->len + n + 1 > s->cap) {
		s->cap = (s->len + n + 1) * 2;
		if ((s->p = realloc(s->p, s->cap)) == NULL)
			bail("realloc");
	}
	memcpy(s->p + s->len, p, n);
	s->len += n;
	s->p[s->len] = '\0';
}

static void
str_adds(struct str *s, const char *p)
{
	str_add(s, p, strlen(p));
}

/* ---- the main corpus ---- */

struct mmsg {
	const char	*from;
	const char	*body;
	size_t		 blen;
	const char	*sep;
};

static const struct mmsg corpus[] = {
	{ "From a@example.org Thu Nov 27 03:00:00 2025\n",
	    S("Return-Path: <a@example.org>\nSubject: one\nStatus: RO\n\n"
	    "Hello\n.dot\n..two\nFrom here, not a separator\n>From quoted\n"),
	    "\n" },
	{ "From b@example.org Thu Nov 27 03:00:01 2025\r\n",
	    S("Subject: two\r\nX-UIDL: abc123\r\n\r\nbody\r\n.\r\n"), "\r\n" },
	{ "From c@example.org Thu Nov 27 03:00:02 2025\n", S(""), "\n" },
	{ "From d@example.org Thu Nov 27 03:00:03 2025\n",
	    S("X-UIDL: bad uidl\nSubject: four\n\nx\n"), "\n" },
	{ "From e@example.org Thu Nov 27 03:00:04 2025\n",
	    S("Subject: dup\n\nsame\n"), "\n" },
	{ "From e@example.org Thu Nov 27 03:00:04 2025\n",
	    S("Subject: dup\n\nsame\n"), "\n" },
	{ "From f@example.org Thu Nov 27 03:00:05 2025\n",
	    S("Subject: six\nX-UIDL:  spaced-uidl \n\ntext\n\n"), "\n" },
	{ "From g@example.org Thu Nov 27 03:00:06 2025\n",
	    S("Subject: last\n\nno newline"), "" },
};

static void
corpus_file(struct str *f, const unsigned char *skip)
{
	size_t i;

	for (i = 0; i < KP_NELEM(corpus); i++) {
		if (skip != NULL && skip[i])
			continue;
		str_adds(f, corpus[i].from);
		str_add(f, corpus[i].body, corpus[i].blen);
		str_adds(f, corpus[i].sep);
	}
}

static int
is_hex32(const char *u)
{
	size_t i;

	for (i = 0; u[i] != '\0'; i++)
		if (!((u[i] >= '0' && u[i] <= '9') ||
		    (u[i] >= 'a' && u[i] <= 'f')))
			return 0;
	return i == 32;
}

static void
test_corpus(void)
{
	struct maildrop *md, *md2;
	struct str f = { 0 };
	char mbox[PATH_MAX], uidls[KP_NELEM(corpus)][POP3_UIDL_MAX + 1];
	char *b, *t;
	size_t i, j, len;
	unsigned long long total = 0;
	int st, good;
	unsigned char del[KP_NELEM(corpus)];

	(void)util_strlcpy(mbox, t_path(scratch, "corpus"), sizeof(mbox));
	corpus_file(&f, NULL);
	put_file(mbox, f.p, f.len);
	if (!is_int(open_md(MD_MBOX, mbox, &opts0, &md), KP_OK, "open an mbox"))
		return;
	is_int((long long)md_count(md), (long long)KP_NELEM(corpus),
	    "count");
	for (i = 0; i < md_count(md) && i < KP_NELEM(corpus); i++) {
		b = msg_bytes(md, i, &len, &st);
		if (!is_int(st, KP_OK, "message %zu: md_msg_fd", i))
			continue;
		is_blob(b, len, corpus[i].body, corpus[i].blen,
		    "message %zu: the bytes, without From_ and separator", i);
		is_int((long long)md_msg(md, i)->size,
		    (long long)enc_octets(b, len),
		    "message %zu: size is the encoder's octets", i);
		total += md_msg(md, i)->size;
		(void)util_strlcpy(uidls[i], md_msg(md, i)->uidl,
		    sizeof(uidls[i]));
		free(b);
	}
	is_int((long long)md_total(md), (long long)total, "md_total");
	is_string(uidls[1], "abc123", "X-UIDL honoured");
	is_string(uidls[6], "spaced-uidl", "X-UIDL value trimmed");
	ok(is_hex32(uidls[0]) && is_hex32(uidls[3]),
	    "otherwise a hash (and for an X-UIDL with a blank)");
	ok(is_hex32(uidls[4]) && strncmp(uidls[5], uidls[4], 32) == 0 &&
	    strcmp(uidls[5] + 32, "-2") == 0,
	    "two identical messages: the second gets -2");
	good = 1;
	for (i = 0; i < KP_NELEM(corpus); i++) {
		if (!pop3_uidl_ok(uidls[i], strlen(uidls[i])))
			good = 0;
		for (j = 0; j < i; j++)
			if (strcmp(uidls[i], uidls[j]) == 0)
				good = 0;
	}
	ok(good, "UIDLs valid and unique");
	is_int(md_open(MD_MBOX, mbox, &opts0, &md2, (char[64]){ 0 }, 64),
	    KP_INUSE, "a second open in the same process is KP_INUSE");
	ok(exists(t_path(scratch, ".corpus.kpopd.lock")) &&
	    !exists(t_path(scratch, "corpus.lock")),
	    "the session lock is .NAME.kpopd.lock; no dotlock held");
	md_close(md);

	if (!is_int(open_md(MD_MBOX, mbox, &opts0, &md), KP_OK, "open again"))
		return;
	good = md_count(md) == KP_NELEM(corpus);
	for (i = 0; good && i < md_count(md); i++)
		good = strcmp(md_msg(md, i)->uidl, uidls[i]) == 0;
	ok(good, "UIDLs stable across opens");
	md_close(md);

	/* An MUA changes a Status header: the hash ignores it. */
	t = strstr(f.p, "Status: RO\n");
	memmove(t + 9, t + 10, strlen(t + 10) + 1);
	f.len--;
	rewrite_file(mbox, f.p, f.len);
	if (!is_int(open_md(MD_MBOX, mbox, &opts0, &md), KP_OK,
	    "open after an MUA changed Status: RO to Status: R"))
		return;
	is_string(md_msg(md, 0)->uidl, uidls[0], "the UIDL did not change");
	/* Delete 2 and 3: the rest keep their UIDLs. */
	memset(del, 0, sizeof(del));
	del[2] = del[3] = 1;
	is_int(md_commit(md, del, (char[256]){ 0 }, 256), KP_OK,
	    "commit deleting two");
	md_close(md);
	if (!is_int(open_md(MD_MBOX, mbox, &opts0, &md), KP_OK,
	    "open after commit"))
		return;
	good = md_count(md) == KP_NELEM(corpus) - 2;
	for (i = 0, j = 0; good && i < KP_NELEM(corpus); i++)
		if (!del[i])
			good = strcmp(md_msg(md, j++)->uidl, uidls[i]) == 0;
	ok(good, "the others keep their UIDLs through the rewrite");
	b = msg_bytes(md, md_count(md) - 1, &len, &st);
	is_blob(b, len, corpus[7].body, corpus[7].blen,
	    "the last message, without final newline, intact");
	free(b);
	md_close(md);
	free(f.p);
}

/* ---- what is not an mbox ---- */

static void
test_paths(void)
{
	struct maildrop *md;
	struct md_opts o = opts0;
	char err[256];
	const char *p;

	p = t_path(scratch, "missing");
	o.create = 1;
	if (is_int(md_open(MD_MBOX, p, &o, &md, err, sizeof(err)), KP_OK,
	    "create: a missing mbox opens (%s)", err)) {
		is_int((long long)md_count(md), 0, "empty");
		is_int(md_commit(md, (const unsigned char *)"", err,
		    sizeof(err)), KP_OK, "commit of nothing");
		md_close(md);
	}
	ok(!exists(p), "and is not created");
	/* create_maildrop = no: a missing spool file is no maildrop. */
	p = t_path(scratch, "nobox");
	err[0] = '\0';
	is_int(md_open(MD_MBOX, p, &opts0, &md, err, sizeof(err)), KP_PERM,
	    "no create: a missing mbox is KP_PERM");
	ok(strstr(err, "nobox: no such maildrop") != NULL,
	    "saying so: %s", err);
	ok(!exists(p) && !exists(t_path(scratch, ".nobox.kpopd.lock")),
	    "and neither it nor a session lock is created");
	p = t_path(scratch, "empty");
	put_file(p, "", 0);
	if (is_int(md_open(MD_MBOX, p, &opts0, &md, err, sizeof(err)), KP_OK,
	    "an empty mbox opens")) {
		is_int((long long)md_count(md), 0, "no messages");
		md_close(md);
	}
	p = t_path(scratch, "notmbox");
	put_file(p, S("Subject: hi\n\nFrom x\n"));
	is_int(md_open(MD_MBOX, p, &opts0, &md, err, sizeof(err)), KP_PERM,
	    "a file not starting with From_ is KP_PERM (%s)", err);
	p = t_path(scratch, "adir");
	if (mkdir(p, 0700) == -1)
		bail("mkdir");
	is_int(md_open(MD_MBOX, p, &opts0, &md, err, sizeof(err)), KP_PERM,
	    "a directory is KP_PERM (%s)", err);
	is_int(md_open(MD_MBOX, t_path(t_path(scratch, "nodir"), "x"), &opts0,
	    &md, err, sizeof(err)), KP_PERM,
	    "a missing directory is KP_PERM (%s)", err);
	is_int(md_open(MD_MBOX, "/", &opts0, &md, err, sizeof(err)), KP_PERM,
	    "a path ending in / is KP_PERM");
}

/* ---- generated mboxes ---- */

struct gen {
	struct str	 file;
	size_t		 n;
	size_t		 off[512];	/* block offsets, off[n] = end */
};

static void
gen_mbox(struct gen *g, size_t n, unsigned int seed)
{
	char line[200];
	size_t i, k, lines;

	memset(g, 0, sizeof(*g));
	if (n >= KP_NELEM(g->off))
		bail("too many");
	srandom(seed);
	for (i = 0; i < n; i++) {
		g->off[i] = g->file.len;
		(void)util_snprintf(line, sizeof(line), "From u%zu@example.org "
		    "Thu Nov 27 03:%02zu:%02zu 2025\nSubject: m%zu\n"
		    "Message-ID: <%zu.%u@example.org>\n\n", i, i / 60 % 60,
		    i % 60, i, i, seed);
		str_adds(&g->file, line);
		lines = (size_t)(random() % 120);
		for (k = 0; k < lines; k++) {
			(void)util_snprintf(line, sizeof(line),
			    "%sline %zu of message %zu %.*s\n",
			    k % 17 == 3 ? "." : "", k, i,
			    (int)(random() % 60), "xxxxxxxxxxxxxxxxxxxxxxxxx"
			    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
			str_adds(&g->file, line);
		}
		str_adds(&g->file, "\n");
	}
	g->off[n] = g->file.len;
	g->n = n;
}

/* The file with the marked blocks left out, then extra. */
static void
gen_expect(const struct gen *g, const unsigned char *del, const char *extra,
    size_t extralen, struct str *out)
{
	size_t i;

	out->len = 0;
	str_add(out, "", 0);
	for (i = 0; i < g->n; i++)
		if (del == NULL || !del[i])
			str_add(out, g->file.p + g->off[i],
			    g->off[i + 1] - g->off[i]);
	str_add(out, extra, extralen);
}

static const char late[] = "From late@example.org Thu Nov 27 04:00:00 2025\n"
    "Subject: delivered during the session\n\nlate mail\n\n";
static const char later[] = "From later@example.org Thu Nov 27 05:00:00 "
    "2025\nSubject: delivered after a crash\n\nafter the crash\n\n";

/* ---- locks, delivery, changes by others ---- */

struct lockarg {
	const char	*mbox;
	int		 pfd[2];
};

static int
inuse_child(void *v)
{
	struct lockarg *a = v;
	struct maildrop *md;
	struct md_opts o = opts0;
	char err[256];

	o.takeover_idle = 1;
	return md_open(MD_MBOX, a->mbox, &o, &md, err, sizeof(err)) ==
	    KP_INUSE ? 0 : 1;
}

/* During a session an MDA gets both its locks at once. */
static int
mda_child(void *v)
{
	struct lockarg *a = v;
	struct flock fl;
	char lock[PATH_MAX];
	int fd, lfd;

	(void)util_snprintf(lock, sizeof(lock), "%s.lock", a->mbox);
	if ((lfd = open(lock, O_WRONLY | O_CREAT | O_EXCL, 0644)) == -1)
		return 1;
	if ((fd = open(a->mbox, O_RDWR)) == -1)
		return 2;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) == -1)
		return 3;
	close(fd);
	close(lfd);
	unlink(lock);
	return 0;
}

/* Hold the mbox's fcntl lock until killed. */
static int
fcntl_child(void *v)
{
	struct lockarg *a = v;
	struct flock fl;
	int fd;

	if ((fd = open(a->mbox, O_RDWR)) == -1)
		return 1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) == -1)
		return 2;
	if (write(a->pfd[1], "o", 1) != 1)
		return 3;
	for (;;)
		pause();
}

static void
test_session(void)
{
	struct lockarg a;
	struct maildrop *md;
	struct md_opts o = opts0;
	struct gen g;
	struct str want = { 0 };
	struct timespec ts[2];
	unsigned char del[8] = { 1, 0, 1, 0, 0, 1, 0, 0 };
	char mbox[PATH_MAX], lock[PATH_MAX], err[256], c, *t;
	size_t len;
	long long t0;
	pid_t pid;
	int st;

	(void)util_strlcpy(mbox, t_path(scratch, "session"), sizeof(mbox));
	(void)util_snprintf(lock, sizeof(lock), "%s.lock", mbox);
	gen_mbox(&g, 8, 1);
	put_file(mbox, g.file.p, g.file.len);
	if (!is_int(open_md(MD_MBOX, mbox, &opts0, &md), KP_OK, "open"))
		return;
	memset(&a, 0, sizeof(a));
	a.mbox = mbox;
	is_int(t_wait_exit(spawn(inuse_child, &a)), 0,
	    "another process: KP_INUSE (no takeover of a fresh session)");
	is_int(t_wait_exit(spawn(mda_child, &a)), 0,
	    "an MDA gets the dotlock and the fcntl lock during a session");
	mda_append(mbox, S(late));
	free(msg_bytes(md, 7, &len, &st));
	is_int(st, KP_OK, "md_msg_fd after a delivery");
	is_int(md_commit(md, del, err, sizeof(err)), KP_OK, "commit %s", err);
	md_close(md);
	gen_expect(&g, del, S(late), &want);
	t = t_slurp(mbox, &len);
	is_blob(t, len, want.p, want.len, "the marked ones are gone, the rest "
	    "and the new mail are there, byte for byte");
	free(t);
	ok(!exists(lock) && !exists(t_path(scratch, ".session.kpopd-journal")),
	    "no dotlock or journal left");
	if (is_int(open_md(MD_MBOX, mbox, &opts0, &md), KP_OK, "open again")) {
		is_int((long long)md_count(md), 6, "5 kept + 1 new");
		md_close(md);
	}

	/* Only the last messages go, nothing new: a plain truncation. */
	put_file(mbox, g.file.p, g.file.len);
	if (!is_int(open_md(MD_MBOX, mbox, &opts0, &md), KP_OK, "open"))
		return;
	memset(del, 0, sizeof(del));
	del[6] = del[7] = 1;
	is_int(md_commit(md, del, err, sizeof(err)), KP_OK,
	    "commit deleting the last two %s", err);
	md_close(md);
	t = t_slurp(mbox, &len);
	is_blob(t, len, g.file.p, g.off[6], "the file is cut after message 5");
	free(t);
	memcpy(del, (const unsigned char[8]){ 1, 0, 1, 0, 0, 1, 0, 0 }, 8);

	/* MDA locks held by others: commit waits lock_timeout, then TEMP. */
	put_file(mbox, g.file.p, g.file.len);
	o.lock_timeout = 1;
	if (!is_int(open_md(MD_MBOX, mbox, &o, &md), KP_OK,
	    "open (lock_timeout 1)"))
		return;
	put_file(lock, S("12345\n"));
	t0 = util_now_ms();
	is_int(md_commit(md, del, err, sizeof(err)), KP_TEMP,
	    "a fresh foreign dotlock: KP_TEMP (%s)", err);
	ok(util_now_ms() - t0 >= 900, "after waiting the lock timeout");
	t = t_slurp(mbox, &len);
	is_blob(t, len, g.file.p, g.file.len, "nothing deleted");
	free(t);
	ok(exists(lock), "the foreign dotlock is left alone");
	/* Ten minutes old: stale. */
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 600;
	ts[1] = ts[0];
	if (utimensat(AT_FDCWD, lock, ts, 0) == -1)
		bail("utimensat");
	if (pipe(a.pfd) == -1)
		bail("pipe");
	pid = spawn(fcntl_child, &a);
	if (read(a.pfd[0], &c, 1) != 1)
		bail("fcntl child");
	is_int(md_commit(md, del, err, sizeof(err)), KP_TEMP,
	    "stale dotlock removed, but the fcntl lock is held: KP_TEMP (%s)",
	    err);
	ok(!exists(lock), "the stale dotlock went, ours is released");
	(void)kill(pid, SIGKILL);
	(void)t_wait_exit(pid);
	/*
	 * An empty dotlock a minute old: a locker killed between creating
	 * it and writing its pid.  Nobody holds the fcntl lock: it goes.
	 */
	put_file(lock, "", 0);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 60;
	ts[1] = ts[0];
	if (utimensat(AT_FDCWD, lock, ts, 0) == -1)
		bail("utimensat");
	t0 = util_now_ms();
	is_int(md_commit(md, del, err, sizeof(err)), KP_OK,
	    "an empty dotlock a minute old is broken: commit %s", err);
	ok(util_now_ms() - t0 < 900 && !exists(lock),
	    "... at once, and ours released");
	md_close(md);
	close(a.pfd[0]);
	close(a.pfd[1]);
	free(want.p);
	free(g.file.p);
}

static void
test_changed(void)
{
	struct maildrop *md;
	struct gen g;
	struct str s = { 0 };
	unsigned char del[6] = { 0, 1, 0, 0, 0, 0 };
	char mbox[PATH_MAX], err[256], *t;
	size_t len;
	int st;

	(void)util_strlcpy(mbox, t_path(scratch, "changed"), sizeof(mbox));
	gen_mbox(&g, 6, 2);

	/* A byte inserted into message 0 moves every later From_ line. */
	put_file(mbox, g.file.p, g.file.len);
	if (!is_int(open_md(MD_MBOX, mbox, &opts0, &md), KP_OK, "open"))
		return;
	str_add(&s, g.file.p, g.off[1] - 2);
	str_add(&s, "!", 1);
	str_add(&s, g.file.p + g.off[1] - 2, g.file.len - g.off[1] + 2);
	rewrite_file(mbox, s.p, s.len);
	is_int(md_commit(md, del, err, sizeof(err)), KP_TEMP,
	    "rewritten by another program: KP_TEMP (%s)", err);
	t = t_slurp(mbox, &len);
	is_blob(t, len, s.p, s.len, "and nothing deleted");
	free(t);
	md_close(md);

	/* Truncated. */
	put_file(mbox, g.file.p, g.file.len);
	if (!is_int(open_md(MD_MBOX, mbox, &opts0, &md), KP_OK, "open"))
		return;
	rewrite_file(mbox, g.file.p, g.off[5]);
	free(msg_bytes(md, 5, &len, &st));
	is_int(st, KP_GONE, "md_msg_fd of a message cut off: KP_GONE");
	is_int(md_commit(md, del, err, sizeof(err)), KP_TEMP,
	    "truncated by another program: KP_TEMP (%s)", err);
	md_close(md);

	/* Replaced (renamed over). */
	put_file(mbox, g.file.p, g.file.len);
	if (!is_int(open_md(MD_MBOX, mbox, &opts0, &md), KP_OK, "open"))
		return;
	put_file(mbox, g.file.p, g.file.len);
	free(msg_bytes(md, 0, &len, &st));
	is_int(st, KP_GONE, "md_msg_fd after the mbox was replaced: KP_GONE");
	is_int(md_commit(md, del, err, sizeof(err)), KP_TEMP,
	    "replaced: KP_TEMP (%s)", err);
	t = t_slurp(mbox, &len);
	is_blob(t, len, g.file.p, g.file.len, "and nothing deleted");
	free(t);
	md_close(md);

	/* Removed. */
	if (!is_int(open_md(MD_MBOX, mbox, &opts0, &md), KP_OK, "open"))
		return;
	unlink(mbox);
	is_int(md_commit(md, del, err, sizeof(err)), KP_TEMP,
	    "removed: KP_TEMP (%s)", err);
	md_close(md);
	free(s.p);
	free(g.file.p);
}

/* ---- failures while journalling ---- */

struct fullarg {
	const char	*mbox;
	int		 mode;	/* 0 file size limit, 1 read-only dir */
	unsigned char	 del[8];
};

static int
full_child(void *v)
{
	struct fullarg *a = v;
	struct maildrop *md;
	struct rlimit rl;
	char err[256];
	int rc;

	if (md_open(MD_MBOX, a->mbox, &opts0, &md, err, sizeof(err)) != KP_OK)
		return 10;
	if (a->mode == 0) {
		/* Writes past 4 KiB fail with EFBIG, as on a full disk. */
		signal(SIGXFSZ, SIG_IGN);
		rl.rlim_cur = rl.rlim_max = 4096;
		if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
			return 11;
	} else {
		if (chmod(scratch, 0555) == -1)
			return 12;
		if (become_nobody() == -1)
			return 13;
	}
	rc = md_commit(md, a->del, err, sizeof(err));
	md_close(md);
	return rc == KP_TEMP ? 0 : 20 + (rc < 0 ? -rc : rc);
}

static int
journals_left(const char *name)
{
	char j[PATH_MAX];

	(void)util_snprintf(j, sizeof(j), "%s/.%s.kpopd-journal", scratch,
	    name);
	if (exists(j))
		return 1;
	(void)util_snprintf(j, sizeof(j), "%s/.%s.kpopd-journal.tmp",
	    scratch, name);
	return exists(j);
}

static void
test_full(void)
{
	struct fullarg a;
	struct gen g;
	char mbox[PATH_MAX], *t;
	size_t len;

	(void)util_strlcpy(mbox, t_path(scratch, "full"), sizeof(mbox));
	gen_mbox(&g, 8, 3);
	if (g.file.len < 3 * 4096)
		bail("mbox too small for the test");
	put_file(mbox, g.file.p, g.file.len);
	memset(&a, 0, sizeof(a));
	a.mbox = mbox;
	a.del[0] = a.del[4] = 1;
	is_int(t_wait_exit(spawn(full_child, &a)), 0,
	    "the journal cannot be written (file size limit): KP_TEMP");
	t = t_slurp(mbox, &len);
	is_blob(t, len, g.file.p, g.file.len, "the mbox is untouched");
	free(t);
	ok(!journals_left("full"), "no journal left");

	/*
	 * The directory read-only (the dotlock cannot be made).  The mbox
	 * stays ours: md_open serves only the euid's files, and the
	 * dotlock, tried first, fails whoever owns it.
	 */
	a.mode = 1;
	is_int(t_wait_exit(spawn(full_child, &a)), 0,
	    "a read-only mail directory: KP_TEMP");
	if (chmod(scratch, 0755) == -1)
		bail("chmod");
	t = t_slurp(mbox, &len);
	is_blob(t, len, g.file.p, g.file.len, "the mbox is untouched");
	free(t);
	free(g.file.p);
}

/* ---- what a mail user may plant (issue 11) ---- */

static void
test_hostile(int fallback)
{
	struct maildrop *md;
	struct md_opts o = opts0;
	struct stat v0, v1;
	char err[512], victim[PATH_MAX], box[PATH_MAX], lock[PATH_MAX];
	char real[PATH_MAX], lnk[PATH_MAX], *t;
	const char *how = fallback ? "O_NOFOLLOW" : "openat2";
	static const char text[] = "From x Thu Nov 26 10:00:00 2026\n"
	    "Subject: someone else's\n\nsecret\n";
	size_t len;

	md_path_no_openat2 = fallback;
	(void)util_snprintf(victim, sizeof(victim), "%s/victim%d", scratch,
	    fallback);
	put_file(victim, text, strlen(text));
	if (stat(victim, &v0) == -1)
		bail("stat");

	(void)util_snprintf(box, sizeof(box), "%s/hbox%d", scratch, fallback);
	(void)util_snprintf(lock, sizeof(lock), "%s/.hbox%d.kpopd.lock",
	    scratch, fallback);
	if (symlink(victim, box) == -1)
		bail("symlink");
	is_int(md_open(MD_MBOX, box, &o, &md, err, sizeof(err)), KP_PERM,
	    "%s: a symlinked mbox is refused (%s)", how, err);
	ok(!exists(lock) && !exists(t_path(scratch, "victim0.lock")) &&
	    !exists(t_path(scratch, "victim1.lock")),
	    "%s: no lock file made, here or at the target", how);
	if (unlink(box) == -1 || link(victim, box) == -1)
		bail("link");
	is_int(md_open(MD_MBOX, box, &o, &md, err, sizeof(err)), KP_PERM,
	    "%s: a hard-linked mbox is refused (%s)", how, err);
	if (unlink(box) == -1)
		bail("unlink");

	/* A journal that is a symlink: neither applied nor removed. */
	put_file(box, text, strlen(text));
	(void)util_snprintf(lnk, sizeof(lnk), "%s/.hbox%d.kpopd-journal",
	    scratch, fallback);
	if (symlink(victim, lnk) == -1)
		bail("symlink");
	is_int(md_open(MD_MBOX, box, &o, &md, err, sizeof(err)), KP_PERM,
	    "%s: a symlinked journal is refused (%s)", how, err);
	ok(lstat(lnk, &v1) == 0 && S_ISLNK(v1.st_mode),
	    "%s: and left where it is", how);
	if (unlink(lnk) == -1)
		bail("unlink");

	/* A symlinked directory below the trusted prefix. */
	(void)util_snprintf(real, sizeof(real), "%s/hdir%d", scratch,
	    fallback);
	(void)util_snprintf(lnk, sizeof(lnk), "%s/hup%d", scratch, fallback);
	if (mkdir(real, 0755) == -1 || symlink(real, lnk) == -1)
		bail("mkdir/symlink");
	put_file(t_path(real, "box"), text, strlen(text));
	if (is_int(md_open(MD_MBOX, t_path(lnk, "box"), &o, &md, err,
	    sizeof(err)), KP_OK, "%s: a symlink in the trusted prefix is "
	    "followed", how)) {
		is_int((long long)md_count(md), 1, "%s: one message", how);
		md_close(md);
	}
	o.trusted = strlen(scratch);
	is_int(md_open(MD_MBOX, t_path(lnk, "box"), &o, &md, err, sizeof(err)),
	    KP_PERM, "%s: below it, it is refused (%s)", how, err);

	t = t_slurp(victim, &len);
	ok(stat(victim, &v1) == 0 && v1.st_ino == v0.st_ino && t != NULL &&
	    len == strlen(text) && memcmp(t, text, len) == 0,
	    "%s: the victim file is the same inode, same bytes", how);
	free(t);
	md_path_no_openat2 = 0;
}

/* ---- journals made by hand ---- */

static void
put64(unsigned char *p, unsigned long long v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* The journal a commit writes for [w, w + l) of data, new length n. */
static void
make_journal(const char *path, const char *data, size_t w, size_t l,
    size_t n, const struct stat *st)
{
	unsigned char hdr[128];
	struct md_hash h;
	struct str s = { 0 };

	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, "KPOPJNL1", 8);
	put64(hdr + 8, w);
	put64(hdr + 16, l);
	put64(hdr + 24, n);
	put64(hdr + 32, (unsigned long long)st->st_dev);
	put64(hdr + 40, (unsigned long long)st->st_ino);
	if (md_hash_init(&h) == -1)
		bail("hash");
	md_hash_update(&h, hdr, 48);
	md_hash_update(&h, data + w, l);
	if (md_hash_final(&h, hdr + 48) == -1)
		bail("hash");
	md_hash_free(&h);
	str_add(&s, hdr, sizeof(hdr));
	str_add(&s, data + w, l);
	put_file(path, s.p, s.len);
	free(s.p);
}

static void
test_journal(void)
{
	struct maildrop *md;
	struct gen g;
	struct stat st;
	struct str nw = { 0 }, s = { 0 };
	unsigned char del[6] = { 0, 1, 0, 1, 0, 0 };
	char mbox[PATH_MAX], jpath[PATH_MAX], jtmp[PATH_MAX], *t;
	size_t len, w, l, n;
	int fd;

	(void)util_strlcpy(mbox, t_path(scratch, "jrn"), sizeof(mbox));
	(void)util_snprintf(jpath, sizeof(jpath), "%s/.jrn.kpopd-journal",
	    scratch);
	(void)util_snprintf(jtmp, sizeof(jtmp), "%s.tmp", jpath);
	gen_mbox(&g, 6, 4);
	gen_expect(&g, del, "", 0, &nw);
	w = g.off[1];
	l = g.file.len - w;
	n = nw.len - w;

	/* A temporary journal, and one with a bad checksum: removed. */
	put_file(mbox, g.file.p, g.file.len);
	put_file(jtmp, S("half a journal"));
	if (stat(mbox, &st) == -1)
		bail("stat");
	make_journal(jpath, g.file.p, w, l, n, &st);
	if ((fd = open(jpath, O_WRONLY)) == -1 ||
	    pwrite(fd, "X", 1, 200) != 1)
		bail("corrupt journal");
	close(fd);
	if (is_int(open_md(MD_MBOX, mbox, &opts0, &md), KP_OK,
	    "open with a temporary and a corrupt journal")) {
		is_int((long long)md_count(md), 6, "all messages");
		md_close(md);
	}
	ok(!exists(jtmp) && !exists(jpath), "both removed");
	t = t_slurp(mbox, &len);
	is_blob(t, len, g.file.p, g.file.len, "the mbox untouched");
	free(t);

	/*
	 * Killed in step 2: the new bytes half written over the old, the
	 * journal valid, and an MDA appended after the crash.  md_open
	 * puts the old bytes back and keeps the new mail.
	 */
	put_file(mbox, g.file.p, g.file.len);
	if (stat(mbox, &st) == -1)
		bail("stat");
	make_journal(jpath, g.file.p, w, l, n, &st);
	str_add(&s, g.file.p, g.file.len);
	memcpy(s.p + w, nw.p + w, n / 2);
	rewrite_file(mbox, s.p, s.len);
	mda_append(mbox, S(later));
	if (is_int(open_md(MD_MBOX, mbox, &opts0, &md), KP_OK,
	    "open after a crash in the middle of the rewrite")) {
		is_int((long long)md_count(md), 7, "all messages and the new");
		md_close(md);
	}
	t = t_slurp(mbox, &len);
	s.len = 0;
	str_add(&s, g.file.p, g.file.len);
	str_adds(&s, later);
	is_blob(t, len, s.p, s.len, "rolled back, the later mail kept");
	free(t);
	ok(!exists(jpath), "journal removed");

	/*
	 * The same, but the commit ran on another server of one NFS store
	 * (or before a reboot): the journal names the mbox under that
	 * host's device number for the mount.  It is this file all the
	 * same, and is rolled back: set aside, it would leave the half
	 * rewritten mbox.
	 */
	put_file(mbox, g.file.p, g.file.len);
	if (stat(mbox, &st) == -1)
		bail("stat");
	st.st_dev += 4242;
	make_journal(jpath, g.file.p, w, l, n, &st);
	s.len = 0;
	str_add(&s, g.file.p, g.file.len);
	memcpy(s.p + w, nw.p + w, n / 2);
	rewrite_file(mbox, s.p, s.len);
	if (is_int(open_md(MD_MBOX, mbox, &opts0, &md), KP_OK,
	    "open after another host's crash in the middle of the rewrite")) {
		is_int((long long)md_count(md), 6, "all messages");
		md_close(md);
	}
	t = t_slurp(mbox, &len);
	is_blob(t, len, g.file.p, g.file.len, "rolled back (another host's "
	    "device number)");
	free(t);
	ok(!exists(jpath), "journal removed");

	/* Killed after the truncation, then an MDA: rolled forward. */
	put_file(mbox, g.file.p, g.file.len);
	if (stat(mbox, &st) == -1)
		bail("stat");
	make_journal(jpath, g.file.p, w, l, n, &st);
	rewrite_file(mbox, nw.p, nw.len);
	mda_append(mbox, S(later));
	if (is_int(open_md(MD_MBOX, mbox, &opts0, &md), KP_OK,
	    "open after a crash after the truncation")) {
		is_int((long long)md_count(md), 5, "the new set and the new");
		md_close(md);
	}
	t = t_slurp(mbox, &len);
	s.len = 0;
	str_add(&s, nw.p, nw.len);
	str_adds(&s, later);
	is_blob(t, len, s.p, s.len, "kept as rewritten, the later mail kept");
	free(t);
	ok(!exists(jpath), "journal removed");

	/* Enough later mail to pass W + L after the truncation. */
	put_file(mbox, g.file.p, g.file.len);
	if (stat(mbox, &st) == -1)
		bail("stat");
	make_journal(jpath, g.file.p, w, l, n, &st);
	rewrite_file(mbox, nw.p, nw.len);
	s.len = 0;
	while (s.len < l)
		str_adds(&s, later);
	mda_append(mbox, s.p, s.len);
	if (is_int(open_md(MD_MBOX, mbox, &opts0, &md), KP_OK,
	    "open after the truncation and much later mail"))
		md_close(md);
	t = t_slurp(mbox, &len);
	ok(len == nw.len + s.len && memcmp(t, nw.p, nw.len) == 0 &&
	    memcmp(t + nw.len, s.p, s.len) == 0,
	    "still recognised as complete, all later mail kept");
	free(t);

	/* A journal for another file: set aside, not applied. */
	put_file(mbox, g.file.p, g.file.len);
	if (stat(mbox, &st) == -1)
		bail("stat");
	st.st_ino++;
	make_journal(jpath, nw.p, w, n, n / 2, &st);
	if (is_int(open_md(MD_MBOX, mbox, &opts0, &md), KP_OK,
	    "open with a journal of another file")) {
		is_int((long long)md_count(md), 6, "nothing applied");
		md_close(md);
	}
	t = t_slurp(mbox, &len);
	is_blob(t, len, g.file.p, g.file.len, "the mbox untouched");
	free(t);
	ok(!exists(jpath), "the journal is set aside");
	free(s.p);
	free(nw.p);
	free(g.file.p);
}

/* ---- commits killed ---- */

#define KILL_MSGS	120

struct killarg {
	const char	*mbox;
	int		 ready[2], go[2];
	unsigned char	 del[KILL_MSGS];
	int		 hook_k;	/* kill at this step call (hooks) */
	int		 hook_err;	/* fail step 5 with ENOSPC (hooks) */
};

#ifdef KPOP_TEST_HOOKS
static int hook_calls, hook_k, hook_err;

static int
hook(int step)
{
	hook_calls++;
	if (hook_k != 0 && hook_calls == hook_k)
		(void)kill(getpid(), SIGKILL);
	if (hook_err && step == 5)
		return ENOSPC;
	return 0;
}
#endif

static int
kill_child(void *v)
{
	struct killarg *a = v;
	struct maildrop *md;
	char err[256], c;
	int rc;

	if (md_open(MD_MBOX, a->mbox, &opts0, &md, err, sizeof(err)) !=
	    KP_OK) {
		/* Say so, or the parent would wait for ever. */
		if (write(a->ready[1], "f", 1) != 1)
			return 99;
		return 100;
	}
	if (write(a->ready[1], "o", 1) != 1 || read(a->go[0], &c, 1) != 1)
		return 101;
#ifdef KPOP_TEST_HOOKS
	hook_calls = 0;
	hook_k = a->hook_k;
	hook_err = a->hook_err;
	mbox_test_step = hook;
#endif
	rc = md_commit(md, a->del, err, sizeof(err));
	md_close(md);
#ifdef KPOP_TEST_HOOKS
	if (a->hook_err)
		return rc == KP_TEMP ? 0 : 102;
	if (rc == KP_OK)
		return hook_calls > 99 ? 99 : hook_calls;
#endif
	return rc == KP_OK ? 0 : 102;
}

#ifdef KPOP_TEST_HOOKS
/* Open in a child that is killed at its first recovery step. */
static int
recover_child(void *v)
{
	struct killarg *a = v;
	struct maildrop *md;
	char err[256];

	hook_calls = 0;
	hook_k = 1;
	hook_err = 0;
	mbox_test_step = hook;
	if (md_open(MD_MBOX, a->mbox, &opts0, &md, err, sizeof(err)) != KP_OK)
		return 100;
	md_close(md);
	return 0;
}
#endif

enum { OUT_BAD, OUT_OLD, OUT_NEW };

/*
 * After a killed commit: md_open (recovering) must leave exactly the old
 * or the new message set, with late and extra after it.
 */
static int
kill_check(const struct gen *g, const struct killarg *a, const char *extra)
{
	struct maildrop *md;
	struct str old = { 0 }, nw = { 0 }, e = { 0 };
	char err[256], *t;
	size_t len;
	int out = OUT_BAD;

	str_adds(&e, late);
	str_adds(&e, extra);
	gen_expect(g, NULL, e.p, e.len, &old);
	gen_expect(g, a->del, e.p, e.len, &nw);
	if (md_open(MD_MBOX, a->mbox, &opts0, &md, err, sizeof(err)) !=
	    KP_OK) {
		diag("open after kill: %s", err);
		goto out;
	}
	md_close(md);
	t = t_slurp(a->mbox, &len);
	if (len == old.len && memcmp(t, old.p, len) == 0)
		out = OUT_OLD;
	else if (len == nw.len && memcmp(t, nw.p, len) == 0)
		out = OUT_NEW;
	free(t);
	if (journals_left("kill"))
		out = OUT_BAD;
out:
	free(old.p);
	free(nw.p);
	free(e.p);
	return out;
}

/*
 * One killed commit: a fresh mbox, a child opens it, an MDA delivers,
 * the child commits and is killed after delay_us (or by its hook).
 * Returns the child's exit value.
 */
static int
kill_once(const struct gen *g, struct killarg *a, long delay_us)
{
	struct timespec ts;
	struct pollfd pfd;
	pid_t pid;
	char c;
	int rc;

	put_file(a->mbox, g->file.p, g->file.len);
	pid = spawn(kill_child, a);
	if (read(a->ready[0], &c, 1) != 1 || c != 'o') {
		diag("kill child could not open");
		return t_wait_exit(pid);
	}
	mda_append(a->mbox, S(late));
	if (write(a->go[1], "g", 1) != 1)
		bail("write");
	if (delay_us >= 0) {
		ts.tv_sec = delay_us / 1000000;
		ts.tv_nsec = (delay_us % 1000000) * 1000;
		nanosleep(&ts, NULL);
		(void)kill(pid, SIGKILL);
	}
	rc = t_wait_exit(pid);
	/*
	 * A child killed before it read the go byte leaves it in the pipe,
	 * and the next child would start its commit at once, before the
	 * MDA delivers: take it back.
	 */
	pfd.fd = a->go[0];
	pfd.events = POLLIN;
	while (poll(&pfd, 1, 0) == 1 && read(a->go[0], &c, 1) == 1)
		;
	return rc;
}

static void
test_kill(void)
{
	struct killarg a;
	struct gen g;
	char mbox[PATH_MAX];
	long long t0, span = 0;
	int iter, i, rc, out, bad = 0, n_old = 0, n_new = 0, n_jrn = 0;
	int iters;
	const char *env = getenv("KPOP_TEST_KILLS");
	unsigned long long v;

	iters = 200;
	if (env != NULL && util_parse_uint(env, strlen(env), 100000, &v) == 0)
		iters = (int)v;
	(void)util_strlcpy(mbox, t_path(scratch, "kill"), sizeof(mbox));
	memset(&a, 0, sizeof(a));
	a.mbox = mbox;
	if (pipe(a.ready) == -1 || pipe(a.go) == -1)
		bail("pipe");
	gen_mbox(&g, KILL_MSGS, 5);
	diag("kill loop: %d messages, %zu bytes", KILL_MSGS, g.file.len);

	/* Measure a whole commit (several times, keep the longest). */
	for (i = 0; i < 5; i++) {
		srandom(100 + (unsigned int)i);
		for (iter = 0; iter < KILL_MSGS; iter++)
			a.del[iter] = random() % 3 == 0;
		t0 = now_us();
		rc = kill_once(&g, &a, -1);
		if (now_us() - t0 > span)
			span = now_us() - t0;
		if (rc > 99 || kill_check(&g, &a, "") != OUT_NEW)
			bad++;
	}
	is_int(bad, 0, "uninterrupted commits give the new set");
	diag("a commit takes up to %lld us", span);

	srandom(4242);
	bad = 0;
	for (iter = 0; iter < iters; iter++) {
		for (i = 0; i < KILL_MSGS; i++)
			a.del[i] = random() % 3 == 0;
		if (iter % 10 == 0)
			memset(a.del, 1, sizeof(a.del));	/* all */
		if (iter % 10 == 5)
			memset(a.del, 0, KILL_MSGS - 1);	/* the last */
		(void)kill_once(&g, &a, random() % (span + 1));
		if (journals_left("kill"))
			n_jrn++;
		out = kill_check(&g, &a, "");
		if (out == OUT_BAD)
			bad++;
		else if (out == OUT_OLD)
			n_old++;
		else
			n_new++;
	}
	diag("%d killed commits: %d rolled back or not started, %d "
	    "complete, %d wrong; %d killed with a journal", iters, n_old,
	    n_new, bad, n_jrn);
	ok(n_jrn > 0, "some kills landed inside the rewrite (journal "
	    "present)");
	is_int(bad, 0, "%d commits SIGKILLed at random instants: each left "
	    "exactly the old or the new set, plus the mail delivered", iters);
	ok(n_old > 0 && n_new > 0, "kills landed before and after the end");

#ifdef KPOP_TEST_HOOKS
	{
		int calls, k, rolled = 0, fwd = 0;

		srandom(77);
		for (i = 0; i < KILL_MSGS; i++)
			a.del[i] = random() % 2;
		a.hook_k = 0;
		calls = kill_once(&g, &a, -1);
		ok(calls >= 8 && calls < 99, "a commit passes %d steps",
		    calls);
		bad = 0;
		for (k = 1; k <= calls; k++) {
			pid_t pid;

			a.hook_k = k;
			if (kill_once(&g, &a, -1) != 1000 + SIGKILL)
				bad++;
			/* An MDA breaks the dead dotlock and delivers. */
			(void)unlink(t_path(scratch, "kill.lock"));
			{
				int fd = open(mbox, O_WRONLY | O_APPEND);

				if (fd == -1 || util_write_all(fd, S(later), -1) ==
				    -1)
					bail("append later");
				close(fd);
			}
			/* And the first recovery is killed too. */
			pid = spawn(recover_child, &a);
			(void)t_wait_exit(pid);
			out = kill_check(&g, &a, later);
			if (out == OUT_BAD) {
				diag("step call %d: wrong result", k);
				bad++;
			} else if (out == OUT_OLD)
				rolled++;
			else
				fwd++;
		}
		a.hook_k = 0;
		is_int(bad, 0, "killed at each of %d step calls, then again "
		    "in recovery, with mail delivered after the crash: old "
		    "or new set, all mail kept (%d back, %d forward)", calls,
		    rolled, fwd);
		ok(rolled > 0 && fwd > 0, "both directions exercised");

		a.hook_err = 1;
		is_int(kill_once(&g, &a, -1), 0,
		    "a write failing in the middle of the rewrite: KP_TEMP");
		is_int(kill_check(&g, &a, ""), OUT_OLD,
		    "put back at once: the old set, the new mail kept");
		a.hook_err = 0;
	}
#else
	for (i = 0; i < 5; i++)
		skip("built without KPOP_TEST_HOOKS: no kill at each step");
#endif
	close(a.ready[0]);
	close(a.ready[1]);
	close(a.go[0]);
	close(a.go[1]);
	free(g.file.p);
}

int
main(void)
{
	md_test_start("mbox-t");
	test_corpus();
	test_paths();
	test_session();
	test_changed();
	test_full();
	test_hostile(0);
	test_hostile(1);
	test_journal();
	test_kill();
	md_test_end();
	return 0;
}
