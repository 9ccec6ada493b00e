/* SPDX-License-Identifier: MIT */
/*
 * tests/tap/basic.h: a small TAP producer for kpop's C unit tests.
 *
 * A test program calls plan(N), then one check per assertion; each check
 * prints "ok N - what" or "not ok N - what" on stdout.  At exit the library
 * prints a summary line on stderr and exits non-zero if any check failed or
 * the count did not match the plan.  diag() writes "# ..." comments; bail()
 * prints "Bail out!" and exits at once.  tests/run reads this output.
 */
#ifndef TAP_BASIC_H
#define TAP_BASIC_H

#include <stddef.h>

#define TAP_PRINTF(f, a)	__attribute__((__format__(__printf__, f, a)))

void	plan(unsigned long);
void	plan_lazy(void);

/* Each returns the truth value it checked, so a test can stop early. */
int	ok(int, const char *, ...) TAP_PRINTF(2, 3);
int	is_int(long long, long long, const char *, ...) TAP_PRINTF(3, 4);
int	is_string(const char *, const char *, const char *, ...)
	    TAP_PRINTF(3, 4);
int	is_blob(const void *, size_t, const void *, size_t, const char *, ...)
	    TAP_PRINTF(5, 6);
void	skip(const char *, ...) TAP_PRINTF(1, 2);

void	diag(const char *, ...) TAP_PRINTF(1, 2);
void	bail(const char *, ...) TAP_PRINTF(1, 2) __attribute__((__noreturn__));

/* Directory holding test data made by tests/run (KPOP_TEST_DATA), or NULL. */
const char *test_data_dir(void);

#endif
