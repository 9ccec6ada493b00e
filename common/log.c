/* SPDX-License-Identifier: MIT */
/*
 * common/log.c: kpop's logging: one line format, a level filter, stderr
 * (one write per line) or syslog, control characters kept out of the log.
 * Described in common/log.h.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"

/*
 * A stderr line: ident, "[pid]: " (up to 20 digits), level, func, the
 * separators, the message and the newline.
 */
#define LOG_OUT_MAX	(LOG_IDENT_MAX + 24 + 16 + LOG_FUNC_MAX + 4 + \
			    LOG_LINE_MAX + 1)

static char		log_ident[LOG_IDENT_MAX] = "kpop";
static enum log_dest	log_to = LOG_DEST_STDERR;
static int		log_max = LOG_INFO;

static const char *const log_names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"
};

void
log_open(const char *ident, enum log_dest dest, int facility)
{
	int saved = errno;

	if (log_to == LOG_DEST_SYSLOG)
		closelog();
	util_strlcpy(log_ident, ident, sizeof(log_ident));
	log_to = dest;
	/* openlog keeps the pointer: log_ident lives as long as we do. */
	if (dest == LOG_DEST_SYSLOG)
		openlog(log_ident, LOG_PID | LOG_NDELAY, facility);
	errno = saved;
}

void
log_set_level(int level)
{
	if (level < LOG_EMERG)
		level = LOG_EMERG;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	log_max = level;
}

int
log_level(void)
{
	return log_max;
}

void
log_write(int prio, const char *func, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX + 1], out[LOG_OUT_MAX], fn[LOG_FUNC_MAX];
	va_list ap;
	size_t i, n, off;
	ssize_t w;
	int saved = errno, pri = LOG_PRI(prio), len;

	if (pri > log_max)
		goto out;

	va_start(ap, fmt);
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len < 0)
		util_strlcpy(msg, "(message could not be formatted)",
		    sizeof(msg));
	else if ((size_t)len > LOG_LINE_MAX)
		memcpy(msg + LOG_LINE_MAX - 3, "...", 4);
	for (i = 0; msg[i] != '\0'; i++)
		if ((unsigned char)msg[i] < 0x20 ||
		    (unsigned char)msg[i] == 0x7f)
			msg[i] = '?';
	if (func != NULL)
		util_strlcpy(fn, func, sizeof(fn));

	if (log_to == LOG_DEST_SYSLOG) {
		/* Never the message as the format. */
		if (func != NULL)
			syslog(prio, "%s: %s", fn, msg);
		else
			syslog(prio, "%s", msg);
		goto out;
	}

	/* Room is kept for the newline: out is cut, never the line end. */
	util_snprintf(out, sizeof(out) - 1, "%s[%ld]: %s: %s%s%s", log_ident,
	    (long)getpid(), log_names[pri], func != NULL ? fn : "",
	    func != NULL ? ": " : "", msg);
	n = strlen(out);
	out[n++] = '\n';
	off = 0;
	while (off < n) {
		w = write(STDERR_FILENO, out + off, n - off);
		if (w > 0)
			off += (size_t)w;
		else if (w == -1 && errno == EINTR)
			continue;
		else
			break;
	}
 out:
	errno = saved;
}

/*
 * The printable form of byte c into esc (4 bytes): itself, a two-character
 * escape, or \xNN.  Returns its length.
 */
static size_t
log_escape(unsigned char c, char esc[4])
{
	static const char hex[] = "0123456789abcdef";

	switch (c) {
	case '\\':
		memcpy(esc, "\\\\", 2);
		return 2;
	case '\r':
		memcpy(esc, "\\r", 2);
		return 2;
	case '\n':
		memcpy(esc, "\\n", 2);
		return 2;
	case '\t':
		memcpy(esc, "\\t", 2);
		return 2;
	default:
		/* A quote too: peer text is shown between quotes. */
		if (c >= 0x20 && c < 0x7f && c != '\'') {
			esc[0] = (char)c;
			return 1;
		}
		esc[0] = '\\';
		esc[1] = 'x';
		esc[2] = hex[c >> 4];
		esc[3] = hex[c & 0xf];
		return 4;
	}
}

size_t
log_printable(char *dst, size_t dstlen, const void *src, size_t srclen)
{
	const unsigned char *s = src;
	char esc[4];
	size_t i, o = 0, need = 0, room, e;

	if (dstlen == 0)
		return 0;
	for (i = 0; i < srclen; i++)
		need += log_escape(s[i], esc);
	/* All of it, or whole escapes with room left for "...". */
	if (need < dstlen)
		room = need;
	else
		room = dstlen - 1 > 3 ? dstlen - 1 - 3 : 0;
	for (i = 0; i < srclen; i++) {
		e = log_escape(s[i], esc);
		if (o + e > room)
			break;
		memcpy(dst + o, esc, e);
		o += e;
	}
	if (i < srclen)
		for (e = 0; e < 3 && o < dstlen - 1; e++)
			dst[o++] = '.';
	dst[o] = '\0';
	return o;
}
