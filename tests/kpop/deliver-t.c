/* SPDX-License-Identifier: MIT */
/*
 * tests/kpop/deliver-t.c: tests for kpop/deliver.c, on real files in a
 * scratch directory: target parsing; Maildir delivery (new/, the size in
 * the name, the bytes, tmp/ emptied, failed fsyncs of the file and of
 * new/ leave nothing) and finding a message by its token in new/ and in
 * cur/; mbox delivery (mboxrd quoting fed whole and one byte at a time,
 * the From_ line, the trailing newline and blank line, a second append,
 * a file not ending in a blank line), its locks (a dotlock held for a
 * while, an fcntl lock held past the timeout, stale and dead dotlocks),
 * truncation after a failed append (RLIMIT_FSIZE in a child),
 * dlv_mbox_check and dlv_mbox_unappend; MDA delivery (the bytes, the
 * environment, exit 75, exit 1, a signal, not found, an MDA that stops
 * reading, abort); and standard output.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/limits.h"
#include "common/util.h"
#include "kpop/deliver.h"
#include "kpop/dlv-int.h"
#include "tap/basic.h"
#include "tap/files.h"

/* A string literal as its bytes and length, without the NUL. */
#define S(x)	x, sizeof(x) - 1

/* The delivery time the tests use: Mon Nov 24 16:00:00 2025 UTC. */
#define WHEN		1764000000
#define WHEN_TEXT	"Mon Nov 24 16:00:00 2025"

static const char *scratch;

/* ---- helpers ---- */

/* Entries of dir not starting with '.'; the last one's name in name. */
static int
count_dir(const char *dir, char *name, size_t namelen)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.') {
			n++;
			if (name != NULL)
				(void)util_strlcpy(name, de->d_name, namelen);
		}
	(void)closedir(d);
	return n;
}

static void
sha256(const void *p, size_t n, unsigned char *out)
{
	unsigned int len = 0;

	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 ||
	    len != DLV_SHA256_LEN)
		bail("EVP_Digest");
}

static struct dlv_info
info_for(const char *token, unsigned int lock_wait)
{
	struct dlv_info info;

	memset(&info, 0, sizeof(info));
	info.uidl = "uidl-1";
	info.token = token;
	info.sender = "alice@example.org";
	info.account = "alice@pop.example.org:110";
	info.when = WHEN;
	info.lock_wait = lock_wait;
	return info;
}

/*
 * Deliver msg to spec in pieces of step bytes (0: whole).  Returns the
 * status; *w and err are filled.
 */
static int
deliver(const char *spec, const struct dlv_info *info, const char *msg,
    size_t len, size_t step, struct dlv_where *w, char *err, size_t errlen)
{
	struct dlv_target t;
	struct dlv *h;
	size_t at, k;
	int rc;

	memset(w, 0, sizeof(*w));
	if ((rc = dlv_parse(spec, &t, err, errlen)) != KP_OK ||
	    (rc = dlv_open(&t, info, &h, err, errlen)) != KP_OK)
		return rc;
	for (at = 0; at < len; at += k) {
		k = step == 0 || len - at < step ? len - at : step;
		if (dlv_write(h, msg + at, k) != KP_OK)
			break;
	}
	return dlv_commit(h, w, err, errlen);
}

/* ---- target parsing ---- */

/* lmtp: and smtp: targets, and the server each names. */
static void
test_parse_server(void)
{
	static const struct {
		const char	*spec;
		const char	*host;	/* NULL: refused */
		unsigned int	 port;
	} cases[] = {
		{ "lmtp:127.0.0.1:24", "127.0.0.1", 24 },
		{ "lmtp:/run/dovecot/lmtp", "/run/dovecot/lmtp", 0 },
		{ "lmtp:[::1]:2424", "::1", 2424 },
		{ "lmtp:mail.example.org", NULL, 0 },
		{ "lmtp:host:0", NULL, 0 },
		{ "lmtp:host:65536", NULL, 0 },
		{ "lmtp:host:+24", NULL, 0 },
		{ "smtp:localhost", "localhost", 25 },
		{ "smtp:localhost:2525", "localhost", 2525 },
		{ "smtp:[2001:db8::1]", "2001:db8::1", 25 },
		{ "smtp:[::1]:587", "::1", 587 },
		{ "smtp:::1", NULL, 0 },
		{ "smtp:[::1", NULL, 0 },
		{ "smtp:[::1]x", NULL, 0 },
		{ "smtp:[]:25", NULL, 0 },
		{ "smtp::25", NULL, 0 },
		{ "smtp:/tmp/sock", NULL, 0 },
		{ "smtp:", NULL, 0 },
	};
	struct dlv_target t;
	char err[DLV_ERR_MAX], host[DLV_ARG_MAX];
	unsigned int port;
	size_t i;
	int rc;

	for (i = 0; i < KP_NELEM(cases); i++) {
		rc = dlv_parse(cases[i].spec, &t, err, sizeof(err));
		if (cases[i].host == NULL) {
			ok(rc == KP_PERM && err[0] != '\0', "%s refused: %s",
			    cases[i].spec, err);
			continue;
		}
		ok(rc == KP_OK && dlv_smtp_addr(t.kind, t.arg, host,
		    sizeof(host), &port, err, sizeof(err)) == KP_OK &&
		    t.kind == (cases[i].spec[0] == 'l' ? DLV_LMTP : DLV_SMTP) &&
		    strcmp(host, cases[i].host) == 0 && port == cases[i].port,
		    "%s: %s port %u", cases[i].spec, cases[i].host,
		    cases[i].port);
	}
}

static void
test_parse(void)
{
	struct dlv_target t;
	char err[DLV_ERR_MAX];

	t_put_file(t_path(scratch, "a-file"), S("x"));
	ok(dlv_parse("maildir:/m", &t, err, sizeof(err)) == KP_OK &&
	    t.kind == DLV_MAILDIR && strcmp(t.arg, "/m") == 0,
	    "parse maildir:");
	ok(dlv_parse("mbox:/var/mail/x", &t, err, sizeof(err)) == KP_OK &&
	    t.kind == DLV_MBOX && strcmp(t.arg, "/var/mail/x") == 0,
	    "parse mbox:");
	ok(dlv_parse("mda:procmail -d x", &t, err, sizeof(err)) == KP_OK &&
	    t.kind == DLV_MDA && strcmp(t.arg, "procmail -d x") == 0,
	    "parse mda:");
	ok(dlv_parse("-", &t, err, sizeof(err)) == KP_OK &&
	    t.kind == DLV_STDOUT, "parse -");
	ok(dlv_parse("/nonexistent/Maildir/", &t, err, sizeof(err)) ==
	    KP_OK && t.kind == DLV_MAILDIR, "a path ending in / is a Maildir");
	ok(dlv_parse(scratch, &t, err, sizeof(err)) == KP_OK &&
	    t.kind == DLV_MAILDIR, "an existing directory is a Maildir");
	ok(dlv_parse(t_path(scratch, "a-file"), &t, err, sizeof(err)) ==
	    KP_OK && t.kind == DLV_MBOX, "an existing file is an mbox");
	is_int(dlv_parse(t_path(scratch, "nothing"), &t, err, sizeof(err)),
	    KP_PERM, "a path to nothing is refused");
	ok(strstr(err, "maildir:") != NULL, "... saying how to be clear: %s",
	    err);
	is_int(dlv_parse("maildir:", &t, err, sizeof(err)), KP_PERM,
	    "an empty maildir: is refused");
	is_int(dlv_parse("", &t, err, sizeof(err)), KP_PERM,
	    "an empty target is refused");
	test_parse_server();
	ok(dlv_token_valid("abc-DEF_09") && !dlv_token_valid("") &&
	    !dlv_token_valid("a.b") && !dlv_token_valid("a/b") &&
	    !dlv_token_valid("a:b"), "dlv_token_valid");
}

/* ---- Maildir ---- */

static const char msg1[] =
    "From: a@example.org\nSubject: one\n\nbody line\n.dot\nFrom here\n";

static void
test_maildir(void)
{
	char md[PATH_MAX], err[DLV_ERR_MAX], want[DLV_NAME_MAX], name[256];
	struct dlv_info info = info_for("tok1", 0);
	struct dlv_where w;
	struct dlv_target t;
	struct dlv *h;
	struct stat sb;
	char *b;
	size_t len;

	(void)util_strlcpy(md, t_path(scratch, "Maildir"), sizeof(md));
	if (!is_int(dlv_parse(t_path(md, ""), &t, err, sizeof(err)), KP_OK,
	    "parse the Maildir") ||
	    !is_int(dlv_open(&t, &info, &h, err, sizeof(err)), KP_OK,
	    "open a Maildir that does not exist yet"))
		return;
	ok(stat(t_path(md, "cur"), &sb) == 0 && S_ISDIR(sb.st_mode) &&
	    (sb.st_mode & 0777) == 0700, "cur/ made, mode 0700");
	ok(dlv_write(h, msg1, 10) == KP_OK &&
	    dlv_write(h, msg1 + 10, sizeof(msg1) - 11) == KP_OK,
	    "write in two pieces");
	is_int(count_dir(t_path(md, "tmp"), NULL, 0), 1, "the file is in tmp/");
	is_int(dlv_prepare(h, &w, err, sizeof(err)), KP_OK, "prepare");
	(void)util_snprintf(want, sizeof(want), "%d.Ktok1.", WHEN);
	ok(strncmp(w.name, want, strlen(want)) == 0, "name starts with "
	    "<time>.K<token>.: %s", w.name);
	(void)util_snprintf(want, sizeof(want), ",S=%zu", sizeof(msg1) - 1);
	ok(strlen(w.name) > strlen(want) && strcmp(w.name + strlen(w.name) -
	    strlen(want), want) == 0, "name ends with ,S=<size>");
	is_int(count_dir(t_path(md, "new"), NULL, 0), 0,
	    "prepared: nothing in new/ yet");
	is_int(dlv_commit(h, &w, err, sizeof(err)), KP_OK, "commit");
	is_int(count_dir(t_path(md, "new"), name, sizeof(name)), 1,
	    "one file in new/");
	is_string(name, w.name, "... with the name reported");
	is_int(count_dir(t_path(md, "tmp"), NULL, 0), 0, "tmp/ is empty");
	b = t_slurp(t_path(t_path(md, "new"), w.name), &len);
	is_blob(b, len, msg1, sizeof(msg1) - 1, "the bytes as fed");
	free(b);
	is_int((long long)w.size, (long long)sizeof(msg1) - 1, "w.size");
	is_string(w.token, "tok1", "w.token");
	is_string(w.arg, t_path(md, ""), "w.arg");
}

static void
test_maildir_find(void)
{
	char md[PATH_MAX], err[DLV_ERR_MAX], name[DLV_NAME_MAX], cur[PATH_MAX];
	struct dlv_info info = info_for("find-me", 0);
	struct dlv_where w;

	(void)util_strlcpy(md, t_path(scratch, "Maildir"), sizeof(md));
	if (!is_int(deliver(md, &info, S(msg1), 0, &w, err, sizeof(err)),
	    KP_OK, "deliver for find"))
		return;
	is_int(dlv_maildir_find(md, "find-me", name, sizeof(name), err,
	    sizeof(err)), 1, "found by token in new/");
	is_string(name, w.name, "... under its name");
	is_int(dlv_maildir_find(md, "find", name, sizeof(name), err,
	    sizeof(err)), 0, "a prefix of the token is not it");
	is_int(dlv_maildir_find(md, "find-me-not", NULL, 0, err,
	    sizeof(err)), 0, "a longer token is not it");
	(void)util_snprintf(cur, sizeof(cur), "%s/cur/%s:2,S", md, w.name);
	if (rename(t_path(t_path(md, "new"), w.name), cur) == -1)
		bail("rename: %s", strerror(errno));
	is_int(dlv_maildir_find(md, "find-me", name, sizeof(name), err,
	    sizeof(err)), 1, "found in cur/ with :2,S");
	ok(strstr(name, ":2,S") != NULL, "... under the reader's name: %s",
	    name);
	is_int(dlv_maildir_find(t_path(scratch, "no-maildir"), "find-me", NULL,
	    0, err, sizeof(err)), 0, "a missing Maildir has nothing");
	is_int(dlv_maildir_find(md, "../x", NULL, 0, err, sizeof(err)),
	    KP_PERM, "a bad token is refused");
}

static const char *fsync_fail_what;
static int fsync_fail_errno;

static int
fsync_hook(const char *what)
{
	return fsync_fail_what != NULL && strcmp(what, fsync_fail_what) == 0 ?
	    fsync_fail_errno : 0;
}

static void
test_maildir_fsync(void)
{
	char md[PATH_MAX], err[DLV_ERR_MAX];
	struct dlv_info info = info_for("fs1", 0);
	struct dlv_where w;
	struct dlv_target t;
	struct dlv *h;
	int before;

	(void)util_strlcpy(md, t_path(scratch, "Maildir"), sizeof(md));
	before = count_dir(t_path(md, "new"), NULL, 0);
	dlv_test_fsync = fsync_hook;
	fsync_fail_what = "file";
	fsync_fail_errno = EIO;
	is_int(deliver(md, &info, S(msg1), 0, &w, err, sizeof(err)), KP_TEMP,
	    "fsync of the file fails: temporary");
	ok(strstr(err, "fsync") != NULL && strstr(err, "/tmp/") != NULL,
	    "... saying what and where: %s", err);
	is_int(count_dir(t_path(md, "tmp"), NULL, 0), 0, "... tmp/ cleaned");
	is_int(count_dir(t_path(md, "new"), NULL, 0), before,
	    "... nothing in new/");
	fsync_fail_what = "dir";
	fsync_fail_errno = ENOSPC;
	info.token = "fs2";
	is_int(deliver(md, &info, S(msg1), 0, &w, err, sizeof(err)), KP_TEMP,
	    "fsync of new/ fails (ENOSPC): temporary");
	ok(strstr(err, "/new") != NULL, "... naming new/: %s", err);
	is_int(count_dir(t_path(md, "tmp"), NULL, 0), 0, "... tmp/ cleaned");
	is_int(count_dir(t_path(md, "new"), NULL, 0), before,
	    "... and the file taken out of new/ again");
	is_int(dlv_maildir_find(md, "fs2", NULL, 0, err, sizeof(err)), 0,
	    "... so the token finds nothing");
	fsync_fail_what = NULL;
	dlv_test_fsync = NULL;

	info.token = "ab1";
	if (dlv_parse(md, &t, err, sizeof(err)) != KP_OK ||
	    dlv_open(&t, &info, &h, err, sizeof(err)) != KP_OK)
		bail("open: %s", err);
	if (dlv_write(h, S(msg1)) != KP_OK)
		bail("write: %s", dlv_error(h));
	dlv_abort(h);
	is_int(count_dir(t_path(md, "tmp"), NULL, 0), 0,
	    "abort removes the tmp/ file");
	is_int(count_dir(t_path(md, "new"), NULL, 0), before,
	    "... and delivers nothing");
	info.token = NULL;
	is_int(dlv_parse(md, &t, err, sizeof(err)) == KP_OK ?
	    dlv_open(&t, &info, &h, err, sizeof(err)) : -99, KP_PERM,
	    "a Maildir delivery needs a token");
}

/* ---- mbox ---- */

/* Lines that test the quoting, and what mboxrd makes of them. */
static const char quote_in[] =
    "Subject: quoting\n"
    "\n"
    "From the start\n"
    ">From once\n"
    ">>From twice\n"
    "From\n"
    "Fro\n"
    " From not at the start\n"
    ">>>Fromage\n"
    "From: a header-like line\n"
    ">\n"
    ">>\n"
    "last line without newline >From";
static const char quote_out[] =
    "Subject: quoting\n"
    "\n"
    ">From the start\n"
    ">>From once\n"
    ">>>From twice\n"
    "From\n"
    "Fro\n"
    " From not at the start\n"
    ">>>Fromage\n"
    "From: a header-like line\n"
    ">\n"
    ">>\n"
    "last line without newline >From\n"
    "\n";

static void
test_mbox_quote(void)
{
	char mb[PATH_MAX], spec[PATH_MAX + 8], err[DLV_ERR_MAX];
	char want[4096], *b;
	unsigned char md[DLV_SHA256_LEN];
	struct dlv_info info = info_for(NULL, 0);
	struct dlv_where w, w2;
	size_t len, first;

	(void)util_strlcpy(mb, t_path(scratch, "mbox-q"), sizeof(mb));
	(void)util_snprintf(spec, sizeof(spec), "mbox:%s", mb);
	if (!is_int(deliver(spec, &info, S(quote_in), 0, &w, err, sizeof(err)),
	    KP_OK, "mbox delivery"))
		return;
	(void)util_snprintf(want, sizeof(want), "From alice@example.org %s\n%s",
	    WHEN_TEXT, quote_out);
	b = t_slurp(mb, &len);
	is_string(b, want, "From_ line, mboxrd quoting, newline and blank "
	    "line added");
	ok(w.placed && w.offset == 0 && w.len == len, "placed at 0, length "
	    "%llu", w.len);
	sha256(b, len, md);
	ok(memcmp(md, w.sha256, sizeof(md)) == 0, "w.sha256 is the digest "
	    "of the appended bytes");
	first = len;
	free(b);

	info.sender = NULL;
	if (!is_int(deliver(spec, &info, S(quote_in), 1, &w2, err,
	    sizeof(err)), KP_OK, "second delivery, fed one byte at a time"))
		return;
	b = t_slurp(mb, &len);
	ok(w2.offset == first && w2.len == len - first, "appended after the "
	    "first (offset %llu)", w2.offset);
	(void)util_snprintf(want, sizeof(want), "From MAILER-DAEMON %s\n%s",
	    WHEN_TEXT, quote_out);
	ok(len > first && strcmp(b + first, want) == 0, "the same quoting "
	    "byte by byte; no sender: MAILER-DAEMON");
	free(b);
}

static void
test_mbox_ends(void)
{
	char mb[PATH_MAX], spec[PATH_MAX + 8], err[DLV_ERR_MAX], *b;
	struct dlv_info info = info_for(NULL, 0);
	struct dlv_where w;
	size_t len;

	(void)util_strlcpy(mb, t_path(scratch, "mbox-e"), sizeof(mb));
	t_put_file(mb, S("From x Mon Nov 24 16:00:00 2025\nno newline"));
	info.sender = "<bob@example.org>";
	(void)util_snprintf(spec, sizeof(spec), "mbox:%s", mb);
	if (!is_int(deliver(spec, &info, S("a\n"), 0, &w, err, sizeof(err)),
	    KP_OK, "append to an mbox that ends mid-line"))
		return;
	b = t_slurp(mb, &len);
	is_string(b, "From x Mon Nov 24 16:00:00 2025\nno newline\n\n"
	    "From bob@example.org " WHEN_TEXT "\na\n\n",
	    "a blank line is made before our From_ line; <> dropped");
	is_int((long long)w.offset, 44, "... outside the journalled range");
	free(b);
	info.sender = "two words";
	if (!is_int(deliver(spec, &info, S(""), 0, &w, err, sizeof(err)),
	    KP_OK, "an empty message"))
		return;
	b = t_slurp(mb, &len);
	ok(len > w.offset && strcmp(b + w.offset, "From MAILER-DAEMON "
	    WHEN_TEXT "\n\n") == 0, "... is a From_ line and a blank line; "
	    "a sender with a blank is MAILER-DAEMON");
	free(b);
}

/* Child: hold the dotlock of mbox until told, then release it. */
static void
hold_dotlock(const char *mb, int ready, unsigned int ms)
{
	char lock[PATH_MAX];
	int fd;

	(void)util_snprintf(lock, sizeof(lock), "%s.lock", mb);
	if ((fd = open(lock, O_WRONLY | O_CREAT | O_EXCL, 0644)) == -1)
		_exit(2);
	(void)close(fd);
	if (write(ready, "x", 1) != 1)
		_exit(3);
	util_sleep_ms(ms);
	(void)unlink(lock);
	_exit(0);
}

/* Child: hold an fcntl write lock on the mbox for ms. */
static void
hold_fcntl(const char *mb, int ready, unsigned int ms)
{
	struct flock fl;
	int fd;

	if ((fd = open(mb, O_RDWR | O_CREAT, 0600)) == -1)
		_exit(2);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) == -1 || write(ready, "x", 1) != 1)
		_exit(3);
	util_sleep_ms(ms);
	_exit(0);
}

/* Fork a lock holder; returns once it holds the lock. */
static pid_t
start_holder(void (*fn)(const char *, int, unsigned int), const char *mb,
    unsigned int ms)
{
	char c;
	int p[2];
	pid_t pid;

	if (pipe(p) == -1 || (pid = fork()) == -1)
		bail("pipe/fork: %s", strerror(errno));
	if (pid == 0) {
		(void)close(p[0]);
		fn(mb, p[1], ms);
	}
	(void)close(p[1]);
	if (read(p[0], &c, 1) != 1)
		bail("lock holder failed");
	(void)close(p[0]);
	return pid;
}

static void
test_mbox_locks(void)
{
	char mb[PATH_MAX], spec[PATH_MAX + 8], lock[PATH_MAX + 8];
	char err[DLV_ERR_MAX], text[64];
	struct dlv_info info = info_for(NULL, 5);
	struct timespec old[2];
	struct dlv_where w;
	long long t0, size;
	pid_t pid;

	(void)util_strlcpy(mb, t_path(scratch, "mbox-l"), sizeof(mb));
	(void)util_snprintf(spec, sizeof(spec), "mbox:%s", mb);
	(void)util_snprintf(lock, sizeof(lock), "%s.lock", mb);
	pid = start_holder(hold_dotlock, mb, 600);
	t0 = util_now_ms();
	is_int(deliver(spec, &info, S("m1\n"), 0, &w, err, sizeof(err)),
	    KP_OK, "a dotlock held for 0.6 s: waits, then delivers");
	ok(util_now_ms() - t0 >= 400, "... after waiting (%lld ms)",
	    util_now_ms() - t0);
	is_int(t_wait_exit(pid), 0, "... the holder was fine");
	ok(access(lock, F_OK) == -1, "... our dotlock is gone");

	size = t_file_size(mb);
	pid = start_holder(hold_fcntl, mb, 3000);
	info.lock_wait = 1;
	t0 = util_now_ms();
	is_int(deliver(spec, &info, S("m2\n"), 0, &w, err, sizeof(err)),
	    KP_TEMP, "an fcntl lock held past the timeout: temporary");
	ok(util_now_ms() - t0 >= 900 && util_now_ms() - t0 < 2900,
	    "... after about the timeout (%lld ms)", util_now_ms() - t0);
	ok(strstr(err, "locked") != NULL && strstr(err, mb) != NULL,
	    "... a clear message: %s", err);
	ok(access(lock, F_OK) == -1, "... no dotlock left behind");
	is_int(t_file_size(mb), size, "... and the mbox unchanged");
	(void)kill(pid, SIGKILL);
	(void)t_wait_exit(pid);

	t_put_file(lock, S("12345\n"));
	old[0].tv_sec = old[1].tv_sec = time(NULL) - DOTLOCK_STALE - 60;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, lock, old, 0) == -1)
		bail("utimensat: %s", strerror(errno));
	t0 = util_now_ms();
	is_int(deliver(spec, &info, S("m3\n"), 0, &w, err, sizeof(err)),
	    KP_OK, "a stale dotlock is broken");
	ok(util_now_ms() - t0 < 900 && access(lock, F_OK) == -1,
	    "... at once, and ours removed after");

	if ((pid = fork()) == 0)
		_exit(0);
	(void)t_wait_exit(pid);
	if (gethostname(text, sizeof(text)) == -1)
		bail("gethostname");
	text[sizeof(text) - 1] = '\0';
	{
		char dl[128];

		(void)util_snprintf(dl, sizeof(dl), "%ld kpop %s\n",
		    (long)pid, text);
		t_put_file(lock, dl, strlen(dl));
	}
	t0 = util_now_ms();
	is_int(deliver(spec, &info, S("m4\n"), 0, &w, err, sizeof(err)),
	    KP_OK, "a fresh dotlock of a kpop that is gone is broken");
	ok(util_now_ms() - t0 < 900, "... at once");

	/*
	 * A kpop that made its dotlock with O_EXCL and was killed before it
	 * wrote its pid left it empty: a minute later, with nobody holding
	 * the mbox's fcntl lock, it no longer blocks delivery (it used to
	 * for DOTLOCK_STALE, 5 minutes).
	 */
	t_put_file(lock, S(""));
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 60;
	if (utimensat(AT_FDCWD, lock, old, 0) == -1)
		bail("utimensat: %s", strerror(errno));
	info.lock_wait = 1;
	t0 = util_now_ms();
	is_int(deliver(spec, &info, S("m5\n"), 0, &w, err, sizeof(err)),
	    KP_OK, "an empty dotlock left a minute ago by a killed kpop is "
	    "broken (%s)", err);
	ok(util_now_ms() - t0 < 900 && access(lock, F_OK) == -1,
	    "... at once, and ours removed after");
}

/* Child: deliver a 6 KiB message under a file size limit. */
static int
fsize_child(const char *spec, const char *mb)
{
	char err[DLV_ERR_MAX], msg[6 * 1024];
	struct dlv_info info = info_for(NULL, 0);
	struct dlv_where w;
	struct rlimit rl;
	long long size = t_file_size(mb);
	int rc;

	memset(msg, 'x', sizeof(msg));
	msg[sizeof(msg) - 1] = '\n';
	(void)signal(SIGXFSZ, SIG_IGN);
	rl.rlim_cur = rl.rlim_max = (rlim_t)size + 1000;
	if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
		return 10;
	rc = deliver(spec, &info, msg, sizeof(msg), 1000, &w, err,
	    sizeof(err));
	if (rc != KP_TEMP)
		return 11;
	if (strstr(err, "write") == NULL || strstr(err, mb) == NULL)
		return 12;
	return t_file_size(mb) == size ? 0 : 13;
}

static void
test_mbox_truncate(void)
{
	char mb[PATH_MAX], spec[PATH_MAX + 8], big[20 * 1024], *before, *after;
	size_t blen, alen;
	pid_t pid;

	(void)util_strlcpy(mb, t_path(scratch, "mbox-t"), sizeof(mb));
	(void)util_snprintf(spec, sizeof(spec), "mbox:%s", mb);
	memset(big, 'y', sizeof(big));
	memcpy(big, "From z " WHEN_TEXT "\n", 32);
	big[sizeof(big) - 2] = big[sizeof(big) - 1] = '\n';
	t_put_file(mb, big, sizeof(big));
	before = t_slurp(mb, &blen);
	if ((pid = fork()) == 0)
		_exit(fsize_child(spec, mb));
	is_int(t_wait_exit(pid), 0, "an append cut short by RLIMIT_FSIZE: "
	    "temporary, and the mbox truncated back (child's view)");
	after = t_slurp(mb, &alen);
	is_blob(after, alen, before, blen, "the mbox is as it was");
	free(before);
	free(after);
}

static void
test_mbox_check(void)
{
	char mb[PATH_MAX], spec[PATH_MAX + 8], err[DLV_ERR_MAX];
	unsigned char bad[DLV_SHA256_LEN];
	struct dlv_info info = info_for(NULL, 0);
	struct dlv_where w, w2;
	long long end;

	(void)util_strlcpy(mb, t_path(scratch, "mbox-c"), sizeof(mb));
	(void)util_snprintf(spec, sizeof(spec), "mbox:%s", mb);
	if (deliver(spec, &info, S(msg1), 0, &w2, err, sizeof(err)) != KP_OK ||
	    deliver(spec, &info, S(quote_in), 0, &w, err, sizeof(err)) !=
	    KP_OK)
		bail("deliver: %s", err);
	end = t_file_size(mb);
	is_int(dlv_mbox_check(mb, w.offset, w.len, w.sha256, err,
	    sizeof(err)), DLV_PRESENT, "check: present");
	is_int(dlv_mbox_check(mb, w2.offset, w2.len, w2.sha256, err,
	    sizeof(err)), DLV_PRESENT, "check: the first one too");
	memcpy(bad, w.sha256, sizeof(bad));
	bad[0] ^= 1;
	is_int(dlv_mbox_check(mb, w.offset, w.len, bad, err, sizeof(err)),
	    DLV_ABSENT, "check: another digest is absent");
	is_int(dlv_mbox_check(mb, (unsigned long long)end, 50, w.sha256, err,
	    sizeof(err)), DLV_ABSENT, "check: at the end of the file: absent");
	is_int(dlv_mbox_check(t_path(scratch, "no-mbox"), 0, 10, w.sha256,
	    err, sizeof(err)), DLV_ABSENT, "check: no file: absent");
	is_int(dlv_mbox_unappend(mb, w.offset, w.len, 1, err, sizeof(err)),
	    KP_PERM, "unappend of a whole message is refused");
	is_int(t_file_size(mb), end, "... and the file left alone");

	if (truncate(mb, (off_t)(w.offset + w.len - 10)) == -1)
		bail("truncate: %s", strerror(errno));
	is_int(dlv_mbox_check(mb, w.offset, w.len, w.sha256, err,
	    sizeof(err)), DLV_PARTIAL, "check: a torn append is partial");
	is_int(dlv_mbox_unappend(mb, w.offset, w.len, 1, err, sizeof(err)),
	    KP_OK, "unappend removes it");
	is_int(t_file_size(mb), (long long)w.offset, "... back to its offset");
	is_int(dlv_mbox_check(mb, w2.offset, w2.len, w2.sha256, err,
	    sizeof(err)), DLV_PRESENT, "... the message before it intact");
	is_int(dlv_mbox_unappend(mb, w.offset, w.len, 1, err, sizeof(err)),
	    KP_OK, "unappend again: nothing there, fine");
	if (deliver(spec, &info, S(msg1), 0, &w, err, sizeof(err)) != KP_OK ||
	    truncate(mb, (off_t)(w.offset + 3)) == -1)
		bail("deliver/truncate: %s", err);
	is_int(dlv_mbox_check(mb, w.offset, w.len, w.sha256, err,
	    sizeof(err)), DLV_PARTIAL, "check: torn after \"Fro\": partial");
	ok(dlv_mbox_unappend(mb, w.offset, w.len, 1, err, sizeof(err)) ==
	    KP_OK && t_file_size(mb) == (long long)w.offset,
	    "... and removed");

	/* A torn append with someone else's short message after it. */
	if (deliver(spec, &info, S(quote_in), 0, &w, err, sizeof(err)) !=
	    KP_OK || truncate(mb, (off_t)(w.offset + 40)) == -1)
		bail("deliver/truncate: %s", err);
	{
		int fd = open(mb, O_WRONLY | O_APPEND);

		if (fd == -1 || write(fd, S("\n\nFrom other x\nhi\n\n")) == -1)
			bail("append: %s", strerror(errno));
		(void)close(fd);
	}
	end = t_file_size(mb);
	ok(end < (long long)(w.offset + w.len), "(the file still ends inside "
	    "the range)");
	is_int(dlv_mbox_unappend(mb, w.offset, w.len, 1, err, sizeof(err)),
	    KP_PERM, "unappend with other mail after it: refused");
	ok(strstr(err, "other mail follows") != NULL, "... saying why: %s",
	    err);
	is_int(t_file_size(mb), end, "... and the file left alone");
}

/* ---- MDA ---- */

static int
deliver_mda(const char *cmd, const char *msg, size_t len, char *err,
    size_t errlen)
{
	char spec[PATH_MAX * 2];
	struct dlv_info info = info_for("mdatok", 0);
	struct dlv_where w;

	(void)util_snprintf(spec, sizeof(spec), "mda:%s", cmd);
	return deliver(spec, &info, msg, len, 777, &w, err, errlen);
}

static void
test_mda(void)
{
	char cmd[PATH_MAX * 2], out[PATH_MAX], err[DLV_ERR_MAX], *b, *big;
	size_t len, bigl = 1024 * 1024;

	(void)util_strlcpy(out, t_path(scratch, "mda-out"), sizeof(out));
	(void)util_snprintf(cmd, sizeof(cmd), "cat > '%s'", out);
	is_int(deliver_mda(cmd, S(quote_in), err, sizeof(err)), KP_OK,
	    "mda: cat > file delivers");
	b = t_slurp(out, &len);
	is_blob(b, len, quote_in, sizeof(quote_in) - 1,
	    "... the bytes as fed, unquoted");
	free(b);
	(void)util_snprintf(cmd, sizeof(cmd), "cat >/dev/null; printf "
	    "'%%s|%%s|%%s|%%s' \"$KPOP_UIDL\" \"$KPOP_TOKEN\" "
	    "\"$KPOP_SENDER\" \"$KPOP_ACCOUNT\" > '%s'", out);
	is_int(deliver_mda(cmd, S(msg1), err, sizeof(err)), KP_OK,
	    "mda: environment");
	b = t_slurp(out, &len);
	is_string(b, "uidl-1|mdatok|alice@example.org|"
	    "alice@pop.example.org:110", "... KPOP_UIDL, KPOP_TOKEN, "
	    "KPOP_SENDER, KPOP_ACCOUNT");
	free(b);
	is_int(deliver_mda("cat >/dev/null; exit 75", S(msg1), err,
	    sizeof(err)), KP_TEMP, "mda: exit 75 is temporary");
	ok(strstr(err, "75") != NULL, "... %s", err);
	is_int(deliver_mda("cat >/dev/null; exit 1", S(msg1), err,
	    sizeof(err)), KP_PERM, "mda: exit 1 is permanent");
	is_int(deliver_mda("kill -9 $$", S(msg1), err, sizeof(err)), KP_TEMP,
	    "mda: killed by a signal is temporary");
	ok(strstr(err, "signal 9") != NULL, "... reported: %s", err);
	is_int(deliver_mda("/nonexistent/mda 2>/dev/null", S(msg1), err,
	    sizeof(err)), KP_PERM, "mda: not found is permanent");
	ok(strstr(err, "127") != NULL, "... %s", err);

	if ((big = malloc(bigl)) == NULL)
		bail("malloc");
	memset(big, 'z', bigl);
	big[bigl - 1] = '\n';
	is_int(deliver_mda("wc -c > /dev/null", big, bigl, err, sizeof(err)),
	    KP_OK, "mda: a 1 MiB message through the pipe");
	is_int(deliver_mda("head -c 10 > /dev/null", big, bigl, err,
	    sizeof(err)), KP_TEMP, "mda: exit 0 without reading it all is "
	    "temporary, and SIGPIPE did not kill us");
	ok(strstr(err, "without reading") != NULL, "... %s", err);
	is_int(deliver_mda("exit 1", big, bigl, err, sizeof(err)), KP_PERM,
	    "mda: exit 1 before reading is still permanent");
	free(big);
}

static void
test_mda_abort(void)
{
	char spec[PATH_MAX * 2], done[PATH_MAX], err[DLV_ERR_MAX];
	struct dlv_info info = info_for(NULL, 0);
	struct dlv_target t;
	struct dlv *h;

	(void)util_strlcpy(done, t_path(scratch, "mda-done"), sizeof(done));
	(void)util_snprintf(spec, sizeof(spec), "mda:cat > /dev/null; "
	    "touch '%s'", done);
	if (dlv_parse(spec, &t, err, sizeof(err)) != KP_OK ||
	    dlv_open(&t, &info, &h, err, sizeof(err)) != KP_OK)
		bail("mda open: %s", err);
	if (dlv_write(h, S(msg1)) != KP_OK)
		bail("mda write: %s", dlv_error(h));
	util_sleep_ms(100);
	dlv_abort(h);
	util_sleep_ms(100);
	ok(access(done, F_OK) == -1, "mda: abort kills it before it sees "
	    "the end of its input");
}

/* ---- stdout ---- */

static int
stdout_child(const char *path)
{
	char err[DLV_ERR_MAX];
	struct dlv_info info = info_for(NULL, 0);
	struct dlv_where w;
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    dup2(fd, STDOUT_FILENO) == -1)
		return 10;
	return deliver("-", &info, S(quote_in), 5, &w, err, sizeof(err)) ==
	    KP_OK ? 0 : 11;
}

static void
test_stdout(void)
{
	char out[PATH_MAX], *b;
	size_t len;
	pid_t pid;

	(void)util_strlcpy(out, t_path(scratch, "stdout"), sizeof(out));
	fflush(stdout);
	if ((pid = fork()) == 0)
		_exit(stdout_child(out));
	is_int(t_wait_exit(pid), 0, "stdout: delivered");
	b = t_slurp(out, &len);
	is_blob(b, len, quote_in, sizeof(quote_in) - 1, "... as is");
	free(b);
}

int
main(void)
{
	int fds;

	plan_lazy();
	fds = t_count_fds();
	if (setenv("TZ", "UTC", 1) == -1)
		bail("setenv");
	tzset();
	scratch = t_scratch("deliver-t");
	test_parse();
	test_maildir();
	test_maildir_find();
	test_maildir_fsync();
	test_mbox_quote();
	test_mbox_ends();
	test_mbox_locks();
	test_mbox_truncate();
	test_mbox_check();
	test_mda();
	test_mda_abort();
	test_stdout();
	if (fds == -1)
		skip("no /proc/self/fd: descriptor leak check");
	else
		is_int(t_count_fds(), fds, "no descriptor leaked");
	t_scratch_done();
	return 0;
}
