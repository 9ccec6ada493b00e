/* SPDX-License-Identifier: MIT */
/*
 * common/log.h: kpop's logging, one line format, to stderr or syslog.
 *
 * A stderr line is "IDENT[PID]: LEVEL: MESSAGE\n", LEVEL one of emerg,
 * alert, crit, err, warning, notice, info, debug, written with one
 * write(2) so lines from several processes do not interleave.  When
 * stderr is the systemd journal (JOURNAL_STREAM names its device and
 * inode, systemd.exec(5)), the line starts with "<N>", N the priority
 * 0-7 (sd-daemon(3)), so the journal keeps each line's priority.  To
 * syslog the message goes as is at the given priority.  Once a session
 * is set (log_set_session), MESSAGE starts with "session=ID ".  After
 * formatting, every byte below 0x20 and 0x7f in MESSAGE becomes '?', so
 * peer text passed through %s cannot forge a line; a message longer than
 * LOG_LINE_MAX bytes is cut to LOG_LINE_MAX bytes ending in "...".  For
 * showing what a peer sent faithfully, pass it through log_printable()
 * first, or log_value() for a key=value field.  errno is the same after a
 * log call as before.
 *
 * Messages say what happened in words an admin can act on; they name no
 * C function.
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
 * ignored for stderr.  For LOG_DEST_STDERR it looks at JOURNAL_STREAM
 * once: "DEV:INODE" of the descriptor 2 has now turns the "<N>" prefixes
 * on.  May be called again to switch (closing syslog when leaving it).
 * Before any call, messages go to stderr as "kpop", without prefixes.
 */
void	log_open(const char *ident, enum log_dest dest, int facility)
	    KP_NONNULL(1);

/*
 * Whether JOURNAL_STREAM ("DEV:INODE", systemd.exec(5)) names the file
 * descriptor 2 is open on: then stderr goes to the journal (a systemd
 * service).  1 or 0.
 */
int	log_stderr_is_journal(void);

/*
 * Log to syslog with facility from now on (for a reload): re-opens the
 * syslog connection if syslog is the destination, else only notes it.
 */
void	log_set_facility(int facility);

/*
 * Drop messages of lower importance than level (a syslog priority,
 * LOG_EMERG .. LOG_DEBUG; out-of-range values are clamped).  The default
 * is LOG_INFO.
 */
void	log_set_level(int level);

/* Returns the current level. */
int	log_level(void);

/*
 * The syslog facility named name (mail, daemon, auth, authpriv, user,
 * local0 .. local7; in any case), or -1 for any other name.
 */
int	log_facility_of(const char *name) KP_NONNULL(1);

/* The name of facility (as log_facility_of takes it), or NULL. */
const char *log_facility_name(int facility);

/*
 * Tag every later message of this process with "session=ID " (id copied;
 * cut to LOG_SESSION_MAX - 1 bytes); NULL or "" stops tagging.  Set once
 * in a session's first process after the fork; its children inherit it.
 */
void	log_set_session(const char *id);

/*
 * A new session id into buf (at least LOG_SESSION_MAX bytes): 12
 * lowercase hex digits, the current second since the epoch (8) and a
 * counter (4) that starts at a random value in each process, so ids sort
 * by start time and differ between sessions of one process, of restarts
 * and, but for a 1 in 65536 chance, of two processes in the same second.
 */
void	log_session_new(char *buf, size_t buflen) KP_NONNULL(1);

/*
 * Format and log one message at priority prio (a facility in prio is
 * ignored for the level name and filter, passed on to syslog).
 */
void	log_write(int prio, const char *fmt, ...)
	    KP_PRINTF(2, 3) KP_NONNULL(2);

#define log_err(...)	log_write(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_write(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	log_write(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_write(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_write(LOG_DEBUG, __VA_ARGS__)

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

/*
 * The string src as the value of a key=value log field into dst of size
 * dstlen: one word a parser can split on blanks and '=': bytes 0x21-0x7e
 * as they are except '=', '\\', '"' and the single quote, which like every
 * other byte (the blank, control and 8-bit bytes) become "\xNN"
 * (lowercase hex); an empty or NULL src becomes "-".  Cut as
 * log_printable() cuts.  Returns the length written, NUL not counted.
 */
size_t	log_value(char *dst, size_t dstlen, const char *src) KP_NONNULL(1);

#endif
