/* SPDX-License-Identifier: MIT */
/*
 * tests/tap/basic.c: the TAP producer behind tests/tap/basic.h.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap/basic.h"

static unsigned long	 tap_planned;
static unsigned long	 tap_run;
static unsigned long	 tap_failed;
static int		 tap_lazy;
static int		 tap_registered;
static pid_t		 tap_pid;

static void
tap_finish(void)
{
	fflush(stdout);
	/* A forked child that exits says nothing for the test. */
	if (getpid() != tap_pid)
		return;
	if (tap_lazy)
		printf("1..%lu\n", tap_run);
	fflush(stdout);
	if (!tap_lazy && tap_run != tap_planned) {
		fprintf(stderr, "# planned %lu tests but ran %lu\n",
		    tap_planned, tap_run);
		_exit(255);
	}
	if (tap_failed > 0) {
		fprintf(stderr, "# failed %lu of %lu tests\n", tap_failed,
		    tap_run);
		_exit(1);
	}
}

static void
tap_register(void)
{
	if (!tap_registered) {
		tap_pid = getpid();
		atexit(tap_finish);
		tap_registered = 1;
	}
	/* Line buffering keeps TAP lines whole if the test forks. */
	setvbuf(stdout, NULL, _IOLBF, 0);
}

void
plan(unsigned long n)
{
	tap_register();
	tap_planned = n;
	printf("1..%lu\n", n);
	fflush(stdout);
}

void
plan_lazy(void)
{
	tap_register();
	tap_lazy = 1;
}

static int tap_result(int, const char *, va_list) TAP_PRINTF(2, 0);

static int
tap_result(int success, const char *fmt, va_list ap)
{
	tap_run++;
	if (!success)
		tap_failed++;
	printf("%sok %lu", success ? "" : "not ", tap_run);
	if (fmt != NULL) {
		fputs(" - ", stdout);
		vprintf(fmt, ap);
	}
	putchar('\n');
	fflush(stdout);
	return success;
}

int
ok(int success, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	success = tap_result(success != 0, fmt, ap);
	va_end(ap);
	return success;
}

int
is_int(long long got, long long want, const char *fmt, ...)
{
	va_list ap;
	int success = (got == want);

	va_start(ap, fmt);
	tap_result(success, fmt, ap);
	va_end(ap);
	if (!success)
		diag("     got: %lld\n#   wanted: %lld", got, want);
	return success;
}

int
is_string(const char *got, const char *want, const char *fmt, ...)
{
	va_list ap;
	int success;

	if (got == NULL || want == NULL)
		success = (got == want);
	else
		success = (strcmp(got, want) == 0);
	va_start(ap, fmt);
	tap_result(success, fmt, ap);
	va_end(ap);
	if (!success)
		diag("     got: '%s'\n#   wanted: '%s'",
		    got == NULL ? "(null)" : got,
		    want == NULL ? "(null)" : want);
	return success;
}

/* Print up to the first 64 bytes of a blob, escaped, for a diagnostic. */
static void
tap_show(const char *label, const unsigned char *p, size_t n)
{
	size_t i;

	fprintf(stdout, "# %8s (%zu bytes): '", label, n);
	for (i = 0; i < n && i < 64; i++) {
		if (isprint(p[i]) && p[i] != '\\')
			putchar(p[i]);
		else
			printf("\\x%02x", p[i]);
	}
	printf("%s'\n", n > 64 ? "..." : "");
}

int
is_blob(const void *got, size_t gotlen, const void *want, size_t wantlen,
    const char *fmt, ...)
{
	va_list ap;
	size_t i;
	int success;

	success = (gotlen == wantlen &&
	    (gotlen == 0 || memcmp(got, want, gotlen) == 0));
	va_start(ap, fmt);
	tap_result(success, fmt, ap);
	va_end(ap);
	if (!success) {
		for (i = 0; i < gotlen && i < wantlen; i++)
			if (((const unsigned char *)got)[i] !=
			    ((const unsigned char *)want)[i])
				break;
		diag("first difference at offset %zu", i);
		tap_show("got", got, gotlen);
		tap_show("wanted", want, wantlen);
	}
	return success;
}

void
skip(const char *fmt, ...)
{
	va_list ap;

	tap_run++;
	printf("ok %lu # skip ", tap_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void
diag(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void
bail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("Bail out! ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	_exit(255);
}

const char *
test_data_dir(void)
{
	return getenv("KPOP_TEST_DATA");
}
