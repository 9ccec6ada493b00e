/* SPDX-License-Identifier: MIT */
/*
 * tests/kpop/state-t.c: tests for kpop/state.c, on real files in a
 * scratch directory: account ids (the mapping, no escape from the state
 * directory, long ids), UIDL validity, records replayed across a reopen,
 * transitions refused, a torn last journal record ignored and cut off, a
 * corrupt one in the middle refused, compaction (the same view before,
 * after and after a reopen; a stale journal after a crash mid-way; a
 * large journal folded at open; forgetting what the server no longer
 * has), the wholesale-change rule, the account lock (a forked child is
 * refused at once or after a bounded wait, gets it once it is released,
 * and opens another account freely), recovery of pending deliveries to
 * a Maildir, an mbox and an MDA, and a writer SIGKILLed at random
 * instants, 200 times: every record it reported durable must be there.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>
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

#include "common/pop3.h"
#include "common/util.h"
#include "kpop/deliver.h"
#include "kpop/state.h"
#include "tap/basic.h"
#include "tap/files.h"

/* A string literal as its bytes and length, without the NUL. */
#define S(x)	x, sizeof(x) - 1

/* Rounds of the crash test, and its writer's longest life in ms. */
#define CRASH_ROUNDS	200
#define CRASH_MAX_MS	15

static int
uidl_ok(const char *uidl)
{
	return pop3_uidl_ok(uidl, strlen(uidl));
}

static const char *scratch;
static char base[PATH_MAX];	/* the state directory for most tests */

/* ---- helpers ---- */

/* Open account id under base, bailing out on failure. */
static struct st *
open_ok(const char *id)
{
	char err[DLV_ERR_MAX];
	struct st *st;

	if (st_open(base, id, 0, &st, err, sizeof(err)) != KP_OK)
		bail("st_open %s: %s", id, err);
	return st;
}

static struct dlv_where
where_maildir(const char *dir, const char *token)
{
	struct dlv_where w;

	memset(&w, 0, sizeof(w));
	w.kind = DLV_MAILDIR;
	(void)util_strlcpy(w.arg, dir, sizeof(w.arg));
	(void)util_strlcpy(w.token, token, sizeof(w.token));
	return w;
}

static struct dlv_where
where_mbox(const char *path, unsigned long long off, unsigned long long len)
{
	struct dlv_where w;
	size_t i;

	memset(&w, 0, sizeof(w));
	w.kind = DLV_MBOX;
	(void)util_strlcpy(w.arg, path, sizeof(w.arg));
	w.placed = 1;
	w.offset = off;
	w.len = len;
	w.size = len / 2;
	for (i = 0; i < sizeof(w.sha256); i++)
		w.sha256[i] = (unsigned char)(i * 7 + off);
	return w;
}

/* Record uidl as delivered (intent first), bailing out on failure. */
static void
put_delivered(struct st *st, const char *uidl)
{
	struct dlv_where w = where_maildir("/m", "t");
	char err[DLV_ERR_MAX];

	if (st_intent(st, uidl, &w, err, sizeof(err)) != KP_OK ||
	    st_delivered(st, uidl, &w, err, sizeof(err)) != KP_OK)
		bail("put_delivered %s: %s", uidl, err);
}

static void
put_kept(struct st *st, const char *uidl)
{
	char err[DLV_ERR_MAX];

	put_delivered(st, uidl);
	if (st_kept(st, uidl, err, sizeof(err)) != KP_OK)
		bail("put_kept %s: %s", uidl, err);
}

static void
put_deleted(struct st *st, const char *uidl)
{
	char err[DLV_ERR_MAX];

	put_delivered(st, uidl);
	if (st_deleted(st, &uidl, 1, err, sizeof(err)) != KP_OK)
		bail("put_deleted %s: %s", uidl, err);
}

/* ---- a view of the whole state, to compare ---- */

struct view {
	char	**v;
	size_t	 n, cap;
};

static int
view_one(void *arg, const char *uidl, enum st_status s,
    const struct dlv_where *w)
{
	struct view *vw = arg;
	char line[2 * DLV_ARG_MAX], sha[2 * DLV_SHA256_LEN + 1];
	size_t i;

	if (vw->n == vw->cap) {
		vw->cap = vw->cap == 0 ? 64 : vw->cap * 2;
		if ((vw->v = realloc(vw->v, vw->cap * sizeof(*vw->v))) == NULL)
			bail("realloc");
	}
	if (w == NULL)
		(void)util_snprintf(line, sizeof(line), "%s %d", uidl, (int)s);
	else {
		for (i = 0; i < DLV_SHA256_LEN; i++)
			(void)snprintf(sha + 2 * i, 3, "%02x", w->sha256[i]);
		(void)util_snprintf(line, sizeof(line), "%s %d %d %s %llu %d "
		    "%llu %llu %s %s %s", uidl, (int)s, (int)w->kind, w->token,
		    w->size, w->placed, w->offset, w->len, sha, w->arg,
		    w->name);
	}
	if ((vw->v[vw->n++] = strdup(line)) == NULL)
		bail("strdup");
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* All entries, sorted, one a line; the caller frees it. */
static char *
view(const struct st *st)
{
	struct view vw = { NULL, 0, 0 };
	size_t i, len = 1;
	char *out;

	(void)st_each(st, view_one, &vw);
	if (vw.n > 0)
		qsort(vw.v, vw.n, sizeof(*vw.v), cmp_str);
	for (i = 0; i < vw.n; i++)
		len += strlen(vw.v[i]) + 1;
	if ((out = malloc(len)) == NULL)
		bail("malloc");
	out[0] = '\0';
	for (i = 0; i < vw.n; i++) {
		strcat(out, vw.v[i]);
		strcat(out, "\n");
		free(vw.v[i]);
	}
	free(vw.v);
	return out;
}

/* ---- account ids ---- */

static void
test_ids(void)
{
	char id[ST_ID_MAX + 1], id2[ST_ID_MAX + 1], err[DLV_ERR_MAX];
	char user[ST_NAME_IN_MAX + 1];
	struct stat sb;
	struct st *st;

	ok(st_account_id("alice", "POP.Example.ORG", 110, id, sizeof(id)) ==
	    KP_OK && strcmp(id, "alice@pop.example.org:110") == 0,
	    "id: user@host:port, host in lower case");
	if (st_account_id("../x", "h", 1, id, sizeof(id)) != KP_OK)
		id[0] = '\0';
	is_string(id, "%2E.%2Fx@h:1", "id: ../x, with no / and no leading .");
	if (st_account_id("a@b", "c", 2, id, sizeof(id)) != KP_OK ||
	    st_account_id("a", "b@c", 2, id2, sizeof(id2)) != KP_OK)
		id[0] = id2[0] = '\0';
	ok(id[0] != '\0' && strcmp(id, id2) != 0, "id: a@b at c is not a at "
	    "b@c (%s, %s)", id, id2);
	if (st_account_id("u", "::1", 995, id, sizeof(id)) != KP_OK)
		id[0] = '\0';
	is_string(id, "u@%3A%3A1:995", "id: an IPv6 host");
	ok(st_account_id("u", "h", 0, id, sizeof(id)) == KP_TEMP &&
	    st_account_id("u", "h", 65536, id, sizeof(id)) == KP_TEMP &&
	    st_account_id("", "h", 1, id, sizeof(id)) == KP_TEMP &&
	    st_account_id("u", "", 1, id, sizeof(id)) == KP_TEMP,
	    "id: bad port, empty user or host refused");
	memset(user, 'a', ST_NAME_IN_MAX);
	user[ST_NAME_IN_MAX] = '\0';
	if (st_account_id(user, "h", 1, id, sizeof(id)) != KP_OK)
		id[0] = '\0';
	ok(strlen(id) > 100 && strlen(id) <= ST_ID_MAX &&
	    strchr(id, '~') != NULL, "id: a long one is cut and hashed (%zu)",
	    strlen(id));
	user[ST_NAME_IN_MAX - 1] = 'b';
	ok(st_account_id(user, "h", 1, id2, sizeof(id2)) == KP_OK &&
	    strcmp(id, id2) != 0, "id: ... and still tells accounts apart");
	memset(user, '/', ST_NAME_IN_MAX);
	ok(st_account_id(user, "h", 1, id, sizeof(id)) == KP_OK &&
	    strchr(id, '/') == NULL && strlen(id) <= ST_ID_MAX,
	    "id: cutting does not leave half a %%XX or a slash");

	is_int(st_open(base, "../x", 0, &st, err, sizeof(err)), KP_TEMP,
	    "st_open refuses ../x as an id");
	is_int(st_open(base, "..", 0, &st, err, sizeof(err)), KP_TEMP,
	    "... and ..");
	is_int(st_open(base, "a/b", 0, &st, err, sizeof(err)), KP_TEMP,
	    "... and a/b");
	is_int(st_open(base, "", 0, &st, err, sizeof(err)), KP_TEMP,
	    "... and the empty id");
	if (st_account_id("../x", "h", 1, id, sizeof(id)) != KP_OK ||
	    !is_int(st_open(base, id, 0, &st, err, sizeof(err)), KP_OK,
	    "st_open of the id made from ../x"))
		return;
	is_string(st_dir(st), t_path(base, id), "... is a directory inside "
	    "the state directory");
	ok(stat(st_dir(st), &sb) == 0 && S_ISDIR(sb.st_mode) &&
	    (sb.st_mode & 0777) == 0700, "... mode 0700");
	ok(access(t_path(scratch, "x"), F_OK) == -1, "... and nothing "
	    "outside it");
	st_close(st);
}

/* st_default_dir from XDG_STATE_HOME, else HOME; restored after. */
static void
test_default_dir(void)
{
	char dir[PATH_MAX], err[DLV_ERR_MAX], want[PATH_MAX];
	char *home = getenv("HOME"), *xdg = getenv("XDG_STATE_HOME");
	char *save_home = home != NULL ? strdup(home) : NULL;
	char *save_xdg = xdg != NULL ? strdup(xdg) : NULL;

	if (setenv("XDG_STATE_HOME", "/x/state", 1) == -1 ||
	    setenv("HOME", "/h", 1) == -1)
		bail("setenv");
	ok(st_default_dir(dir, sizeof(dir), err, sizeof(err)) == KP_OK &&
	    strcmp(dir, "/x/state/kpop") == 0,
	    "state dir: $XDG_STATE_HOME/kpop");
	if (setenv("XDG_STATE_HOME", "relative", 1) == -1)
		bail("setenv");
	(void)util_strlcpy(want, "/h/.local/state/kpop", sizeof(want));
	ok(st_default_dir(dir, sizeof(dir), err, sizeof(err)) == KP_OK &&
	    strcmp(dir, want) == 0, "state dir: a relative XDG_STATE_HOME is "
	    "ignored: $HOME/.local/state/kpop");
	if (save_home != NULL)
		(void)setenv("HOME", save_home, 1);
	if (save_xdg != NULL)
		(void)setenv("XDG_STATE_HOME", save_xdg, 1);
	else
		(void)unsetenv("XDG_STATE_HOME");
	free(save_home);
	free(save_xdg);
}

static void
test_uidls(void)
{
	char u70[71], u71[72];

	memset(u70, 'u', 70);
	u70[70] = '\0';
	memset(u71, 'u', 71);
	u71[71] = '\0';
	ok(uidl_ok("a") && uidl_ok(u70) && uidl_ok("!~"),
	    "UIDLs of 1 and 70 characters 0x21-0x7E are valid");
	ok(!uidl_ok("") && !uidl_ok(u71) &&
	    !uidl_ok("a b") && !uidl_ok("a\x7f") &&
	    !uidl_ok("\xc3\xa9") && !uidl_ok("a\tb"),
	    "empty, 71 characters, space, DEL, 8-bit, tab are not");
}

/* ---- records ---- */

static void
test_replay(void)
{
	struct dlv_where wm = where_maildir("/home/a/Mail dir/", "tok-1");
	struct dlv_where wb = where_mbox("/var/mail/a%b", 1234, 567);
	struct dlv_where wp;
	const struct dlv_where *w;
	const char *u3 = "u3";
	char err[DLV_ERR_MAX], *v1, *v2;
	struct st *st;

	memset(&wp, 0, sizeof(wp));
	wp.kind = DLV_MDA;
	(void)util_strlcpy(wp.arg, "-", sizeof(wp.arg));
	st = open_ok("replay@h:1");
	ok(st_intent(st, "u1", &wm, err, sizeof(err)) == KP_OK &&
	    st_get(st, "u1", &w) == ST_PENDING && w != NULL &&
	    strcmp(w->token, "tok-1") == 0, "intent: pending");
	ok(st_delivered(st, "u1", &wm, err, sizeof(err)) == KP_OK &&
	    st_kept(st, "u1", err, sizeof(err)) == KP_OK &&
	    st_get(st, "u1", NULL) == ST_KEPT, "delivered, kept");
	ok(st_intent(st, "u2", &wm, err, sizeof(err)) == KP_OK &&
	    st_intent(st, "u2", &wb, err, sizeof(err)) == KP_OK,
	    "intent, refined with an mbox place");
	ok(st_intent(st, u3, &wm, err, sizeof(err)) == KP_OK &&
	    st_delivered(st, u3, NULL, err, sizeof(err)) == KP_OK &&
	    st_deleted(st, &u3, 1, err, sizeof(err)) == KP_OK &&
	    st_get(st, u3, NULL) == ST_DELETED, "delivered, deleted");
	ok(st_intent(st, "u4", &wp, err, sizeof(err)) == KP_OK &&
	    st_forget(st, "u4", err, sizeof(err)) == KP_OK &&
	    st_get(st, "u4", NULL) == ST_UNKNOWN, "intent, forgotten");
	ok(st_intent(st, "u5", &wp, err, sizeof(err)) == KP_OK,
	    "intent with an MDA whose command is \"-\"");
	v1 = view(st);
	st_close(st);
	st = open_ok("replay@h:1");
	v2 = view(st);
	is_string(v2, v1, "the same view after a reopen");
	is_int((long long)st_count(st), 4, "four entries");
	ok(st_get(st, "u2", &w) == ST_PENDING && w != NULL &&
	    w->kind == DLV_MBOX && w->placed && w->offset == 1234 &&
	    w->len == 567 &&
	    memcmp(w->sha256, wb.sha256, DLV_SHA256_LEN) == 0 &&
	    strcmp(w->arg, "/var/mail/a%b") == 0, "u2's mbox place replayed");
	ok(st_get(st, "u5", &w) == ST_PENDING && w != NULL &&
	    strcmp(w->arg, "-") == 0 && w->kind == DLV_MDA, "u5's \"-\" kept");
	free(v1);
	free(v2);
	st_close(st);
}

static void
test_transitions(void)
{
	struct dlv_where wm = where_maildir("/m", "t1");
	const char *bad[] = { "ok1", "bad uidl" };
	char err[DLV_ERR_MAX], u71[72];
	struct st *st;

	memset(u71, 'u', 71);
	u71[71] = '\0';
	st = open_ok("trans@h:1");
	is_int(st_delivered(st, "x1", &wm, err, sizeof(err)), KP_TEMP,
	    "delivered without an intent: refused");
	put_delivered(st, "ok1");
	is_int(st_intent(st, "ok1", &wm, err, sizeof(err)), KP_TEMP,
	    "intent for a delivered message: refused");
	ok(strstr(err, "ok1") != NULL, "... %s", err);
	is_int(st_forget(st, "ok1", err, sizeof(err)), KP_TEMP,
	    "forget a delivered message: refused");
	put_deleted(st, "r1");
	ok(st_intent(st, "r1", &wm, err, sizeof(err)) == KP_OK &&
	    st_get(st, "r1", NULL) == ST_PENDING,
	    "intent for a deleted message (a UIDL the server reused): "
	    "allowed");
	if (st_delivered(st, "r1", &wm, err, sizeof(err)) != KP_OK)
		bail("delivered r1: %s", err);
	if (st_intent(st, "p1", &wm, err, sizeof(err)) != KP_OK)
		bail("intent: %s", err);
	is_int(st_deleted(st, (const char *[]){ "p1" }, 1, err, sizeof(err)),
	    KP_TEMP, "deleted while pending: refused");
	is_int(st_kept(st, "p1", err, sizeof(err)), KP_TEMP,
	    "kept while pending: refused");
	is_int(st_intent(st, "bad uidl", &wm, err, sizeof(err)), KP_TEMP,
	    "a UIDL with a space: refused");
	ok(strstr(err, "UIDL") != NULL, "... %s", err);
	is_int(st_intent(st, u71, &wm, err, sizeof(err)), KP_TEMP,
	    "a UIDL of 71 characters: refused");
	is_int(st_deleted(st, bad, 2, err, sizeof(err)), KP_TEMP,
	    "deleted with one bad UIDL in the batch: refused");
	is_int(st_get(st, "ok1", NULL), ST_DELIVERED, "... and none applied");
	wm.token[0] = '\0';
	is_int(st_intent(st, "m1", &wm, err, sizeof(err)), KP_TEMP,
	    "a Maildir intent without a token: refused");
	is_int(st_delivered(st, "ok1", NULL, err, sizeof(err)), KP_OK,
	    "delivered again: nothing to do");
	st_close(st);
}

/* st_import: what another client kept becomes ST_KEPT, nothing else. */
static void
test_import(void)
{
	const char *in[] = { "i1", "i2", "i1", "bad uidl", "d1", "x1" };
	char err[DLV_ERR_MAX];
	struct st *st;
	size_t added;

	st = open_ok("import@h:1");
	put_delivered(st, "d1");
	put_deleted(st, "x1");
	ok(st_import(st, in, 6, &added, err, sizeof(err)) == KP_OK &&
	    added == 2, "import: 2 new entries (a repeat, a bad UIDL and "
	    "known ones skipped)");
	ok(st_get(st, "i1", NULL) == ST_KEPT &&
	    st_get(st, "i2", NULL) == ST_KEPT, "... kept");
	ok(st_get(st, "d1", NULL) == ST_DELIVERED &&
	    st_get(st, "x1", NULL) == ST_DELETED,
	    "... kpop's own records left as they were");
	ok(st_import(st, in, 6, &added, err, sizeof(err)) == KP_OK &&
	    added == 0, "importing again adds nothing");
	st_close(st);
	st = open_ok("import@h:1");
	ok(st_get(st, "i2", NULL) == ST_KEPT, "import: durable");
	st_close(st);
}

static void
test_torn(void)
{
	char err[DLV_ERR_MAX], jpath[PATH_MAX], *j, *last;
	struct dlv_where wm = where_maildir("/m", "t1");
	long long size;
	size_t len;
	struct st *st;

	st = open_ok("torn@h:1");
	put_delivered(st, "a1");
	if (st_intent(st, "a2", &wm, err, sizeof(err)) != KP_OK)
		bail("intent: %s", err);
	(void)util_strlcpy(jpath, t_path(st_dir(st), "journal"), sizeof(jpath));
	st_close(st);
	size = t_file_size(jpath);
	t_append_file(jpath, S("D a2 m t1 0 - - - /m - 1234"));
	if (!is_int(st_open(base, "torn@h:1", 0, &st, err, sizeof(err)),
	    KP_OK, "a torn last record (no LF): the open works"))
		return;
	is_int(st_get(st, "a2", NULL), ST_PENDING, "... the record is ignored");
	is_int(t_file_size(jpath), size, "... and cut off the journal");
	ok(st_delivered(st, "a2", &wm, err, sizeof(err)) == KP_OK,
	    "a record after it");
	st_close(st);
	st = open_ok("torn@h:1");
	is_int(st_get(st, "a2", NULL), ST_DELIVERED, "... survives a reopen");
	st_close(st);

	size = t_file_size(jpath);
	t_append_file(jpath, S("X a2 00000000\n"));
	if (!is_int(st_open(base, "torn@h:1", 0, &st, err, sizeof(err)),
	    KP_OK, "a last record with a bad CRC: the open works"))
		return;
	is_int(st_get(st, "a2", NULL), ST_DELIVERED, "... it is ignored");
	is_int(t_file_size(jpath), size, "... and cut off");
	st_close(st);

	/* A bad record with a good one after it is not a torn write. */
	j = t_slurp(jpath, &len);
	last = j + len - 1;
	while (last > j && last[-1] != '\n')
		last--;
	t_append_file(jpath, S("X a2 00000000\n"));
	t_append_file(jpath, last, (size_t)(j + len - last));
	is_int(st_open(base, "torn@h:1", 0, &st, err, sizeof(err)), KP_TEMP,
	    "a bad record in the middle: corrupt, refused");
	ok(strstr(err, "corrupt") != NULL, "... %s", err);
	t_put_file(jpath, j, len);
	free(j);
	st = open_ok("torn@h:1");
	st_close(st);
}

/* A journal whose header a crash tore: the open starts it over. */
static void
test_torn_header(void)
{
	char jpath[PATH_MAX];
	struct st *st;

	st = open_ok("torn-head@h:1");
	put_kept(st, "h1");
	if (st_compact(st, NULL, 0, (char[DLV_ERR_MAX]){ 0 }, DLV_ERR_MAX) !=
	    KP_OK)
		bail("compact");
	(void)util_strlcpy(jpath, t_path(st_dir(st), "journal"), sizeof(jpath));
	st_close(st);
	if (truncate(jpath, 2) == -1)
		bail("truncate: %s", strerror(errno));
	st = open_ok("torn-head@h:1");
	put_deleted(st, "h2");
	st_close(st);
	st = open_ok("torn-head@h:1");
	ok(st_get(st, "h1", NULL) == ST_KEPT &&
	    st_get(st, "h2", NULL) == ST_DELETED, "a torn journal header: "
	    "started over, and records after it survive a reopen");
	st_close(st);
}

/*
 * Child: journal writes fail (RLIMIT_FSIZE): nothing may change, the
 * journal is cut back, and records work again once writes do.
 */
static int
fsize_child(void)
{
	struct dlv_where w = where_maildir("/m", "t");
	char err[DLV_ERR_MAX], jpath[PATH_MAX];
	struct rlimit rl, lim;
	struct st *st;
	long long size;

	(void)signal(SIGXFSZ, SIG_IGN);
	st = open_ok("fsize@h:1");
	put_delivered(st, "f1");
	(void)util_strlcpy(jpath, t_path(st_dir(st), "journal"), sizeof(jpath));
	size = t_file_size(jpath);
	if (getrlimit(RLIMIT_FSIZE, &rl) == -1)
		return 10;
	lim = rl;
	lim.rlim_cur = (rlim_t)size + 10;
	if (setrlimit(RLIMIT_FSIZE, &lim) == -1)
		return 11;
	if (st_intent(st, "f2", &w, err, sizeof(err)) != KP_TEMP ||
	    strstr(err, "journal") == NULL)
		return 12;
	if (st_get(st, "f2", NULL) != ST_UNKNOWN || t_file_size(jpath) != size)
		return 13;
	if (st_deleted(st, (const char *[]){ "f1" }, 1, err, sizeof(err)) !=
	    KP_TEMP || st_get(st, "f1", NULL) != ST_DELIVERED)
		return 14;
	if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
		return 15;
	put_deleted(st, "f3");
	st_close(st);
	st = open_ok("fsize@h:1");
	if (st_get(st, "f1", NULL) != ST_DELIVERED ||
	    st_get(st, "f2", NULL) != ST_UNKNOWN ||
	    st_get(st, "f3", NULL) != ST_DELETED)
		return 16;
	st_close(st);
	return 0;
}

static void
test_write_fails(void)
{
	pid_t pid;

	fflush(stdout);
	if ((pid = fork()) == 0)
		_exit(fsize_child());
	is_int(t_wait_exit(pid), 0, "a journal write that fails (file size "
	    "limit) changes nothing, is cut off, and later records work");
}

/* ---- compaction ---- */

static void
test_compact(void)
{
	struct dlv_where wb = where_mbox("/mb", 10, 20);
	char err[DLV_ERR_MAX], jpath[PATH_MAX], *v1, *v2, *v3, *oldj;
	size_t len;
	struct st *st;

	st = open_ok("compact@h:1");
	(void)util_strlcpy(jpath, t_path(st_dir(st), "journal"), sizeof(jpath));
	put_kept(st, "k1");
	put_deleted(st, "d1");
	put_delivered(st, "v1");
	if (st_intent(st, "p1", &wb, err, sizeof(err)) != KP_OK)
		bail("intent: %s", err);
	v1 = view(st);
	oldj = t_slurp(jpath, &len);
	is_int(st_compact(st, NULL, 0, err, sizeof(err)), KP_OK, "compact");
	v2 = view(st);
	is_string(v2, v1, "the view is the same after");
	ok(t_file_size(jpath) < 20, "the journal is just its header (%lld)",
	    t_file_size(jpath));
	ok(t_file_size(t_path(st_dir(st), "state")) > 0, "the snapshot is there");
	ok(access(t_path(st_dir(st), "state.tmp"), F_OK) == -1,
	    "no state.tmp left");
	st_close(st);
	st = open_ok("compact@h:1");
	v3 = view(st);
	is_string(v3, v1, "... and after a reopen");
	free(v3);
	st_close(st);

	/* A crash after the rename: the old journal is still there. */
	t_put_file(jpath, oldj, len);
	st = open_ok("compact@h:1");
	v3 = view(st);
	is_string(v3, v1, "a journal older than the snapshot is dropped");
	ok(t_file_size(jpath) < 20, "... and started over");
	free(v1);
	free(v2);
	free(v3);
	free(oldj);
	st_close(st);
}

static void
test_compact_big(void)
{
	char jpath[PATH_MAX], *j, *rec;
	size_t len, rlen, total;
	struct st *st;
	int fd;

	st = open_ok("big@h:1");
	put_deleted(st, "b1");
	(void)util_strlcpy(jpath, t_path(st_dir(st), "journal"), sizeof(jpath));
	st_close(st);
	/* Repeat the last record (X b1) past ST_COMPACT_AT. */
	j = t_slurp(jpath, &len);
	rec = j + len - 1;
	while (rec > j && rec[-1] != '\n')
		rec--;
	rlen = (size_t)(j + len - rec);
	if ((fd = open(jpath, O_WRONLY | O_APPEND)) == -1)
		bail("open %s", jpath);
	for (total = len; total <= ST_COMPACT_AT; total += rlen)
		if (write(fd, rec, rlen) != (ssize_t)rlen)
			bail("write");
	(void)close(fd);
	free(j);
	st = open_ok("big@h:1");
	ok(t_file_size(jpath) < 100, "a journal past ST_COMPACT_AT is folded "
	    "at open (%lld bytes now)", t_file_size(jpath));
	is_int(st_get(st, "b1", NULL), ST_DELETED, "... keeping the state");
	is_int((long long)st_count(st), 1, "... of one entry");
	st_close(st);
}

static void
test_forget_gone(void)
{
	struct dlv_where wm = where_maildir("/m", "t");
	const char *server[] = { "k2", "new1" };
	char err[DLV_ERR_MAX];
	struct st *st;

	st = open_ok("gone@h:1");
	put_deleted(st, "d1");
	put_kept(st, "k1");
	put_delivered(st, "v1");
	put_kept(st, "k2");
	if (st_intent(st, "p1", &wm, err, sizeof(err)) != KP_OK)
		bail("intent: %s", err);
	is_int(st_compact(st, server, 2, err, sizeof(err)), KP_OK,
	    "compact with the server's list");
	ok(st_get(st, "d1", NULL) == ST_UNKNOWN &&
	    st_get(st, "k1", NULL) == ST_UNKNOWN &&
	    st_get(st, "v1", NULL) == ST_UNKNOWN,
	    "deleted, kept and delivered ones the server lost are forgotten");
	ok(st_get(st, "k2", NULL) == ST_KEPT, "a listed one stays");
	ok(st_get(st, "p1", NULL) == ST_PENDING, "a pending one stays");
	st_close(st);
	st = open_ok("gone@h:1");
	is_int((long long)st_count(st), 2, "... two entries after a reopen");
	st_close(st);
}

static void
test_changed(void)
{
	const char *none[] = { "s1", "s2", "s3" };
	const char *one[] = { "k0", "s1" };
	char u[16], err[DLV_ERR_MAX];
	struct st *st;
	int i;

	st = open_ok("changed@h:1");
	for (i = 0; i < 4; i++) {
		(void)util_snprintf(u, sizeof(u), "k%d", i);
		put_kept(st, u);
	}
	is_int(st_changed(st, none, 3), 0, "4 kept, none listed: below "
	    "ST_CHANGED_MIN, not a change");
	for (; i < 10; i++) {
		(void)util_snprintf(u, sizeof(u), "k%d", i);
		put_kept(st, u);
	}
	is_int(st_changed(st, none, 3), 1, "10 kept, none listed: changed");
	is_int(st_changed(st, one, 2), 0, "10 kept, 1 listed (10%%): not");
	is_int(st_changed(st, none, 0), 0, "an empty server: not");
	for (; i < 20; i++) {
		(void)util_snprintf(u, sizeof(u), "k%d", i);
		put_kept(st, u);
	}
	is_int(st_changed(st, one, 2), 1, "20 kept, 1 listed (5%%): changed");
	is_int(st_compact(st, none, 3, err, sizeof(err)), KP_OK,
	    "compact with the changed list");
	is_int((long long)st_count(st), 20, "... forgets nothing");
	st_close(st);

	st = open_ok("changed2@h:1");
	for (i = 0; i < 10; i++) {
		(void)util_snprintf(u, sizeof(u), "d%d", i);
		put_deleted(st, u);
	}
	is_int(st_changed(st, none, 3), 0, "10 deleted, none listed: not a "
	    "change (they are meant to be gone)");
	for (i = 0; i < 10; i++) {
		(void)util_snprintf(u, sizeof(u), "v%d", i);
		put_delivered(st, u);
	}
	is_int(st_changed(st, none, 3), 0, "10 delivered, none listed: not a "
	    "change (a QUIT whose +OK a crash hid deleted them)");
	st_close(st);
}

/* ---- the lock ---- */

/* Child: st_open id with wait_s; exit 0 ok, 1 busy (pid in err), 2. */
static int
lock_child(const char *id, unsigned int wait_s, pid_t holder)
{
	char err[DLV_ERR_MAX], want[64];
	struct st *st;
	int rc;

	rc = st_open(base, id, wait_s, &st, err, sizeof(err));
	if (rc == KP_OK) {
		st_close(st);
		return 0;
	}
	(void)util_snprintf(want, sizeof(want), "busy (pid %ld)",
	    (long)holder);
	return rc == KP_INUSE && strstr(err, want) != NULL ? 1 : 2;
}

static void
test_lock(void)
{
	char err[DLV_ERR_MAX];
	struct st *st, *st2;
	long long t0;
	pid_t pid;

	st = open_ok("lock@h:1");
	fflush(stdout);
	if ((pid = fork()) == 0)
		_exit(lock_child("lock@h:1", 0, getppid()));
	is_int(t_wait_exit(pid), 1, "a second run is refused at once, "
	    "\"busy (pid N)\"");
	t0 = util_now_ms();
	if ((pid = fork()) == 0)
		_exit(lock_child("lock@h:1", 1, getppid()));
	is_int(t_wait_exit(pid), 1, "... or after a bounded wait");
	ok(util_now_ms() - t0 >= 900, "... of about a second (%lld ms)",
	    util_now_ms() - t0);
	if ((pid = fork()) == 0)
		_exit(lock_child("other@h:1", 0, getppid()));
	is_int(t_wait_exit(pid), 0, "another account opens meanwhile");
	is_int(st_open(base, "lock@h:1", 0, &st2, err, sizeof(err)), KP_INUSE,
	    "a second open in the same process is busy too");
	ok(strstr(err, "busy") != NULL, "... %s", err);
	if ((pid = fork()) == 0)
		_exit(lock_child("lock@h:1", 5, getppid()));
	util_sleep_ms(300);
	st_close(st);
	is_int(t_wait_exit(pid), 0, "a waiting run gets it once released");
	st = open_ok("lock@h:1");
	st_close(st);
}

/* ---- recovery ---- */

static int notes;

static void
note(void *arg, const char *uidl, const char *msg)
{
	(void)arg;
	notes++;
	diag("note %s: %s", uidl, msg);
}

/* Deliver msg with w's target and token; fills w as dlv_commit does. */
static void
deliver_as(struct dlv_where *w, const char *spec, const char *msg)
{
	struct dlv_info info;
	struct dlv_target t;
	struct dlv *h;
	char err[DLV_ERR_MAX];

	memset(&info, 0, sizeof(info));
	info.token = w->token[0] != '\0' ? w->token : NULL;
	if (dlv_parse(spec, &t, err, sizeof(err)) != KP_OK ||
	    dlv_open(&t, &info, &h, err, sizeof(err)) != KP_OK ||
	    dlv_write(h, msg, strlen(msg)) != KP_OK ||
	    dlv_commit(h, w, err, sizeof(err)) != KP_OK)
		bail("deliver %s: %s", spec, err);
}

static void
test_recover(void)
{
	char md[PATH_MAX], mb[PATH_MAX], spec[PATH_MAX + 8], err[DLV_ERR_MAX];
	char tok[ST_TOKEN_LEN + 1], tok2[ST_TOKEN_LEN + 1];
	struct dlv_where w, w2;
	struct st *st;
	int rc;

	(void)util_strlcpy(md, t_path(scratch, "Maildir"), sizeof(md));
	(void)util_strlcpy(mb, t_path(scratch, "mbox"), sizeof(mb));
	if (st_token(tok, sizeof(tok)) != KP_OK ||
	    st_token(tok2, sizeof(tok2)) != KP_OK)
		bail("st_token");
	ok(strlen(tok) == ST_TOKEN_LEN && dlv_token_valid(tok) &&
	    strcmp(tok, tok2) != 0, "st_token: %s", tok);
	st = open_ok("recover@h:1");
	/* m1: delivered but not recorded; m2: never delivered. */
	w = where_maildir(md, tok);
	if (st_intent(st, "m1", &w, err, sizeof(err)) != KP_OK)
		bail("intent: %s", err);
	(void)util_snprintf(spec, sizeof(spec), "maildir:%s", md);
	deliver_as(&w, spec, "m1 body\n");
	w2 = where_maildir(md, tok2);
	if (st_intent(st, "m2", &w2, err, sizeof(err)) != KP_OK)
		bail("intent: %s", err);
	/* b1: appended, not recorded; b2: torn; b3: never placed. */
	(void)util_snprintf(spec, sizeof(spec), "mbox:%s", mb);
	memset(&w, 0, sizeof(w));
	deliver_as(&w, spec, "b1 body\n");
	if (st_intent(st, "b1", &w, err, sizeof(err)) != KP_OK)
		bail("intent: %s", err);
	memset(&w, 0, sizeof(w));
	deliver_as(&w, spec, "b2 body, longer than what survives\n");
	if (st_intent(st, "b2", &w, err, sizeof(err)) != KP_OK ||
	    truncate(mb, (off_t)(w.offset + 12)) == -1)
		bail("intent/truncate: %s", err);
	w2 = w;
	w.placed = 0;
	if (st_intent(st, "b3", &w, err, sizeof(err)) != KP_OK)
		bail("intent: %s", err);
	memset(&w, 0, sizeof(w));
	w.kind = DLV_MDA;
	(void)util_strlcpy(w.arg, "procmail", sizeof(w.arg));
	if (st_intent(st, "p1", &w, err, sizeof(err)) != KP_OK)
		bail("intent: %s", err);
	st_close(st);

	st = open_ok("recover@h:1");
	notes = 0;
	err[0] = '\0';
	rc = st_recover(st, note, NULL, 1, err, sizeof(err));
	is_int(rc, KP_OK, "recover %s", err);
	is_int(st_get(st, "m1", NULL), ST_DELIVERED, "Maildir: the message "
	    "that landed is recorded delivered");
	is_int(st_get(st, "m2", NULL), ST_UNKNOWN, "Maildir: the one that "
	    "did not is forgotten (deliver again)");
	is_int(st_get(st, "b1", NULL), ST_DELIVERED, "mbox: a whole append "
	    "is recorded delivered");
	is_int(st_get(st, "b2", NULL), ST_UNKNOWN, "mbox: a torn one is "
	    "forgotten");
	is_int(t_file_size(mb), (long long)w2.offset, "... and cut off");
	is_int(st_get(st, "b3", NULL), ST_UNKNOWN, "mbox: never placed: "
	    "forgotten");
	is_int(st_get(st, "p1", NULL), ST_UNKNOWN, "MDA: forgotten");
	ok(notes >= 4, "notes for the decisions (%d)", notes);
	st_close(st);
	st = open_ok("recover@h:1");
	ok(st_get(st, "m1", NULL) == ST_DELIVERED &&
	    st_get(st, "b2", NULL) == ST_UNKNOWN && st_count(st) == 2,
	    "recovery is journalled");
	st_close(st);
}

/* ---- crashes ---- */

/* Child: record forever, reporting each durable record on fd. */
static void __attribute__((__noreturn__))
crash_writer(int fd, int round)
{
	struct dlv_where w = where_maildir("/m", "tok");
	char err[DLV_ERR_MAX], u[32], rep[64];
	const char *up = u;
	struct st *st;
	int i;

	if (st_open(base, "crash@h:1", 5, &st, err, sizeof(err)) != KP_OK)
		_exit(2);
	for (i = 0; ; i++) {
		(void)util_snprintf(u, sizeof(u), "c%d.%d", round, i);
		if (st_intent(st, u, &w, err, sizeof(err)) != KP_OK)
			_exit(3);
		(void)util_snprintf(rep, sizeof(rep), "I %s\n", u);
		if (write(fd, rep, strlen(rep)) == -1)
			_exit(4);
		if (st_delivered(st, u, &w, err, sizeof(err)) != KP_OK)
			_exit(3);
		rep[0] = 'D';
		if (write(fd, rep, strlen(rep)) == -1)
			_exit(4);
		if (i % 3 == 0 && st_deleted(st, &up, 1, err, sizeof(err)) ==
		    KP_OK) {
			rep[0] = 'X';
			if (write(fd, rep, strlen(rep)) == -1)
				_exit(4);
		}
		if (i % 7 == 6 && st_compact(st, NULL, 0, err, sizeof(err)) !=
		    KP_OK)
			_exit(5);
	}
}

/* Check every reported record against the reopened state. */
static int
crash_check(char *rep, size_t *checked)
{
	char err[DLV_ERR_MAX], *line, *save = NULL;
	enum st_status s;
	struct st *st;
	int bad = 0;

	if (st_open(base, "crash@h:1", 5, &st, err, sizeof(err)) != KP_OK) {
		diag("reopen after a crash: %s", err);
		return 1;
	}
	for (line = strtok_r(rep, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strlen(line) < 3)
			continue;	/* a report torn by the kill */
		s = st_get(st, line + 2, NULL);
		(*checked)++;
		if ((line[0] == 'I' && s == ST_UNKNOWN) ||
		    (line[0] == 'D' && s != ST_DELIVERED && s != ST_DELETED) ||
		    (line[0] == 'X' && s != ST_DELETED)) {
			diag("lost: %s (status %d)", line, (int)s);
			bad++;
		}
	}
	st_close(st);
	return bad;
}

static void
test_crash(void)
{
	char *rep = NULL;
	size_t len, cap = 0, checked = 0;
	int p[2], round, bad = 0, ws;
	long long t0 = util_now_ms();
	ssize_t r;
	pid_t pid;

	srandom((unsigned int)time(NULL));
	for (round = 0; round < CRASH_ROUNDS && bad == 0; round++) {
		if (pipe(p) == -1 || (pid = fork()) == -1)
			bail("pipe/fork: %s", strerror(errno));
		if (pid == 0) {
			(void)close(p[0]);
			crash_writer(p[1], round);
		}
		(void)close(p[1]);
		util_sleep_ms((unsigned int)(random() % (CRASH_MAX_MS + 1)));
		(void)kill(pid, SIGKILL);
		if ((ws = t_wait_exit(pid)) != 1000 + SIGKILL && ws != 0)
			diag("writer exited %d", ws);
		len = 0;
		do {
			if (len + 4096 > cap && (rep = realloc(rep, cap = len +
			    65536)) == NULL)
				bail("realloc");
			r = read(p[0], rep + len, cap - len - 1);
			len += r > 0 ? (size_t)r : 0;
		} while (r > 0);
		(void)close(p[0]);
		rep[len] = '\0';
		bad += crash_check(rep, &checked);
	}
	free(rep);
	is_int(bad, 0, "SIGKILLed %d times: every record reported durable "
	    "is there (%zu checked)", round, checked);
	ok(checked > 0, "... and the writer got somewhere");
	ok(util_now_ms() - t0 < 10000, "... in %lld ms", util_now_ms() - t0);
}

int
main(void)
{
	int fds;

	plan_lazy();
	fds = t_count_fds();
	scratch = t_scratch("state-t");
	/* A state directory that does not exist yet, two levels down. */
	(void)util_strlcpy(base, t_path(t_path(scratch, "state"), "kpop"),
	    sizeof(base));
	test_ids();
	test_default_dir();
	test_uidls();
	test_replay();
	test_transitions();
	test_import();
	test_torn();
	test_torn_header();
	test_write_fails();
	test_compact();
	test_compact_big();
	test_forget_gone();
	test_changed();
	test_lock();
	test_recover();
	test_crash();
	if (fds == -1)
		skip("no /proc/self/fd: descriptor leak check");
	else
		is_int(t_count_fds(), fds, "no descriptor leaked");
	t_scratch_done();
	return 0;
}
