/* SPDX-License-Identifier: MIT */
/*
 * tests/kpopd/md-test.h: what the maildrop tests (maildir-t.c, mbox-t.c)
 * share: the scratch directory and the descriptor-leak check around a
 * test program, files and paths, children and uid 65534, opening a
 * maildrop, reading a message's range, and the encoder's octet count.
 * A failure of the tests' own machinery (files, fork) bails out; what the
 * maildrop code returns is handed back to be checked.
 */
#ifndef TESTS_KPOPD_MD_TEST_H
#define TESTS_KPOPD_MD_TEST_H

#include <sys/types.h>

#include <limits.h>
#include <stddef.h>

#include "kpopd/maildrop.h"
#include "tap/files.h"

/* An empty Maildir at path (mode 0700, with new/, cur/ and tmp/). */
void	mkmaildir(const char *path);

/* uid and gid 65534: what parts of the tests run as when we are root. */
#define NOBODY	65534

/* A string literal as its bytes and length, without the NUL. */
#define S(x)	x, sizeof(x) - 1

/* The scratch directory of this test program, made by md_test_start(). */
extern const char *scratch;

/* Options for most opens: lock_timeout 5 s, no takeover, no create. */
extern const struct md_opts opts0;

/*
 * Start a test program: a lazy plan, SIGPIPE ignored, scratch made as
 * $KPOP_TEST_TMP/NAME.XXXXXX (or under /tmp), mode 755 so that children
 * running as uid 65534 get through it, and the open descriptors counted.
 */
void	md_test_start(const char *name);

/* End it: no descriptor leaked since md_test_start(); scratch removed. */
void	md_test_end(void);

/* Give path and everything below it to uid 65534, if we are root. */
void	chown_nobody(const char *path);

/*
 * Give it back to us (md_open serves only the euid's files), if we are
 * root.
 */
void	chown_self(const char *path);

/*
 * In a child: become uid 65534 if we are root (file modes bind then).
 * Returns 0, or -1 if that failed.
 */
int	become_nobody(void);

/* A new file at path (a new inode: written aside, renamed over). */
void	put_file(const char *path, const void *data, size_t len);

/* Overwrite the file at path in place (the same inode). */
void	rewrite_file(const char *path, const void *data, size_t len);

/* Fork; the child runs fn(arg) and exits with its value. */
pid_t	spawn(int (*fn)(void *), void *arg);

/* Microseconds on CLOCK_MONOTONIC. */
long long now_us(void);

/* md_open(), with a diagnostic when it fails.  Returns its status. */
int	open_md(enum md_format, const char *path, const struct md_opts *,
	    struct maildrop **mdp);

/*
 * Message i's range through md_msg_fd(): *status is its status, and on
 * KP_OK the bytes are returned (malloc'd) with their length in *lenp;
 * otherwise NULL.
 */
char	*msg_bytes(struct maildrop *, size_t i, size_t *lenp, int *status);

/*
 * Run the bytes through pop3_enc; returns their octet count, checked
 * against the output length less stuffing and ".CRLF".
 */
unsigned long long enc_octets(const char *buf, size_t len);

#endif
