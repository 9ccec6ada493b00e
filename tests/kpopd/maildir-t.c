/* SPDX-License-Identifier: MIT */
/*
 * tests/kpopd/maildir-t.c: tests for the Maildir backend of
 * kpopd/maildrop.h (kpopd/maildir.c and mdir-*.c, with the shared
 * kpopd/maildrop.c and md-*.c): snapshot, order, sizes against the
 * encoder, byte ranges, UIDLs, the session lock across processes and its
 * takeover, delivery during a session, deletion, messages moved by other
 * programs, the size cache (a warm open opens no message file; corrupt
 * and disagreeing caches are rebuilt), a commit killed at random
 * instants, and the time to open 100,000 messages (KPOP_TEST_BIG sets
 * the count, 0 skips it).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kpopd/maildrop.h"
#include "kpopd/md-int.h"
#include "tap/basic.h"
#include "md-test.h"

/* ---- helpers ---- */

/* ---- the main corpus ---- */

struct tmsg {
	const char	*dir;
	const char	*name;
	const char	*data;
	size_t		 len;
	const char	*uidl;		/* expected */
	unsigned long long size;	/* expected, 0: from the encoder */
};

/* Listed in the expected order; created in another. */
static struct tmsg corpus[] = {
	{ "cur", "1764000000.M4P100.host:2,", S(""),
	    "1764000000.M4P100.host", 0 },
	{ "cur", "1764000001.M2P100.host,S=30:2,S",
	    S("Subject: crlf\r\n\r\nbody\r\n.\r\n.x\r\n"),
	    "1764000001.M2P100.host,S=30", 0 },
	{ "new", "1764000002.M0P100.host", S("a\r\nb\nc\r"),
	    "1764000002.M0P100.host", 0 },
	{ "new", "1764000002.M3P100.host",
	    S("Subject: no newline\n\n.last line"),
	    "1764000002.M3P100.host", 0 },
	{ "new", "1764000003.M1P100.host,S=44",
	    S("Subject: lf\n\nline1\n.dot line\n..two dots\nend\n"),
	    "1764000003.M1P100.host,S=44", 0 },
	{ "cur", "1764000005.M5P100.host,S=28,W=99999:2,RS",
	    S("From inside\n>From quoted\n\nx\n"),
	    "1764000005.M5P100.host,S=28,W=99999", 99999 },
};
static const size_t corpus_order[] = { 4, 2, 5, 1, 0, 3 };

static void
make_corpus(const char *md)
{
	size_t i, k;
	int fd;

	mkmaildir(md);
	for (i = 0; i < KP_NELEM(corpus); i++) {
		k = corpus_order[i];
		put_file(t_path(t_path(md, corpus[k].dir), corpus[k].name),
		    corpus[k].data, corpus[k].len);
	}
	/* Things that are not messages. */
	put_file(t_path(t_path(md, "new"), ".hidden"), S("x\n"));
	put_file(t_path(t_path(md, "tmp"), "1764000004.M9P100.host"),
	    S("in tmp\n"));
	if (mkdir(t_path(t_path(md, "cur"), "1764000004.subdir"), 0700) == -1 ||
	    symlink("1764000002.M0P100.host",
	    t_path(t_path(md, "new"), "1764000004.link")) == -1)
		bail("mkdir/symlink: %s", strerror(errno));
	if ((fd = mkfifo(t_path(t_path(md, "new"), "1764000004.fifo"),
	    0600)) == -1)
		bail("mkfifo: %s", strerror(errno));
}

static void
test_corpus(void)
{
	struct maildrop *md, *md2;
	char dir[PATH_MAX], *b;
	size_t i, j, len;
	unsigned long long total = 0;
	int st, good;

	(void)util_strlcpy(dir, t_path(scratch, "corpus"), sizeof(dir));
	make_corpus(dir);
	if (!is_int(open_md(MD_MAILDIR, dir, &opts0, &md), KP_OK,
	    "open a Maildir"))
		return;
	is_int((long long)md_count(md), (long long)KP_NELEM(corpus),
	    "count: only the regular, non-dot files in new/ and cur/");
	for (i = 0; i < md_count(md) && i < KP_NELEM(corpus); i++) {
		const struct md_msg *m = md_msg(md, i);
		struct tmsg *t = &corpus[i];

		is_string(m->uidl, t->uidl, "message %zu: order and UIDL", i);
		b = msg_bytes(md, i, &len, &st);
		if (!is_int(st, KP_OK, "message %zu: md_msg_fd", i))
			continue;
		is_blob(b, len, t->data, t->len, "message %zu: the bytes", i);
		if (t->size != 0)
			is_int((long long)m->size, (long long)t->size,
			    "message %zu: size from ,W=", i);
		else
			is_int((long long)m->size,
			    (long long)enc_octets(b, len),
			    "message %zu: size is the encoder's octets", i);
		total += m->size;
		free(b);
	}
	is_int((long long)md_total(md), (long long)total, "md_total");
	ok(md_msg(md, md_count(md)) == NULL, "md_msg past the end is NULL");
	is_int(md_open(MD_MAILDIR, dir, &opts0, &md2, (char[64]){ 0 }, 64),
	    KP_INUSE, "a second open in the same process is KP_INUSE");
	md_close(md);

	/* Same again: stable. */
	if (!is_int(open_md(MD_MAILDIR, dir, &opts0, &md2), KP_OK,
	    "open again"))
		return;
	good = md_count(md2) == KP_NELEM(corpus);
	for (i = 0; good && i < md_count(md2); i++)
		good = strcmp(md_msg(md2, i)->uidl, corpus[i].uidl) == 0;
	ok(good, "UIDLs and order stable across opens");
	good = 1;
	for (i = 0; i < md_count(md2); i++) {
		const char *u = md_msg(md2, i)->uidl;

		if (!pop3_uidl_ok(u, strlen(u)))
			good = 0;
		for (j = 0; j < i; j++)
			if (strcmp(u, md_msg(md2, j)->uidl) == 0)
				good = 0;
	}
	ok(good, "UIDLs valid and unique");
	md_close(md2);
}

/* ---- odd names ---- */

static void
test_odd_names(void)
{
	struct maildrop *md;
	char dir[PATH_MAX], longname[200], u1[80], u2[80], u3[80];
	size_t i;
	int good;

	(void)util_strlcpy(dir, t_path(scratch, "odd"), sizeof(dir));
	mkmaildir(dir);
	/* One message twice, in new/ and cur/ (another program's copy). */
	put_file(t_path(t_path(dir, "new"), "1764000006.dup.host"), S("a\n"));
	put_file(t_path(t_path(dir, "cur"), "1764000006.dup.host:2,S"),
	    S("a\n"));
	put_file(t_path(t_path(dir, "new"), "1764000006.dup.host-2"), S("b\n"));
	put_file(t_path(t_path(dir, "new"), "1764000007.sp ace\x01.host"),
	    S("c\n"));
	memset(longname, 'x', sizeof(longname));
	memcpy(longname, "1764000008.", 11);
	longname[150] = '\0';
	put_file(t_path(t_path(dir, "new"), longname), S("d\n"));
	put_file(t_path(t_path(dir, "cur"), "nodigits.host:2,"), S("e\n"));

	if (!is_int(open_md(MD_MAILDIR, dir, &opts0, &md), KP_OK,
	    "open odd names"))
		return;
	is_int((long long)md_count(md), 6, "six messages");
	good = 1;
	for (i = 0; i < md_count(md); i++) {
		const char *u = md_msg(md, i)->uidl;
		size_t j;

		if (!pop3_uidl_ok(u, strlen(u)))
			good = 0;
		for (j = 0; j < i; j++)
			if (strcmp(u, md_msg(md, j)->uidl) == 0)
				good = 0;
	}
	ok(good, "UIDLs valid and unique despite a duplicate, a blank and "
	    "a 150-character name");
	is_string(md_msg(md, 0)->uidl, "nodigits.host",
	    "a name without seconds sorts first");
	/* The duplicate: the first keeps the name, the next gets -2, and
	 * the genuine "-2" name then -2-2, deterministically. */
	(void)util_strlcpy(u1, md_msg(md, 1)->uidl, sizeof(u1));
	(void)util_strlcpy(u2, md_msg(md, 2)->uidl, sizeof(u2));
	(void)util_strlcpy(u3, md_msg(md, 3)->uidl, sizeof(u3));
	is_string(u1, "1764000006.dup.host", "duplicate: first");
	is_string(u2, "1764000006.dup.host-2", "duplicate: second gets -2");
	is_string(u3, "1764000006.dup.host-2-2",
	    "a real -2 name after it is made unique too");
	ok(strncmp(md_msg(md, 4)->uidl, "1764000007.sp_ace_.host+", 24) == 0 &&
	    strlen(md_msg(md, 4)->uidl) == 24 + 32,
	    "a name with a blank: readable prefix and a hash (%s)",
	    md_msg(md, 4)->uidl);
	ok(strlen(md_msg(md, 5)->uidl) == POP3_UIDL_MAX &&
	    md_msg(md, 5)->uidl[POP3_UIDL_MAX - 33] == '+',
	    "a long name: cut to 70 with a hash (%s)", md_msg(md, 5)->uidl);
	md_close(md);
	if (!is_int(open_md(MD_MAILDIR, dir, &opts0, &md), KP_OK,
	    "open odd names again"))
		return;
	ok(strcmp(md_msg(md, 1)->uidl, u1) == 0 &&
	    strcmp(md_msg(md, 2)->uidl, u2) == 0 &&
	    strcmp(md_msg(md, 3)->uidl, u3) == 0, "the same next time");
	md_close(md);
}

/* ---- not a Maildir, create ---- */

static void
test_paths(void)
{
	struct maildrop *md;
	struct md_opts o = opts0;
	char err[256];
	const char *p = t_path(scratch, "notyet");

	is_int(md_open(MD_MAILDIR, p, &o, &md, err, sizeof(err)), KP_PERM,
	    "a missing Maildir is KP_PERM (%s)", err);
	ok(strstr(err, "notyet: no such maildrop") != NULL &&
	    access(p, F_OK) == -1, "saying so, and creating nothing");
	if (mkdir(p, 0700) == -1)
		bail("mkdir");
	is_int(md_open(MD_MAILDIR, p, &o, &md, err, sizeof(err)), KP_PERM,
	    "a directory without new/cur/tmp is KP_PERM (%s)", err);
	o.create = 1;
	if (is_int(md_open(MD_MAILDIR, t_path(scratch, "fresh"), &o, &md, err,
	    sizeof(err)), KP_OK, "create makes a Maildir")) {
		is_int((long long)md_count(md), 0, "empty");
		is_int((long long)md_total(md), 0, "total 0");
		md_close(md);
	}
	ok(access(t_path(t_path(scratch, "fresh"), "tmp"), F_OK) == 0 &&
	    access(t_path(t_path(scratch, "fresh"), "kpopd.lock"), F_OK) == 0,
	    "with tmp/ and the session lock file");
}

/* ---- what a mail user may plant (issue 11) ---- */

static int notes;

static void
count_note(const char *msg)
{
	notes++;
	diag("note: %s", msg);
}

/* Open dir; KP_OK closes it again at once. */
static int
try_open(const char *dir, const struct md_opts *o, char *err, size_t errlen)
{
	struct maildrop *md;
	int rc;

	if ((rc = md_open(MD_MAILDIR, dir, o, &md, err, errlen)) == KP_OK)
		md_close(md);
	return rc;
}

/* A Maildir holding one message of ours; returns its path. */
static char *
hostile_dir(int fallback, const char *what)
{
	static char dir[PATH_MAX];

	(void)util_snprintf(dir, sizeof(dir), "%s/h%d-%s", scratch, fallback,
	    what);
	mkmaildir(dir);
	put_file(t_path(t_path(dir, "new"), "1764000000.ours.host"),
	    S("Subject: ours\n\nmine\n"));
	return dir;
}

/* Whether nothing was created in dir (no lock file, no cache). */
static int
untouched(const char *dir)
{
	return access(t_path(dir, "kpopd.lock"), F_OK) == -1 &&
	    access(t_path(dir, "kpopd.cache"), F_OK) == -1;
}

static void
test_hostile(int fallback)
{
	static const char *const subs[] = { "new", "cur", "tmp" };
	struct maildrop *md;
	struct md_opts o = opts0;
	struct stat v0, v1;
	char err[512], victim[PATH_MAX], other[PATH_MAX], lnk[PATH_MAX];
	char real[PATH_MAX], *dir, *t;
	const char *how = fallback ? "O_NOFOLLOW" : "openat2";
	unsigned char del[2] = { 1, 1 };	/* two listed */
	size_t i, len;

	md_path_no_openat2 = fallback;
	o.create = 1;
	o.note = count_note;
	(void)util_snprintf(victim, sizeof(victim), "%s/victim%d", scratch,
	    fallback);
	put_file(victim, S("From x\n\nsomeone else's secret\n"));
	if (stat(victim, &v0) == -1)
		bail("stat %s", victim);
	(void)util_snprintf(other, sizeof(other), "%s/other%d", scratch,
	    fallback);
	if (mkdir(other, 0700) == -1)
		bail("mkdir %s", other);

	/* The Maildir itself a symlink: refused, nothing made through it. */
	(void)util_snprintf(lnk, sizeof(lnk), "%s/h%d-link", scratch,
	    fallback);
	if (symlink(other, lnk) == -1)
		bail("symlink");
	is_int(try_open(lnk, &o, err, sizeof(err)), KP_PERM,
	    "%s: a symlinked Maildir is refused (%s)", how, err);
	ok(access(t_path(other, "new"), F_OK) == -1,
	    "%s: and nothing is created through it", how);

	for (i = 0; i < KP_NELEM(subs); i++) {
		dir = hostile_dir(fallback, subs[i]);
		t_rm_tree(t_path(dir, subs[i]));
		if (symlink(other, t_path(dir, subs[i])) == -1)
			bail("symlink %s", subs[i]);
		is_int(try_open(dir, &o, err, sizeof(err)), KP_PERM,
		    "%s: a symlinked %s/ is refused (%s)", how, subs[i], err);
		ok(untouched(dir), "%s: and nothing is created", how);
	}
	dir = hostile_dir(fallback, "cache");
	if (symlink(victim, t_path(dir, "kpopd.cache")) == -1)
		bail("symlink");
	is_int(try_open(dir, &o, err, sizeof(err)), KP_PERM,
	    "%s: a symlinked kpopd.cache is refused (%s)", how, err);
	ok(access(t_path(dir, "kpopd.lock"), F_OK) == -1,
	    "%s: and no lock file is made", how);
	dir = hostile_dir(fallback, "lock");
	if (symlink(victim, t_path(dir, "kpopd.lock")) == -1)
		bail("symlink");
	is_int(try_open(dir, &o, err, sizeof(err)), KP_PERM,
	    "%s: a symlinked kpopd.lock is refused (%s)", how, err);
	dir = hostile_dir(fallback, "ctmp");
	if (symlink(victim, t_path(dir, "kpopd.cache.tmp")) == -1)
		bail("symlink");
	is_int(try_open(dir, &o, err, sizeof(err)), KP_OK,
	    "%s: a symlink as kpopd.cache.tmp is replaced, not followed",
	    how);

	/* A symlink above the Maildir: the administrator's, or not. */
	(void)util_snprintf(real, sizeof(real), "%s/h%d-real", scratch,
	    fallback);
	if (mkdir(real, 0755) == -1)
		bail("mkdir");
	(void)util_snprintf(lnk, sizeof(lnk), "%s/h%d-up", scratch, fallback);
	if (symlink(real, lnk) == -1)
		bail("symlink");
	is_int(try_open(t_path(lnk, "md"), &o, err, sizeof(err)), KP_OK,
	    "%s: a symlink in the trusted prefix is followed", how);
	o.trusted = strlen(scratch);
	is_int(try_open(t_path(lnk, "md"), &o, err, sizeof(err)), KP_PERM,
	    "%s: below it, it is refused (%s)", how, err);
	o.trusted = 0;

	/* Writable by others. */
	dir = hostile_dir(fallback, "mode");
	if (chmod(t_path(dir, "cur"), 0777) == -1)
		bail("chmod");
	is_int(try_open(dir, &o, err, sizeof(err)), KP_PERM,
	    "%s: a world-writable cur/ is refused (%s)", how, err);
	if (chmod(t_path(dir, "cur"), 0770) == -1)
		bail("chmod");
	is_int(try_open(dir, &o, err, sizeof(err)), KP_PERM,
	    "%s: a group-writable cur/ is refused (%s)", how, err);
	o.group_ok = 1;
	o.own_gid = getegid();
	is_int(try_open(dir, &o, err, sizeof(err)), KP_OK,
	    "%s: unless the group is the user's own", how);
	o.group_ok = 0;

	/*
	 * In cur/: a FIFO and a symlink, left out and never opened; a hard
	 * link of our own file, served (Dovecot copies so); as root, a hard
	 * link of another account's file, left out.
	 */
	dir = hostile_dir(fallback, "entries");
	if (mkfifo(t_path(t_path(dir, "cur"), "1764000001.fifo:2,"), 0600) ==
	    -1 || symlink(victim, t_path(t_path(dir, "cur"),
	    "1764000002.sym:2,")) == -1 || link(victim, t_path(t_path(dir,
	    "cur"), "1764000003.ownlink:2,")) == -1)
		bail("mkfifo/symlink/link: %s", strerror(errno));
	(void)util_snprintf(other, sizeof(other), "%s/foreign%d", scratch,
	    fallback);
	put_file(other, S("Subject: not yours\n\nsecret\n"));
	if (geteuid() == 0 && (chown(other, NOBODY, NOBODY) == -1 ||
	    link(other, t_path(t_path(dir, "cur"), "1764000004.hard:2,")) == -1))
		bail("chown/link: %s", strerror(errno));
	notes = 0;
	if (is_int(md_open(MD_MAILDIR, dir, &o, &md, err, sizeof(err)), KP_OK,
	    "%s: odd entries in cur/ (%s)", how, err)) {
		is_int((long long)md_count(md), 2, "%s: ours and our own hard "
		    "link are listed", how);
		is_int(notes, geteuid() == 0 ? 3 : 2, "%s: the others are "
		    "left out with a note each", how);
		is_int(md_commit(md, del, err, sizeof(err)), KP_OK,
		    "%s: deleting everything listed", how);
		md_close(md);
	}
	ok(geteuid() != 0 || access(t_path(t_path(dir, "cur"),
	    "1764000004.hard:2,"), F_OK) == 0,
	    "%s: leaves the other account's file alone", how);
	/* Next time too: nothing of those is ever listed. */
	if (is_int(md_open(MD_MAILDIR, dir, &o, &md, err, sizeof(err)), KP_OK,
	    "%s: open again", how)) {
		is_int((long long)md_count(md), 0, "%s: nothing listed", how);
		md_close(md);
	}
	if (geteuid() == 0) {
		/* Another account's directory. */
		dir = hostile_dir(fallback, "owner");
		if (chown(t_path(dir, "new"), NOBODY, NOBODY) == -1)
			bail("chown");
		is_int(try_open(dir, &o, err, sizeof(err)), KP_PERM,
		    "%s: a new/ of another account is refused (%s)", how, err);
		ok(untouched(dir), "%s: and nothing is created", how);
	} else
		skip("not root: no file of another account");

	t = t_slurp(victim, &len);
	ok(stat(victim, &v1) == 0 && v1.st_ino == v0.st_ino && t != NULL &&
	    len == strlen("From x\n\nsomeone else's secret\n"),
	    "%s: the victim file is the same inode, same bytes", how);
	free(t);
	md_path_no_openat2 = 0;
}

/* ---- locks ---- */

struct lockarg {
	const char	*dir;
	int		 pfd;		/* write "o" here once open */
	int		 mode;		/* 0 try, 1 hold idle, 2 hold busy */
	unsigned int	 takeover;
};

static int
lock_child(void *v)
{
	struct lockarg *a = v;
	struct maildrop *md;
	struct md_opts o = opts0;
	char err[256];
	int rc, i;

	o.takeover_idle = a->takeover;
	rc = md_open(MD_MAILDIR, a->dir, &o, &md, err, sizeof(err));
	if (a->mode == 0)
		return rc == KP_INUSE ? 0 : 10 + (rc < 0 ? -rc : rc);
	if (rc != KP_OK)
		return 20;
	if (write(a->pfd, "o", 1) != 1)
		return 21;
	for (i = 0; i < 120; i++) {
		if (a->mode == 2)
			md_touch(md);
		util_sleep_ms(50);
	}
	md_close(md);
	return 0;
}

/*
 * A holder of the session lock that its file places elsewhere (text),
 * idle for 10 s: it holds the fcntl lock itself and waits at most 5 s.
 */
struct foreignarg {
	const char	*dir;
	int		 pfd;
	const char	*host;		/* the host its file names */
	int		 pid_off;	/* added to its pid in the file */
};

static int
foreign_child(void *v)
{
	struct foreignarg *a = v;
	struct timespec old[2];
	char text[512];
	int fd, n, i;

	if ((fd = open(t_path(a->dir, "kpopd.lock"), O_RDWR | O_CREAT,
	    0600)) == -1 || util_trylock(fd) != 0)
		return 30;
	n = snprintf(text, sizeof(text), "%ld %s\n",
	    (long)getpid() + a->pid_off, a->host);
	if (ftruncate(fd, 0) == -1 || write(fd, text, (size_t)n) != n)
		return 31;
	if (clock_gettime(CLOCK_REALTIME, &old[0]) == -1)
		return 32;
	old[0].tv_sec -= 10;
	old[1] = old[0];
	if (futimens(fd, old) == -1)
		return 32;
	if (write(a->pfd, "o", 1) != 1)
		return 33;
	for (i = 0; i < 100; i++)
		util_sleep_ms(50);
	return 0;
}

/*
 * Several servers on one store: a session's lock file says its pid and
 * host; an idle holder is taken over only when that file places it on
 * this host under the pid the fcntl lock reports.  A holder of another
 * host (whose pid, where a cluster file system reports it, is no process
 * here) or one the file does not match is in use, and left alone.
 */
static void
test_lock_hosts(void)
{
	struct foreignarg f;
	struct maildrop *md;
	struct md_opts o = opts0;
	char dir[PATH_MAX], host[256], want[300], err[256], c, *t;
	size_t len;
	int p[2], i;
	pid_t pid;
	static const struct {
		int		 other;		/* another host's name */
		int		 pid_off;
		const char	*what;
	} cases[] = {
		{ 1, 0, "another host's idle holder" },
		{ 0, 1, "a holder of this host under another pid" },
	};

	(void)util_strlcpy(dir, t_path(scratch, "lockhosts"), sizeof(dir));
	mkmaildir(dir);
	put_file(t_path(t_path(dir, "new"), "1764000000.a.host"), S("x\n"));
	if (gethostname(host, sizeof(host)) == -1)
		bail("gethostname: %s", strerror(errno));
	host[sizeof(host) - 1] = '\0';
	if (!is_int(open_md(MD_MAILDIR, dir, &opts0, &md), KP_OK,
	    "a session opens"))
		return;
	(void)util_snprintf(want, sizeof(want), "%ld %s\n", (long)getpid(),
	    host);
	t = t_slurp(t_path(dir, "kpopd.lock"), &len);
	is_string(t, want, "its lock file says \"<pid> <host>\"");
	free(t);
	md_close(md);

	if (pipe(p) == -1)
		bail("pipe");
	o.takeover_idle = 1;
	for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
		memset(&f, 0, sizeof(f));
		f.dir = dir;
		f.pfd = p[1];
		f.host = cases[i].other ? "elsewhere.example" : host;
		f.pid_off = cases[i].pid_off;
		pid = spawn(foreign_child, &f);
		if (read(p[0], &c, 1) != 1)
			bail("holder did not lock");
		is_int(md_open(MD_MAILDIR, dir, &o, &md, err, sizeof(err)),
		    KP_INUSE, "%s, idle 10 s, takeover_idle 1: KP_INUSE (%s)",
		    cases[i].what, err);
		ok(kill(pid, 0) == 0, "... and it was not signalled");
		(void)kill(pid, SIGKILL);
		is_int(t_wait_exit(pid), 1000 + SIGKILL, "... until killed");
	}
	close(p[0]);
	close(p[1]);
}

static void
test_locks(void)
{
	struct lockarg a;
	struct maildrop *md;
	struct md_opts o = opts0;
	char dir[PATH_MAX], c;
	int p[2], status;
	long long t0;
	pid_t pid;

	(void)util_strlcpy(dir, t_path(scratch, "locks"), sizeof(dir));
	mkmaildir(dir);
	put_file(t_path(t_path(dir, "new"), "1764000000.a.host"), S("x\n"));
	if (!is_int(open_md(MD_MAILDIR, dir, &opts0, &md), KP_OK,
	    "parent holds"))
		return;
	memset(&a, 0, sizeof(a));
	a.dir = dir;
	is_int(t_wait_exit(spawn(lock_child, &a)), 0,
	    "a second session (another process) gets KP_INUSE");
	a.takeover = 1;
	is_int(t_wait_exit(spawn(lock_child, &a)), 0,
	    "even with takeover, the holder is not idle");
	md_close(md);

	/* Takeover of an idle holder. */
	if (pipe(p) == -1)
		bail("pipe");
	a.pfd = p[1];
	a.mode = 1;
	a.takeover = 0;
	pid = spawn(lock_child, &a);
	if (read(p[0], &c, 1) != 1)
		bail("child did not open");
	util_sleep_ms(2000);
	o.takeover_idle = 1;
	t0 = util_now_ms();
	if (is_int(open_md(MD_MAILDIR, dir, &o, &md), KP_OK,
	    "idle for 2 s, takeover_idle 1: taken over"))
		md_close(md);
	status = t_wait_exit(pid);
	is_int(status, 1000 + SIGTERM, "the idle holder got SIGTERM");
	ok(util_now_ms() - t0 < (MD_TAKEOVER_WAIT + 1) * 1000LL,
	    "within the takeover wait (%lld ms)", util_now_ms() - t0);

	/* A busy holder (md_touch) is not taken over. */
	a.mode = 2;
	pid = spawn(lock_child, &a);
	if (read(p[0], &c, 1) != 1)
		bail("child did not open");
	util_sleep_ms(2500);
	o.takeover_idle = 2;
	is_int(md_open(MD_MAILDIR, dir, &o, &md, (char[128]){ 0 }, 128),
	    KP_INUSE, "a holder that calls md_touch is not idle: KP_INUSE");
	ok(kill(pid, 0) == 0, "and it was not signalled");
	(void)kill(pid, SIGKILL);
	is_int(t_wait_exit(pid), 1000 + SIGKILL, "holder killed -9");
	if (is_int(open_md(MD_MAILDIR, dir, &opts0, &md), KP_OK,
	    "a killed holder leaves no stale lock"))
		md_close(md);
	close(p[0]);
	close(p[1]);
}

/* ---- deletion, delivery during a session, moves ---- */

static int
exists(const char *dir, const char *sub, const char *name)
{
	return access(t_path(t_path(dir, sub), name), F_OK) == 0;
}

static void
test_commit(void)
{
	struct maildrop *md;
	unsigned char del[4] = { 1, 0, 1, 0 };
	char dir[PATH_MAX], err[256], *b;
	size_t len, n;
	int st;

	(void)util_strlcpy(dir, t_path(scratch, "commit"), sizeof(dir));
	mkmaildir(dir);
	put_file(t_path(t_path(dir, "new"), "1764000000.a.host"), S("a\n"));
	put_file(t_path(t_path(dir, "new"), "1764000001.b.host"), S("b\n"));
	put_file(t_path(t_path(dir, "cur"), "1764000002.c.host:2,S"), S("c\n"));
	put_file(t_path(t_path(dir, "new"), "1764000003.d.host"), S("d\n"));
	if (!is_int(open_md(MD_MAILDIR, dir, &opts0, &md), KP_OK,
	    "open for commit"))
		return;
	/* Delivered during the session. */
	put_file(t_path(t_path(dir, "new"), "1764000004.e.host"), S("e\n"));
	/* Another program moves b and flags d. */
	if (rename(t_path(t_path(dir, "new"), "1764000001.b.host"),
	    t_path(t_path(dir, "cur"), "1764000001.b.host:2,S")) == -1 ||
	    rename(t_path(t_path(dir, "new"), "1764000003.d.host"),
	    t_path(t_path(dir, "cur"), "1764000003.d.host:2,RS")) == -1)
		bail("rename");
	is_int((long long)md_count(md), 4, "new mail is not in the snapshot");
	b = msg_bytes(md, 1, &len, &st);
	ok(st == KP_OK && len == 2 && memcmp(b, "b\n", 2) == 0,
	    "md_msg_fd finds a message moved to cur/");
	free(b);
	b = msg_bytes(md, 3, &len, &st);
	ok(st == KP_OK && len == 2 && memcmp(b, "d\n", 2) == 0,
	    "and one whose flags changed");
	free(b);
	/* c: deleted behind our back, then also marked. */
	if (unlink(t_path(t_path(dir, "cur"), "1764000002.c.host:2,S")) == -1)
		bail("unlink");
	b = msg_bytes(md, 2, &len, &st);
	is_int(st, KP_GONE, "a message deleted by another program: KP_GONE");
	free(b);
	/* a moved too, before commit deletes it. */
	if (rename(t_path(t_path(dir, "new"), "1764000000.a.host"),
	    t_path(t_path(dir, "cur"), "1764000000.a.host:2,S")) == -1)
		bail("rename");
	is_int(md_commit(md, del, err, sizeof(err)), KP_OK,
	    "commit (one moved, one already gone) %s", err);
	md_close(md);
	ok(!exists(dir, "cur", "1764000000.a.host:2,S"),
	    "the moved marked message is deleted");
	ok(exists(dir, "cur", "1764000001.b.host:2,S") &&
	    exists(dir, "cur", "1764000003.d.host:2,RS"),
	    "unmarked messages stay");
	ok(exists(dir, "new", "1764000004.e.host"),
	    "mail delivered during the session stays");
	if (!is_int(open_md(MD_MAILDIR, dir, &opts0, &md), KP_OK,
	    "open after commit"))
		return;
	n = md_count(md);
	ok(n == 3 && strcmp(md_msg(md, 2)->uidl, "1764000004.e.host") == 0,
	    "next session: 3 messages, the new one last");
	md_close(md);
}

/* ---- the size cache ---- */

#define CACHE_N	40

struct cachearg {
	const char	*dir;
	unsigned long long sizes[CACHE_N + 2];
	size_t		 n;
};

/*
 * In a child: become uid 65534 and open the Maildir a->dir.  Returns 0
 * with *mdp, or the child's exit status (99, or 10 - the enum kp_status).
 */
static int
nobody_open(const struct cachearg *a, struct maildrop **mdp)
{
	char err[256];
	int rc;

	if (become_nobody() == -1)
		return 99;
	rc = md_open(MD_MAILDIR, a->dir, &opts0, mdp, err, sizeof(err));
	return rc == KP_OK ? 0 : 10 + (-rc);
}

/* In a child: open as uid 65534; 0 if the count and sizes are a's. */
static int
cache_child(void *v)
{
	struct cachearg *a = v;
	struct maildrop *md;
	size_t i;
	int rc;

	if ((rc = nobody_open(a, &md)) != 0)
		return rc;
	if (md_count(md) != a->n)
		return 30;
	for (i = 0; i < a->n; i++)
		if (md_msg(md, i)->size != a->sizes[i])
			return 31;
	md_close(md);
	return 0;
}

static void
chmod_msgs(const char *dir, mode_t mode)
{
	const char *subs[2] = { "new", "cur" };
	struct dirent *de;
	DIR *d;
	int i;

	for (i = 0; i < 2; i++) {
		if ((d = opendir(t_path(dir, subs[i]))) == NULL)
			bail("opendir");
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.' && chmod(t_path(t_path(dir,
			    subs[i]), de->d_name), mode) == -1)
				bail("chmod: %s", strerror(errno));
		closedir(d);
	}
}

static int
cache_lines(const char *dir)
{
	char *t, *p;
	size_t len;
	int n = 0;

	if ((t = t_slurp(t_path(dir, "kpopd.cache"), &len)) == NULL)
		return -1;
	if (strncmp(t, "kpopd-cache 2\ndirs ", 19) != 0)
		n = -2;
	else
		for (p = t; (p = strchr(p, '\n')) != NULL; p++)
			n++;
	free(t);
	return n - 3;	/* less magic, dirs and trailer */
}

/* The "dirs" stamp kpopd writes for directory path. */
static void
dir_stamp(const char *path, char *out, size_t len)
{
	struct stat st;

	if (stat(path, &st) == -1)
		bail("stat %s: %s", path, strerror(errno));
	(void)util_snprintf(out, len, "%llu.%llu.%llu.%llu.%llu.%llu",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
	    (unsigned long long)st.st_ctim.tv_sec,
	    (unsigned long long)st.st_ctim.tv_nsec,
	    (unsigned long long)st.st_mtim.tv_sec,
	    (unsigned long long)st.st_mtim.tv_nsec);
}

/* Give both stamps of a "dirs" pair another device number. */
static void
other_dev(char *dirs)
{
	char out[300], *sp, *dot1, *dot2;

	sp = strchr(dirs, ' ');
	dot1 = strchr(dirs, '.');
	dot2 = sp == NULL ? NULL : strchr(sp + 1, '.');
	if (sp == NULL || dot1 == NULL || dot2 == NULL)
		bail("bad stamps %s", dirs);
	*sp = '\0';
	(void)util_snprintf(out, sizeof(out), "4242%s 4242%s", dot1, dot2);
	(void)util_strlcpy(dirs, out, 300);
}

/* Write a format 2 cache (a listing) with a valid checksum. */
static void
forge_cache2(const char *dir, const char *dirs, const char *body,
    size_t count)
{
	struct md_hash h;
	unsigned char dig[MD_HASH_LEN];
	char hex[2 * MD_HASH_LEN + 1], *all;
	size_t len = 14 + strlen(dirs) + strlen(body) + 200;

	if ((all = malloc(len)) == NULL)
		bail("malloc");
	(void)util_snprintf(all, len, "kpopd-cache 2\ndirs %s\n%s", dirs,
	    body);
	if (md_hash_init(&h) == -1)
		bail("hash");
	md_hash_update(&h, all, strlen(all));
	if (md_hash_final(&h, dig) == -1)
		bail("hash");
	md_hash_free(&h);
	util_hex(dig, MD_HASH_LEN, hex);
	(void)util_snprintf(all + strlen(all), len - strlen(all),
	    "/end %zu %s\n", count, hex);
	put_file(t_path(dir, "kpopd.cache"), all, strlen(all));
	free(all);
}

/* Write a cache with a valid checksum, as kpopd would. */
static void
forge_cache(const char *dir, const char *body, size_t count)
{
	struct md_hash h;
	unsigned char dig[MD_HASH_LEN];
	char hex[2 * MD_HASH_LEN + 1], *all;
	size_t len;

	if (md_hash_init(&h) == -1)
		bail("hash");
	md_hash_update(&h, "kpopd-cache 1\n", 14);
	md_hash_update(&h, body, strlen(body));
	if (md_hash_final(&h, dig) == -1)
		bail("hash");
	md_hash_free(&h);
	util_hex(dig, MD_HASH_LEN, hex);
	len = 14 + strlen(body) + 100;
	if ((all = malloc(len)) == NULL)
		bail("malloc");
	(void)util_snprintf(all, len, "kpopd-cache 1\n%s/end %zu %s\n", body,
	    count, hex);
	put_file(t_path(dir, "kpopd.cache"), all, strlen(all));
	free(all);
}

static void
cache_name(char *buf, size_t len, size_t i, size_t datalen)
{
	if (i % 2 == 0)
		(void)util_snprintf(buf, len, "%llu.M%zuP1.host,S=%zu",
		    1764000000ULL + i, i, datalen);
	else
		(void)util_snprintf(buf, len, "%llu.M%zuP1.host",
		    1764000000ULL + i, i);
}

/* LF messages, some with dot lines, of varying length. */
static size_t
cache_data(char *buf, size_t len, size_t i)
{
	(void)util_snprintf(buf, len, "Subject: %zu\n\n%sline\n%.*s", i,
	    i % 3 == 0 ? ".dot\n" : "", (int)(i % 7), "abcdefg");
	return strlen(buf);
}

/* Write the cache file (as uid 65534's, when we are root). */
static void
put_cache(const char *dir, const char *data, size_t len)
{
	put_file(t_path(dir, "kpopd.cache"), data, len);
	chown_nobody(dir);
}

static void
test_cache(void)
{
	struct cachearg a;
	struct maildrop *md;
	char dir[PATH_MAX], name[128], name1[128], body[CACHE_N * 100 + 1];
	char data[300], *t;
	size_t i, len, len0, k;
	int rc;

	(void)util_strlcpy(dir, t_path(scratch, "cache"), sizeof(dir));
	mkmaildir(dir);
	memset(&a, 0, sizeof(a));
	a.dir = dir;
	for (i = 0; i < CACHE_N; i++) {
		len = cache_data(data, sizeof(data), i);
		cache_name(name, sizeof(name), i, len);
		put_file(t_path(t_path(dir, i % 4 == 1 ? "cur" : "new"), name),
		    data, len);
		a.sizes[i] = enc_octets(data, len);
	}
	a.n = CACHE_N;
	chown_nobody(dir);

	is_int(t_wait_exit(spawn(cache_child, &a)), 0,
	    "first open (as uid %d): sizes right", NOBODY);
	is_int(cache_lines(dir), CACHE_N, "the cache has a line per message");
	chmod_msgs(dir, 0);
	is_int(t_wait_exit(spawn(cache_child, &a)), 0,
	    "second open with every message file unreadable: it reads "
	    "only the directories and the cache");

	/* Prove the method: a file the cache does not know is read. */
	put_file(t_path(t_path(dir, "new"), "1764000100.unknown.host"),
	    S("x\n"));
	chown_nobody(dir);
	chmod_msgs(dir, 0);
	rc = t_wait_exit(spawn(cache_child, &a));
	is_int(rc, 10 + (-KP_PERM),
	    "control: an unreadable file not in the cache fails the open");
	if (unlink(t_path(t_path(dir, "new"), "1764000100.unknown.host")) == -1)
		bail("unlink");
	chmod_msgs(dir, 0600);

	/* Corrupt caches are thrown away and rebuilt. */
	put_cache(dir, S("kpopd-cache 1\ngarbage\n"));
	is_int(t_wait_exit(spawn(cache_child, &a)), 0, "garbage cache: sizes "
	    "right");
	is_int(cache_lines(dir), CACHE_N, "and the cache is rebuilt");
	t = t_slurp(t_path(dir, "kpopd.cache"), &len);
	/* One size digit changed: the checksum no longer holds. */
	for (k = 14; k < len && t[k] != ' '; k++)
		;
	t[k + 1] = t[k + 1] == '9' ? '1' : '9';
	put_cache(dir, t, len);
	free(t);
	is_int(t_wait_exit(spawn(cache_child, &a)), 0,
	    "a cache with a bad checksum: sizes right");
	put_cache(dir, S("kpopd-cache 1\n"));
	is_int(t_wait_exit(spawn(cache_child, &a)), 0,
	    "a truncated cache: sizes right");
	chown_nobody(dir);
	chmod_msgs(dir, 0);
	is_int(t_wait_exit(spawn(cache_child, &a)), 0,
	    "the rebuilt cache is trusted again");
	chmod_msgs(dir, 0600);

	/*
	 * A well-formed cache whose entries disagree: message 0's physical
	 * size differs from its ,S=, message 1 (no S=) from its stat size.
	 * Both are measured again, not trusted.
	 */
	len0 = cache_data(data, sizeof(data), 0);
	cache_name(name, sizeof(name), 0, len0);
	cache_name(name1, sizeof(name1), 1, 0);
	(void)util_snprintf(body, sizeof(body), "%s 999 1500\n%s 998 1400\n",
	    name, name1);
	forge_cache(dir, body, 2);
	chown_nobody(dir);
	is_int(t_wait_exit(spawn(cache_child, &a)), 0,
	    "entries that disagree with S= or stat are recomputed");
	t = t_slurp(t_path(dir, "kpopd.cache"), &len);
	ok(t != NULL && strstr(t, " 999 ") == NULL && strstr(t, " 998 ") ==
	    NULL && cache_lines(dir) == CACHE_N, "and rewritten");
	free(t);
	/* From here we open it ourselves: it must be ours. */
	chown_self(dir);
	/* An impossible POP3 size: more than 2 * bytes + 2. */
	(void)util_snprintf(body, sizeof(body), "%s %zu %zu\n", name, len0,
	    2 * len0 + 3);
	forge_cache(dir, body, 1);
	if (is_int(open_md(MD_MAILDIR, dir, &opts0, &md), KP_OK,
	    "open with an impossible size in the cache")) {
		is_int((long long)md_msg(md, 0)->size, (long long)a.sizes[0],
		    "it is refused and the file measured");
		md_close(md);
	}
	/* Consistent with the file name: the cache answers. */
	(void)util_snprintf(body, sizeof(body), "%s %zu %zu\n", name, len0,
	    len0 + 1);
	forge_cache(dir, body, 1);
	if (is_int(open_md(MD_MAILDIR, dir, &opts0, &md), KP_OK,
	    "open again")) {
		is_int((long long)md_msg(md, 0)->size, (long long)len0 + 1,
		    "an entry matching ,S= is used without reading the file");
		md_close(md);
	}

	/* A message vanishes: its entry goes. */
	len = cache_data(data, sizeof(data), 2);
	cache_name(name, sizeof(name), 2, len);
	if (unlink(t_path(t_path(dir, "new"), name)) == -1)
		bail("unlink %s: %s", name, strerror(errno));
	if (is_int(open_md(MD_MAILDIR, dir, &opts0, &md), KP_OK,
	    "open after a removal"))
		md_close(md);
	is_int(cache_lines(dir), CACHE_N - 1, "the vanished entry is dropped");
}

/* Give one file to uid 65534, leaving its directory's ctime alone. */
static void
chown_file(const char *path)
{
	if (geteuid() == 0 && chown(path, NOBODY, NOBODY) == -1)
		bail("chown %s: %s", path, strerror(errno));
}

/*
 * In a child: open as uid 65534; the exit status tells the count and
 * the first message's size: 16 * count + size % 16.
 */
static int
listing_child(void *v)
{
	struct maildrop *md;
	size_t n;
	int rc;

	if ((rc = nobody_open(v, &md)) != 0)
		return rc;
	n = md_count(md);
	rc = (int)(n * 16 + (n > 0 ? md_msg(md, 0)->size % 16 : 0));
	md_close(md);
	return rc;
}

/*
 * The listing: with new/ and cur/ as the cache recorded them, an open
 * takes the cache's listing without reading the directories; a change
 * to either makes it read them again; a directory changed within the
 * last two seconds is not recorded.
 */
static void
test_listing(void)
{
	char dir[PATH_MAX], sn[128], sc[128], dirs[300], body[1024], *t;
	char want[300];
	struct cachearg a;
	size_t len;

	(void)util_strlcpy(dir, t_path(scratch, "listing"), sizeof(dir));
	mkmaildir(dir);
	put_file(t_path(t_path(dir, "new"), "1764000001.a.host"), S("a\n"));
	put_file(t_path(t_path(dir, "cur"), "1764000002.b.host:2,S"),
	    S("bb\n"));
	chown_nobody(dir);
	memset(&a, 0, sizeof(a));
	a.dir = dir;

	/*
	 * A directory is recorded once its ctime is in the past of the
	 * kernel's clock when it is read (a change in the same clock tick
	 * would not show): at the latest a tick after it was made.
	 */
	is_int(t_wait_exit(spawn(listing_child, &a)), 2 * 16 + 3,
	    "fresh maildir: 2 messages, the first of 3 octets");
	usleep(100 * 1000);
	is_int(t_wait_exit(spawn(listing_child, &a)), 2 * 16 + 3,
	    "a tick later: the same");
	dir_stamp(t_path(dir, "new"), sn, sizeof(sn));
	dir_stamp(t_path(dir, "cur"), sc, sizeof(sc));
	(void)util_snprintf(want, sizeof(want), "kpopd-cache 2\ndirs %s %s\n"
	    "n 2 3 1764000001.a.host\nc 3 4 1764000002.b.host:2,S\n", sn,
	    sc);
	t = t_slurp(t_path(dir, "kpopd.cache"), &len);
	ok(t != NULL && strncmp(t, want, strlen(want)) == 0,
	    "the directories are recorded with the listing");
	free(t);

	/*
	 * A listing that matches the directories' stamps but not their
	 * files: it is what an open serves, so no directory was read.
	 */
	(void)util_snprintf(dirs, sizeof(dirs), "%s %s", sn, sc);
	(void)util_snprintf(body, sizeof(body),
	    "n 2 5 1764000001.a.host\nn - 9 1764000001.x.host,W=9\n"
	    "c 3 4 1764000002.b.host:2,S\n");
	forge_cache2(dir, dirs, body, 3);
	chown_file(t_path(dir, "kpopd.cache"));
	is_int(t_wait_exit(spawn(listing_child, &a)), 3 * 16 + 5,
	    "matching stamps: the listing is served as it is");

	/*
	 * Written by another server of the same NFS export: its device
	 * numbers are its own, the rest is the storage's.  The listing
	 * stands (else every host would rescan, and rewrite, on every
	 * login the balancer sends it).
	 */
	(void)util_snprintf(dirs, sizeof(dirs), "%s %s", sn, sc);
	other_dev(dirs);
	forge_cache2(dir, dirs, body, 3);
	chown_file(t_path(dir, "kpopd.cache"));
	is_int(t_wait_exit(spawn(listing_child, &a)), 3 * 16 + 5,
	    "stamps of another host's mount (another device number): the "
	    "listing is served as it is");

	/* One stamp wrong: the directories are read. */
	(void)util_snprintf(dirs, sizeof(dirs), "%s 1.2.3.4.5.6", sn);
	forge_cache2(dir, dirs, body, 3);
	chown_file(t_path(dir, "kpopd.cache"));
	is_int(t_wait_exit(spawn(listing_child, &a)), 2 * 16 + 5,
	    "cur/'s stamp differs: the directories are read (sizes still "
	    "from the cache)");

	/* A message arrives in new/: its ctime moves, the listing is old. */
	(void)util_snprintf(dirs, sizeof(dirs), "%s %s", sn, sc);
	forge_cache2(dir, dirs, body, 3);
	put_file(t_path(t_path(dir, "new"), "1764000003.c.host"), S("ccc\n"));
	chown_nobody(dir);
	is_int(t_wait_exit(spawn(listing_child, &a)), 3 * 16 + 5,
	    "after a delivery: the 3 real messages");
	if (unlink(t_path(t_path(dir, "new"), "1764000003.c.host")) == -1)
		bail("unlink");
	is_int(t_wait_exit(spawn(listing_child, &a)), 2 * 16 + 5,
	    "after a removal: 2 again");
}

/* ---- a commit killed at random instants ---- */

#define KILL_N		200
#define KILL_ITER	30

struct killarg {
	const char	*dir;
	int		 ready[2], go[2];
	unsigned char	 del[KILL_N];
};

static int
kill_child(void *v)
{
	struct killarg *a = v;
	struct maildrop *md;
	char err[256], c;

	if (md_open(MD_MAILDIR, a->dir, &opts0, &md, err, sizeof(err)) !=
	    KP_OK) {
		/* Say so, or the parent would wait for ever. */
		if (write(a->ready[1], "f", 1) != 1)
			return 99;
		return 10;
	}
	if (write(a->ready[1], "o", 1) != 1 || read(a->go[0], &c, 1) != 1)
		return 11;
	if (md_commit(md, a->del, err, sizeof(err)) != KP_OK)
		return 12;
	md_close(md);
	return 0;
}

static void
kill_name(char *buf, size_t len, size_t i)
{
	(void)util_snprintf(buf, len, "%llu.K%zuP1.host,S=%zu",
	    1764000000ULL + i, i, 20 + i);
}

static void
kill_data(char *buf, size_t i)
{
	memset(buf, 'a' + (int)(i % 26), 20 + i);
	buf[19 + i] = '\n';
}

static void
test_kill_loop(void)
{
	struct killarg a;
	struct maildrop *md;
	char dir[PATH_MAX], name[128], data[KILL_N + 32], *b;
	size_t i, len, n;
	long long t0, span;
	int iter, bad = 0, inside = 0, st;
	size_t marked, survived;
	pid_t pid;
	char c;

	(void)util_strlcpy(dir, t_path(scratch, "kill"), sizeof(dir));
	memset(&a, 0, sizeof(a));
	a.dir = dir;
	if (pipe(a.ready) == -1 || pipe(a.go) == -1)
		bail("pipe");
	span = 0;
	srandom(4711);
	/* At least KILL_ITER, more until 3 kills landed mid-commit. */
	for (iter = 0; iter <= KILL_ITER || (inside < 3 && iter < 200);
	    iter++) {
		t_rm_tree(dir);
		mkmaildir(dir);
		for (i = 0; i < KILL_N; i++) {
			kill_name(name, sizeof(name), i);
			kill_data(data, i);
			put_file(t_path(t_path(dir, "new"), name), data, 20 + i);
			a.del[i] = (unsigned char)(random() % 2);
		}
		pid = spawn(kill_child, &a);
		if (read(a.ready[0], &c, 1) != 1 || c != 'o') {
			(void)t_wait_exit(pid);
			bail("kill child could not open");
		}
		put_file(t_path(t_path(dir, "new"), "1764009999.late.host"),
		    S("late\n"));
		t0 = now_us();
		if (write(a.go[1], "g", 1) != 1)
			bail("write");
		if (iter == 0) {
			/* Measure one whole commit. */
			if (t_wait_exit(pid) != 0)
				bail("commit child failed");
			span = now_us() - t0;
		} else {
			struct timespec ts;
			long us = random() % (span + 1);

			ts.tv_sec = us / 1000000;
			ts.tv_nsec = (us % 1000000) * 1000;
			nanosleep(&ts, NULL);
			(void)kill(pid, SIGKILL);
			(void)t_wait_exit(pid);
		}
		/* Check: the unmarked intact, marked intact or gone. */
		if (md_open(MD_MAILDIR, dir, &opts0, &md, name,
		    sizeof(name)) != KP_OK) {
			bad++;
			continue;
		}
		n = marked = survived = 0;
		for (i = 0; i < md_count(md); i++) {
			b = msg_bytes(md, i, &len, &st);
			if (st != KP_OK)
				bad++;
			free(b);
		}
		for (i = 0; i < KILL_N; i++) {
			int there;

			kill_name(name, sizeof(name), i);
			there = exists(dir, "new", name);
			if (there) {
				kill_data(data, i);
				b = t_slurp(t_path(t_path(dir, "new"), name), &len);
				if (b == NULL || len != 20 + i ||
				    memcmp(b, data, len) != 0)
					bad++;
				free(b);
				n++;
			}
			if (!a.del[i] && !there)
				bad++;
			marked += a.del[i];
			if (a.del[i] && there)
				survived++;
		}
		/* Some of the marked gone, not all: killed mid-commit. */
		if (survived > 0 && survived < marked)
			inside++;
		if (!exists(dir, "new", "1764009999.late.host"))
			bad++;
		if (md_count(md) != n + 1)
			bad++;
		md_close(md);
	}
	diag("a commit takes about %lld us; %d kills landed mid-commit",
	    span, inside);
	ok(inside > 0, "some kills landed inside a commit");
	is_int(bad, 0, "%d commits killed at random: every unmarked message "
	    "and the late one intact, every marked one intact or gone",
	    iter - 1);
	close(a.ready[0]);
	close(a.ready[1]);
	close(a.go[0]);
	close(a.go[1]);
}

/* ---- 100,000 messages ---- */

static double
secs_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
bench(const char *label, size_t n, int with_s)
{
	struct maildrop *md;
	struct timespec t0;
	char dir[PATH_MAX], name[128], data[128];
	double first, warm;
	size_t i, len;
	int fd;

	(void)util_strlcpy(dir, t_path(scratch, label), sizeof(dir));
	mkmaildir(dir);
	for (i = 0; i < n; i++) {
		(void)util_snprintf(data, sizeof(data), "Subject: message %zu"
		    "\nFrom: a@example.org\n\nbody %zu\n", i, i);
		len = strlen(data);
		if (with_s)
			(void)util_snprintf(name, sizeof(name),
			    "1764000000.M%zuP4242.host,S=%zu", i, len);
		else
			(void)util_snprintf(name, sizeof(name),
			    "1764000000.M%zuP4242.host", i);
		fd = open(t_path(t_path(dir, "new"), name), O_WRONLY | O_CREAT |
		    O_EXCL, 0600);
		if (fd == -1 || util_write_all(fd, data, len, -1) == -1 ||
		    close(fd) == -1)
			bail("bench file %zu: %s", i, strerror(errno));
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (open_md(MD_MAILDIR, dir, &opts0, &md) != KP_OK)
		bail("bench open");
	first = secs_since(&t0);
	ok(md_count(md) == n, "%s: %zu messages", label, n);
	md_close(md);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (open_md(MD_MAILDIR, dir, &opts0, &md) != KP_OK)
		bail("bench open");
	warm = secs_since(&t0);
	md_close(md);
	diag("%s: %zu messages: first open %.3f s, warm open %.3f s", label,
	    n, first, warm);
	ok(warm < first, "%s: the warm open is faster (%.3f s < %.3f s)",
	    label, warm, first);
	/* In creation order: many times faster than readdir order. */
	for (i = 0; i < n; i++) {
		(void)util_snprintf(data, sizeof(data), "Subject: message %zu"
		    "\nFrom: a@example.org\n\nbody %zu\n", i, i);
		if (with_s)
			(void)util_snprintf(name, sizeof(name),
			    "1764000000.M%zuP4242.host,S=%zu", i,
			    strlen(data));
		else
			(void)util_snprintf(name, sizeof(name),
			    "1764000000.M%zuP4242.host", i);
		(void)unlink(t_path(t_path(dir, "new"), name));
	}
	t_rm_tree(dir);
}

/*
 * With --open DIR NAME: deliver NAME to DIR's new/, then at once open
 * and close the Maildir DIR; exit 0, or 1.
 */
static int
open_only(const char *dir, const char *name)
{
	struct maildrop *md;
	char err[256];

	put_file(t_path(t_path(dir, "new"), name), S("x\n"));
	if (md_open(MD_MAILDIR, dir, &opts0, &md, err, sizeof(err)) != KP_OK)
		return 1;
	md_close(md);
	return 0;
}

/*
 * Whether the cache of dir records new/ with a ctime not before the
 * session lock's stamp: a change in that same instant would not show.
 */
static int
recorded_too_early(const char *dir)
{
	struct stat st;
	char *t, *p, *end;
	unsigned long long v[4];
	size_t len;
	int i, bad = 0;

	if ((t = t_slurp(t_path(dir, "kpopd.cache"), &len)) == NULL)
		return 1;
	if (stat(t_path(dir, "kpopd.lock"), &st) == -1)
		bail("stat: %s", strerror(errno));
	p = t + 19;	/* past "kpopd-cache 2\ndirs " */
	if (len < 19 || strncmp(t, "kpopd-cache 2\ndirs ", 19) != 0)
		bad = 1;
	else if (*p != '-') {
		for (i = 0; i < 4; i++) {
			v[i] = strtoull(p, &end, 10);
			p = end + 1;
		}
		/* v: dev, ino, ctime seconds, nanoseconds */
		bad = v[2] > (unsigned long long)st.st_mtim.tv_sec ||
		    (v[2] == (unsigned long long)st.st_mtim.tv_sec &&
		    v[3] >= (unsigned long long)st.st_mtim.tv_nsec);
	}
	free(t);
	return bad;
}

/*
 * A server whose clock runs an hour ahead of the file server's
 * (faketime; the files' times are the kernel's) that delivers a message
 * and opens the Maildir at once: a directory changed in the instant of
 * the open is not recorded in kpopd.cache, since a
 * later change in that instant would carry the same ctime.  The storage's
 * clock is the session lock's stamp.
 */
static void
test_skewed_listing(const char *self)
{
	char dir[PATH_MAX], name[64];
	int i, bad = 0, failed = 0;
	pid_t pid;

	(void)util_strlcpy(dir, t_path(scratch, "skew"), sizeof(dir));
	mkmaildir(dir);
	for (i = 0; i < 20; i++) {
		(void)util_snprintf(name, sizeof(name), "17640000%02d.s.host",
		    i);
		if ((pid = fork()) == -1)
			bail("fork: %s", strerror(errno));
		if (pid == 0) {
			(void)setenv("NO_FAKE_STAT", "1", 1);
			(void)setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1);
			(void)setenv("FAKE_UTIME", "", 1);
			/* Under ASan, libfaketime is preloaded before its runtime. */
			t_asan_allow_preload();
			execlp("faketime", "faketime", "-f", "+1h", self,
			    "--open", dir, name, (char *)NULL);
			_exit(127);
		}
		if (t_wait_exit(pid) != 0)
			failed++;
		else if (recorded_too_early(dir))
			bad++;
	}
	is_int(failed, 0, "20 opens an hour ahead of the storage");
	is_int(bad, 0, "none recorded new/ changed in the instant of its "
	    "listing");
}

int
main(int argc, char **argv)
{
	const char *big = getenv("KPOP_TEST_BIG");
	unsigned long long nbig = 100000;
	char self[PATH_MAX];
	ssize_t n;

	if (argc == 4 && strcmp(argv[1], "--open") == 0)
		return open_only(argv[2], argv[3]);
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		bail("readlink /proc/self/exe: %s", strerror(errno));
	self[n] = '\0';
	md_test_start("maildir-t");
	if (big != NULL && util_parse_uint(big, strlen(big), 10000000,
	    &nbig) == -1)
		bail("KPOP_TEST_BIG: not a number");

	test_corpus();
	test_odd_names();
	test_paths();
	test_hostile(0);
	test_hostile(1);
	test_locks();
	test_commit();
	test_cache();
	test_listing();
	test_lock_hosts();
	test_skewed_listing(self);
	test_kill_loop();
	if (nbig > 0) {
		bench("big-S", (size_t)nbig, 1);
		bench("big-noS", (size_t)nbig, 0);
	} else
		skip("KPOP_TEST_BIG=0: no 100,000-message benchmark");
	md_test_end();
	return 0;
}
