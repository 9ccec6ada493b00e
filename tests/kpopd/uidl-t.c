/* SPDX-License-Identifier: MIT */
/*
 * tests/kpopd/uidl-t.c: tests for md_uidl_dedup (kpopd/md-uidl.c), the
 * pass that makes a snapshot's UIDLs unique: the result is that of the
 * plain rule (first keeps U, then the first free U-2, U-3, ...), checked
 * against a straightforward copy of it on mixed inputs; the same input
 * gives the same output; and inputs a sender can choose (one X-UIDL
 * repeated, the suffixes planted as real UIDLs, long UIDLs that share the
 * cut stem) finish in linear time.
 */
#include "config.h"

#include <sys/time.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/util.h"
#include "kpopd/maildrop.h"
#include "kpopd/md-int.h"
#include "tap/basic.h"

/* Entries in each timed input. */
#define BIG		200000
/* Seconds one timed input may take here; a quadratic pass takes hours. */
#define BIG_SECS	2.0
/* The bound on a child running one, so that a slow pass fails, not hangs. */
#define BIG_ALARM	30

/*
 * The rule, the slow and obvious way: every k from 2, every earlier
 * message compared.
 */
static void
ref_dedup(struct md_msg *m, size_t n)
{
	char cand[POP3_UIDL_MAX + 1], suf[24];
	unsigned long k;
	size_t i, j, blen, slen;

	for (i = 0; i < n; i++) {
		for (k = 1;; k++) {
			if (k == 1)
				(void)util_strlcpy(cand, m[i].uidl,
				    sizeof(cand));
			else {
				(void)util_snprintf(suf, sizeof(suf), "-%lu",
				    k);
				slen = strlen(suf);
				blen = strlen(m[i].uidl);
				if (blen > POP3_UIDL_MAX - slen)
					blen = POP3_UIDL_MAX - slen;
				memcpy(cand, m[i].uidl, blen);
				memcpy(cand + blen, suf, slen + 1);
			}
			for (j = 0; j < i; j++)
				if (strcmp(m[j].uidl, cand) == 0)
					break;
			if (j == i)
				break;
		}
		(void)util_strlcpy(m[i].uidl, cand, sizeof(m[i].uidl));
	}
}

/* Compare UIDLs, for qsort. */
static int
cmp_uidl(const void *a, const void *b)
{
	return strcmp(((const struct md_msg *)a)->uidl,
	    ((const struct md_msg *)b)->uidl);
}

/* Whether all n UIDLs are valid and distinct (sorts a copy). */
static int
all_unique(const struct md_msg *m, size_t n)
{
	struct md_msg *c;
	size_t i;
	int good = 1;

	if ((c = malloc(n * sizeof(*c))) == NULL)
		bail("out of memory");
	memcpy(c, m, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_uidl);
	for (i = 0; i < n && good; i++) {
		if (!pop3_uidl_ok(c[i].uidl, strlen(c[i].uidl)))
			good = 0;
		if (i > 0 && strcmp(c[i - 1].uidl, c[i].uidl) == 0)
			good = 0;
	}
	free(c);
	return good;
}

static struct md_msg *
alloc_msgs(size_t n)
{
	struct md_msg *m;

	if ((m = calloc(n, sizeof(*m))) == NULL)
		bail("out of memory");
	return m;
}

static void	set_uidl(struct md_msg *, const char *, ...) KP_PRINTF(2, 3);

static void
set_uidl(struct md_msg *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(m->uidl, sizeof(m->uidl), fmt, ap) < 0)
		bail("vsnprintf");
	va_end(ap);
}

/* A stem of 67 characters: UIDLs of 68-70 share it once cut. */
#define STEM67	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234"

/* ---- the rule, on mixed inputs ---- */

/* One UIDL from a small pool that collides in every way the rule has. */
static void
pick(struct md_msg *m, unsigned int r)
{
	switch (r % 12) {
	case 0: case 1: case 2:
		set_uidl(m, "a");
		break;
	case 3:
		set_uidl(m, "a-%u", 2 + (r / 12) % 120);
		break;
	case 4:
		set_uidl(m, "a-%u-2", 2 + (r / 12) % 5);
		break;
	case 5:
		set_uidl(m, "b");
		break;
	case 6:		/* 68: cut for three-digit suffixes */
		set_uidl(m, "%s%c", STEM67, 'a' + (r / 12) % 3);
		break;
	case 7:		/* 69: cut for two */
		set_uidl(m, "%s%c%c", STEM67, 'a' + (r / 12) % 3,
		    'a' + (r / 36) % 2);
		break;
	case 8:		/* 70: cut for every suffix */
		set_uidl(m, "%sxyz", STEM67);
		break;
	case 9:		/* a real UIDL that looks like a cut candidate */
		set_uidl(m, "%s-%u", STEM67, 10 + (r / 12) % 30);
		break;
	case 10:
		set_uidl(m, "%sa-%u", STEM67, 2 + (r / 12) % 8);
		break;
	default:
		set_uidl(m, "u%u", (r / 12) % 50);
		break;
	}
}

static void
test_rule(void)
{
	struct md_msg *a, *b;
	char err[ERR_MSG_MAX];
	size_t n, i, round;
	int same = 1, uniq = 1, stable = 1;

	srandom(11);
	for (round = 0; round < 40; round++) {
		n = round < 4 ? round : 1 + (size_t)random() % 1500;
		a = alloc_msgs(n + 1);
		b = alloc_msgs(n + 1);
		for (i = 0; i < n; i++)
			pick(&a[i], (unsigned int)random());
		memcpy(b, a, n * sizeof(*a));
		if (md_uidl_dedup(a, n, err, sizeof(err)) != KP_OK)
			bail("md_uidl_dedup: %s", err);
		ref_dedup(b, n);
		for (i = 0; i < n; i++)
			if (strcmp(a[i].uidl, b[i].uidl) != 0) {
				if (same)
					diag("round %zu message %zu: %s, "
					    "the rule gives %s", round, i,
					    a[i].uidl, b[i].uidl);
				same = 0;
			}
		if (n > 0 && !all_unique(a, n))
			uniq = 0;
		free(b);
		free(a);
	}
	ok(same, "the result is the plain rule's, on 40 mixed inputs");
	ok(uniq, "every UIDL valid and unique");

	/* Stable: the same input twice gives the same UIDLs. */
	n = 3000;
	a = alloc_msgs(n);
	b = alloc_msgs(n);
	srandom(12);
	for (i = 0; i < n; i++)
		pick(&a[i], (unsigned int)random());
	memcpy(b, a, n * sizeof(*a));
	if (md_uidl_dedup(a, n, err, sizeof(err)) != KP_OK ||
	    md_uidl_dedup(b, n, err, sizeof(err)) != KP_OK)
		bail("md_uidl_dedup: %s", err);
	for (i = 0; i < n; i++)
		if (strcmp(a[i].uidl, b[i].uidl) != 0)
			stable = 0;
	ok(stable, "the same input gives the same UIDLs");
	free(a);
	free(b);

	/* The cases the rule is known by. */
	a = alloc_msgs(6);
	set_uidl(&a[0], "x");
	set_uidl(&a[1], "x");
	set_uidl(&a[2], "x-2");
	set_uidl(&a[3], "x");
	set_uidl(&a[4], "%sxyz", STEM67);
	set_uidl(&a[5], "%sxyz", STEM67);
	if (md_uidl_dedup(a, 6, err, sizeof(err)) != KP_OK)
		bail("md_uidl_dedup: %s", err);
	is_string(a[0].uidl, "x", "the first keeps its UIDL");
	is_string(a[1].uidl, "x-2", "the second gets -2");
	is_string(a[2].uidl, "x-2-2", "a real x-2 after it gets -2 too");
	is_string(a[3].uidl, "x-3", "the third x gets -3");
	is_string(a[5].uidl, STEM67 "x-2", "a 70-character UIDL is cut");
	free(a);
}

/* ---- linear time on what a sender chooses ---- */

enum big { BIG_SAME, BIG_PLANTED, BIG_STEMS, BIG_MAILDIR };

static const char *const big_name[] = {
	"one UIDL repeated",
	"the suffixes planted first, then one UIDL repeated",
	"long UIDLs sharing the cut stem, each twice",
	"Maildir names x:1 ... x:N (one base)",
};

static void
fill_big(struct md_msg *m, size_t n, enum big kind)
{
	size_t i;

	for (i = 0; i < n; i++)
		switch (kind) {
		case BIG_SAME:
			set_uidl(&m[i], "a");
			break;
		case BIG_PLANTED:
			if (i < n / 2)
				set_uidl(&m[i], "a-%zu", i + 2);
			else
				set_uidl(&m[i], "a");
			break;
		case BIG_STEMS:
			set_uidl(&m[i], "%s%03zx", STEM67, (i / 2) % 4096);
			if (i / 2 >= 4096)
				set_uidl(&m[i], "%.*s%06zx", 64, STEM67,
				    i / 2);
			break;
		case BIG_MAILDIR:
			md_uidl_from("x", 1, m[i].uidl);
			break;
		}
}

/*
 * Run one input in a child bounded by BIG_ALARM seconds; it exits 0 if
 * the pass took under BIG_SECS and left every UIDL unique.
 */
static void
test_big(enum big kind)
{
	struct md_msg *m;
	struct timespec t0, t1;
	char err[ERR_MSG_MAX];
	double secs;
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) == -1)
		bail("fork");
	if (pid == 0) {
		alarm(BIG_ALARM);
		m = alloc_msgs(BIG);
		fill_big(m, BIG, kind);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (md_uidl_dedup(m, BIG, err, sizeof(err)) != KP_OK)
			_exit(3);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		fprintf(stderr, "# %s: %.3f s\n", big_name[kind], secs);
		if (!all_unique(m, BIG))
			_exit(2);
		_exit(secs < BIG_SECS ? 0 : 1);
	}
	if (waitpid(pid, &st, 0) == -1)
		bail("waitpid");
	if (WIFSIGNALED(st))
		diag("killed by signal %d (SIGALRM: over %d s)",
		    WTERMSIG(st), BIG_ALARM);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "%d entries, %s: unique, under %.0f s (exit %d)", BIG,
	    big_name[kind], BIG_SECS, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int
main(void)
{
	plan(12);
	test_rule();
	test_big(BIG_SAME);
	test_big(BIG_PLANTED);
	test_big(BIG_STEMS);
	test_big(BIG_MAILDIR);
	return 0;
}
