/* SPDX-License-Identifier: MIT */
/*
 * kpop/out.c: what kpop tells its user (kpop.h): messages on standard
 * error (errors even with -q, clearing the progress line first), the
 * clock for progress and timings, JSON strings, and the exit code that
 * a client.h status stands for (kpop(1)).  In poll mode (out_opts.log)
 * messages go through log.h instead: stderr or syslog, a priority each,
 * and the latest warning may be held back for the line that ends an
 * account's poll (out_hold).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>

#include "common/limits.h"
#include "kpop/client.h"
#include "kpop/kpop.h"

struct out_opts out_opts;

/* The warning held back (out_hold), and whether to hold one. */
static char held[LOG_LINE_MAX];
static int holding;

void
out_hold(int on)
{
	if (held[0] != '\0')
		log_warn("%s", held);
	held[0] = '\0';
	holding = on;
}

void
out_take_held(char *buf, size_t buflen)
{
	util_strlcpy(buf, held, buflen);
	held[0] = '\0';
}

void
out_say(const char *fmt, ...)
{
	va_list ap;
	char msg[LOG_LINE_MAX];

	if (out_opts.quiet)
		return;
	va_start(ap, fmt);
	if (out_opts.log) {
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		log_info("%s", msg);
		return;
	}
	fputs("kpop: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Errors are shown even with -q. */
void
out_warn(const char *fmt, ...)
{
	va_list ap;
	char msg[LOG_LINE_MAX];

	if (out_opts.log) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		if (held[0] != '\0')
			log_warn("%s", held);
		held[0] = '\0';
		if (holding)
			util_strlcpy(held, msg, sizeof(held));
		else
			log_warn("%s", msg);
		return;
	}
	if (out_opts.progress)
		fputs("\r\033[K", stderr);
	va_start(ap, fmt);
	fputs("kpop: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

double
out_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* A JSON string, escaped. */
void
out_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* The exit code for a client.h status. */
int
out_exit(int st)
{
	switch (st) {
	case POP_OK:
		return KX_OK;
	case POP_AUTH:
		return KX_AUTH;
	case POP_TLS:
		return KX_TLS;
	case POP_UNAVAIL:
		return KX_UNAVAIL;
	case POP_PROTO:
	case POP_ERR:
		return KX_PROTOCOL;
	case POP_KRB:
		return KX_KRB;
	case POP_TEMP:
		return KX_TEMP;
	default:
		return KX_SOFTWARE;
	}
}
