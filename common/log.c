/* SPDX-License-Identifier: MIT */
/*
 * common/log.c: kpop's logging: one line format, a level filter, stderr
 * (one write per line, journal priority prefixes) or syslog, the session
 * tag, control characters kept out of the log.  Described in
 * common/log.h.
 */
#include "config.h"

#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"

/*
 * A stderr line: "<N>", ident, "[pid]: " (up to 20 digits), level,
 * "session=" and the id, the separators, the message and the newline.
 */
#define LOG_OUT_MAX	(3 + LOG_IDENT_MAX + 24 + 16 + 8 + LOG_SESSION_MAX + \
			    LOG_LINE_MAX + 1)

static char		log_ident[LOG_IDENT_MAX] = "kpop";
static enum log_dest	log_to = LOG_DEST_STDERR;
static int		log_max = LOG_INFO;
static int		log_facility = LOG_USER;
static int		log_journal;	/* stderr is the journal: "<N>" */
static char		log_session[LOG_SESSION_MAX];

static const char *const log_names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"
};

static const struct {
	const char	*name;
	int		 facility;
} log_facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "auth", LOG_AUTH },
	{ "authpriv", LOG_AUTHPRIV }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

/* log.h */
int
log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM"), *colon;
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || (colon = strchr(js, ':')) == NULL ||
	    util_parse_uint(js, (size_t)(colon - js), UINT64_MAX, &dev) == -1 ||
	    util_parse_uint(colon + 1, strlen(colon + 1), UINT64_MAX,
	    &ino) == -1 || fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_open(const char *ident, enum log_dest dest, int facility)
{
	int saved = errno;

	if (log_to == LOG_DEST_SYSLOG)
		closelog();
	util_strlcpy(log_ident, ident, sizeof(log_ident));
	log_to = dest;
	log_journal = dest == LOG_DEST_STDERR && log_stderr_is_journal();
	log_facility = facility;
	/* openlog keeps the pointer: log_ident lives as long as we do. */
	if (dest == LOG_DEST_SYSLOG)
		openlog(log_ident, LOG_PID | LOG_NDELAY, facility);
	errno = saved;
}

void
log_set_facility(int facility)
{
	int saved = errno;

	if (facility != log_facility && log_to == LOG_DEST_SYSLOG) {
		closelog();
		openlog(log_ident, LOG_PID | LOG_NDELAY, facility);
	}
	log_facility = facility;
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

int
log_facility_of(const char *name)
{
	size_t i;

	for (i = 0; i < KP_NELEM(log_facilities); i++)
		if (strcasecmp(log_facilities[i].name, name) == 0)
			return log_facilities[i].facility;
	return -1;
}

const char *
log_facility_name(int facility)
{
	size_t i;

	for (i = 0; i < KP_NELEM(log_facilities); i++)
		if (log_facilities[i].facility == facility)
			return log_facilities[i].name;
	return NULL;
}

void
log_set_session(const char *id)
{
	if (id == NULL)
		id = "";
	util_strlcpy(log_session, id, sizeof(log_session));
}

void
log_session_new(char *buf, size_t buflen)
{
	static int seeded;
	static uint16_t counter;
	int saved = errno;

	if (!seeded) {
		if (getrandom(&counter, sizeof(counter), GRND_NONBLOCK) !=
		    (ssize_t)sizeof(counter))
			counter = (uint16_t)(getpid() ^ time(NULL));
		seeded = 1;
	}
	util_snprintf(buf, buflen, "%08lx%04x",
	    (unsigned long)((uint64_t)time(NULL) & 0xffffffffU),
	    (unsigned int)counter++);
	errno = saved;
}

void
log_write(int prio, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX + 1], out[LOG_OUT_MAX], tag[LOG_SESSION_MAX + 9];
	char pfx[4];
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
	tag[0] = '\0';
	if (log_session[0] != '\0')
		util_snprintf(tag, sizeof(tag), "session=%s ", log_session);

	if (log_to == LOG_DEST_SYSLOG) {
		/* Never the message as the format. */
		syslog(prio, "%s%s", tag, msg);
		goto out;
	}

	/* Room is kept for the newline: out is cut, never the line end. */
	pfx[0] = '\0';
	if (log_journal)
		util_snprintf(pfx, sizeof(pfx), "<%d>", pri);
	util_snprintf(out, sizeof(out) - 1, "%s%s[%ld]: %s: %s%s", pfx,
	    log_ident, (long)getpid(), log_names[pri], tag, msg);
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
 * escape, or \xNN; for a key=value field (word), itself or \xNN.  Returns
 * its length.
 */
static size_t
log_escape(unsigned char c, char esc[4], int word)
{
	static const char hex[] = "0123456789abcdef";
	const char *two = NULL;

	if (word) {
		/* One word: nothing a parser splits on or unquotes. */
		if (c > 0x20 && c < 0x7f && c != '=' && c != '\\' &&
		    c != '"' && c != '\'') {
			esc[0] = (char)c;
			return 1;
		}
	} else if (c == '\\')
		two = "\\\\";
	else if (c == '\r')
		two = "\\r";
	else if (c == '\n')
		two = "\\n";
	else if (c == '\t')
		two = "\\t";
	else if (c >= 0x20 && c < 0x7f && c != '\'') {
		/* Not a quote: peer text is shown between quotes. */
		esc[0] = (char)c;
		return 1;
	}
	if (two != NULL) {
		memcpy(esc, two, 2);
		return 2;
	}
	esc[0] = '\\';
	esc[1] = 'x';
	esc[2] = hex[c >> 4];
	esc[3] = hex[c & 0xf];
	return 4;
}

/* log_printable, or log_value's escaping (word). */
static size_t
log_escape_all(char *dst, size_t dstlen, const void *src, size_t srclen,
    int word)
{
	const unsigned char *s = src;
	char esc[4];
	size_t i, o = 0, need = 0, room, e;

	if (dstlen == 0)
		return 0;
	for (i = 0; i < srclen; i++)
		need += log_escape(s[i], esc, word);
	/* All of it, or whole escapes with room left for "...". */
	if (need < dstlen)
		room = need;
	else
		room = dstlen - 1 > 3 ? dstlen - 1 - 3 : 0;
	for (i = 0; i < srclen; i++) {
		e = log_escape(s[i], esc, word);
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

size_t
log_printable(char *dst, size_t dstlen, const void *src, size_t srclen)
{
	return log_escape_all(dst, dstlen, src, srclen, 0);
}

size_t
log_value(char *dst, size_t dstlen, const char *src)
{
	if (src == NULL || src[0] == '\0')
		src = "-";
	return log_escape_all(dst, dstlen, src, strlen(src), 1);
}
