/* SPDX-License-Identifier: MIT */
/*
 * tests/tap/files.h: what the C tests that work on real files and
 * processes share: a scratch directory, paths in it, whole-file writes
 * and reads, a child's exit status, and descriptor counts for leak
 * checks.  Each bails out (tap/basic.h) where a test cannot go on.
 */
#ifndef TAP_FILES_H
#define TAP_FILES_H

#include <sys/types.h>

#include <stddef.h>

/*
 * Make a fresh directory name.XXXXXX under $KPOP_TEST_TMP, else $TMPDIR,
 * else /tmp, and return its path (static).  t_scratch_done removes it
 * with everything in it.
 */
const char *t_scratch(const char *name);
void	t_scratch_done(void);

/*
 * Remove path and everything below it, whatever the modes, not following
 * symlinks.
 */
void	t_rm_tree(const char *path);

/* "dir/name" in one of four rotating static buffers. */
const char *t_path(const char *dir, const char *name);

/* Create or truncate path (mode 0600) and write len bytes to it. */
void	t_put_file(const char *path, const void *data, size_t len);

/* Append len bytes to the existing file path. */
void	t_append_file(const char *path, const void *data, size_t len);

/*
 * The whole of path, NUL-terminated, its length in *lenp; NULL (and 0)
 * if it cannot be opened.  The caller frees it.
 */
char	*t_slurp(const char *path, size_t *lenp);

/* The size of path, or -1 if stat fails. */
long long t_file_size(const char *path);

/* The exit status of pid, or 1000 + the signal that killed it. */
int	t_wait_exit(pid_t pid);

/*
 * Let an ASan build of this program's children run under an LD_PRELOAD
 * (faketime): ASan otherwise refuses to start, as if the test failed.
 */
void	t_asan_allow_preload(void);

/* Open descriptors of this process, or -1 where /proc is missing. */
int	t_count_fds(void);

/* The lowest free descriptor: the same after a test if none leaked. */
int	t_lowest_fd(void);

#endif
