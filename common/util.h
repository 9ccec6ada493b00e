/* SPDX-License-Identifier: MIT */
/*
 * common/util.h: small helpers every part of kpop needs: the one strict
 * number parser, secret wiping, and bounded string copies.
 */
#ifndef KPOP_UTIL_H
#define KPOP_UTIL_H

#include <stddef.h>
#include <sys/types.h>

#define KP_PRINTF(f, a)	__attribute__((__format__(__printf__, f, a)))
#define KP_NONNULL(...)	__attribute__((__nonnull__(__VA_ARGS__)))
#define KP_WUR		__attribute__((__warn_unused_result__))

#define KP_NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Parse exactly the len bytes at s as an unsigned decimal number no larger
 * than max: ASCII digits only, no sign, no blanks, no base prefix.
 * Returns 0 and stores the value, or -1 (empty, not a number, or out of
 * range) and leaves *out alone.
 */
int	util_parse_uint(const char *s, size_t len, unsigned long long max,
	    unsigned long long *out) KP_NONNULL(1, 4) KP_WUR;

/* Overwrite n bytes at p in a way the compiler may not remove. */
void	util_wipe(void *p, size_t n);

/*
 * Copy the string src into dst of size dstlen, always NUL-terminated.
 * Returns 0, or -1 if src did not fit (dst then holds a truncated copy).
 */
int	util_strlcpy(char *dst, const char *src, size_t dstlen)
	    KP_NONNULL(1, 2);

/*
 * Format into dst of size dstlen, always NUL-terminated.  Returns 0, or -1
 * if the result was cut short.
 */
int	util_snprintf(char *dst, size_t dstlen, const char *fmt, ...)
	    KP_PRINTF(3, 4) KP_NONNULL(1, 3);

/*
 * pread up to n bytes at off, retrying EINTR and short reads: the count
 * (less than n only at end of file), or -1 with errno set.
 */
ssize_t	util_pread_full(int fd, void *buf, size_t n, off_t off) KP_WUR;

/*
 * Write all n bytes to fd: at offset off with pwrite, or with write when
 * off is negative; retries EINTR and short writes.  0, or -1 with errno
 * set (EIO when the system wrote nothing).
 */
int	util_write_all(int fd, const void *buf, size_t n, off_t off) KP_WUR;

/* n bytes at p as 2n lowercase hex digits and a NUL at out. */
void	util_hex(const unsigned char *p, size_t n, char *out) KP_NONNULL(1, 3);

/* The value of hex digit c (either case), or -1. */
int	util_xdigit(int c);

/*
 * The pid holding an fcntl write lock (or a read lock) on all of fd's
 * file, 0 if none does or it cannot be told (F_GETLK failed).
 */
long	util_lock_holder(int fd);

/* Milliseconds on CLOCK_MONOTONIC, for deadlines and intervals. */
long long util_now_ms(void);

/* Sleep ms milliseconds (a signal may cut it short). */
void	util_sleep_ms(unsigned int ms);

/*
 * fsync the directory at path, so that the names just made or removed
 * in it survive a crash.  0, or -1 with errno set.
 */
int	util_fsync_dir(const char *path) KP_NONNULL(1) KP_WUR;

/*
 * Try for an fcntl write lock on the whole of fd without waiting: 0
 * taken, 1 held by another process, -1 an error (errno set).
 */
int	util_trylock(int fd) KP_WUR;

#endif
