/* SPDX-License-Identifier: MIT */
/*
 * common/log.h: kpop's logging, one line format, to stderr or syslog.
 *
 * A stderr line is "IDENT[PID]: LEVEL: FUNC: MESSAGE\n", LEVEL one of
 * emerg, alert, crit, err, warning, notice, info, debug, written with one
 * write(2) so lines from several processes do not interleave.  To syslog
 * the message goes as "FUNC: MESSAGE" at the given priority.  After
 * formatting, every byte below 0x20 and 0x7f in MESSAGE becomes '?', so
 * peer text passed through %s cannot forge a line; a message longer than
 * LOG_LINE_MAX bytes is cut to LOG_LINE_MAX bytes ending in "...".  For
 * showing what a peer sent faithfully, pass it through log_printable()
 * first.  errno is the same after a log call as before.
 *
 * This is the one part of common/ that writes output.  Not for use in a
 * signal handler (it formats with vsnprintf).
 */
#ifndef KPOP_LOG_H
#define KPOP_LOG_H

#include <stddef.h>
#include <syslog.h>

#include "common/util.h"

enum log_dest {
	LOG_DEST_STDERR,
	LOG_DEST_SYSLOG
};

/*
 * Log as ident (copied; cut to 31 bytes) to dest.  For LOG_DEST_SYSLOG
 * this calls openlog(ident, LOG_PID | LOG_NDELAY, facility), facility
 * such as LOG_MAIL, so the socket is open before a chroot; facility is
 * ignored for stderr.  May be called again to switch (closing syslog when
 * leaving it).  Before any call, messages go to stderr as "kpop".
 */
void	log_open(const char *ident, enum log_dest dest, int facility)
	    KP_NONNULL(1);

/*
 * Drop messages of lower importance than level (a syslog priority,
 * LOG_EMERG .. LOG_DEBUG; out-of-range values are clamped).  The default
 * is LOG_INFO.
 */
void	log_set_level(int level);

/* Returns the current level. */
int	log_level(void);

/*
 * Format and log one message at priority prio (a facility in prio is
 * ignored for the level name and filter, passed on to syslog).  func
 * names the caller (__func__); if NULL, "FUNC: " is left out.
 */
void	log_write(int prio, const char *func, const char *fmt, ...)
	    KP_PRINTF(3, 4) KP_NONNULL(3);

#define log_err(...)	log_write(LOG_ERR, __func__, __VA_ARGS__)
#define log_warn(...)	log_write(LOG_WARNING, __func__, __VA_ARGS__)
#define log_notice(...)	log_write(LOG_NOTICE, __func__, __VA_ARGS__)
#define log_info(...)	log_write(LOG_INFO, __func__, __VA_ARGS__)
#define log_debug(...)	log_write(LOG_DEBUG, __func__, __VA_ARGS__)

/*
 * Write the srclen bytes at src (any bytes, NULs included; src may be
 * NULL if srclen is 0) into dst of size dstlen as printable ASCII:
 * 0x20-0x7e as is except backslash as "\\", CR, LF and tab as "\r", "\n",
 * "\t", the single quote (text is shown between quotes) and any other byte
 * as "\xNN" (lowercase hex).  dst is always
 * NUL-terminated (unless dstlen is 0); if the whole does not fit, it ends
 * in "..." after as many whole escapes as fit (with dstlen below 4, just
 * as many dots as fit).  Returns the length written, NUL not counted.
 */
size_t	log_printable(char *dst, size_t dstlen, const void *src,
	    size_t srclen) KP_NONNULL(1);

#endif
