/* SPDX-License-Identifier: MIT */
/*
 * common/conf.h: the configuration file reader behind kpopd.conf and the
 * kpop client configuration.  The caller describes its settings in a
 * table of struct conf_key; the reader fills the caller's struct from a
 * file, a buffer, or one "key=value" override at a time.
 *
 * Syntax, one setting per line:
 *
 *	# a comment: '#' first on a line, after optional blanks
 *	key = value		# a comment after a blank following a value
 *	key = "  keeps blanks and a # inside, with \" and \\ escapes  "
 *	key =			# empty: allowed for CONF_STRING only
 *
 * Keys are [a-z0-9_-].  Key and value are trimmed of blanks (space, tab).
 * An unquoted value ends at the first '#' that follows a blank, so an
 * unquoted value cannot contain " #" (or a tab then '#'); quote it.  A '#'
 * not preceded by a blank ("a#b") is part of the value.  Inside double
 * quotes the only escapes are \" and \\; after the closing quote only
 * blanks and a comment may follow.  A value may not contain control
 * characters other than tab.  Lines end in LF or CRLF and hold at most
 * CONF_LINE_MAX bytes, line end not counted; a file holds at most
 * CONF_FILE_MAX bytes.  A NUL byte, a line without '=', a bad key, an
 * unknown key, a key given twice, or a bad value is an error; reading
 * stops at the first one, and the message has the form
 * "FILE:LINE: what is wrong".
 *
 * Values at the table's offsets:
 *	CONF_STRING	char *: a malloc'd copy owned by the struct; the old
 *			value is freed when replaced, so the field must start
 *			NULL or malloc'd (never a string literal).  An empty
 *			value is stored as "", not NULL.
 *	CONF_BOOL	int, 1 or 0: yes/no, true/false, on/off, 1/0, any case.
 *	CONF_UINT	unsigned int from min to max.
 *	CONF_DURATION	unsigned int seconds from min to max: a number with
 *			an optional suffix s, m, h or d ("90", "10m", "1d").
 *	CONF_SIZE	unsigned long long bytes from min to max: a number with
 *			an optional binary suffix k or K, M, G ("64k", "2M").
 *	CONF_FACILITY	int: a syslog facility by name (log_facility_of:
 *			mail, daemon, auth, authpriv, user, local0-local7).
 * For CONF_UINT and CONF_DURATION a max above UINT_MAX is taken as
 * UINT_MAX.  Settings not named in the input keep whatever the caller put
 * there first, so fill in defaults before reading.
 *
 * Nothing here prints or exits: each function returns 0 (err then holds
 * ""), or -1 with a NUL-terminated message in err (cut to errlen if need
 * be).  Quoted keys and values in messages are escaped (\xNN for anything
 * but printable ASCII other than ' and \) and cut with "...".
 */
#ifndef KPOP_CONF_H
#define KPOP_CONF_H

#include <stddef.h>

#include "common/util.h"

enum conf_type {
	CONF_STRING,
	CONF_BOOL,
	CONF_UINT,
	CONF_DURATION,
	CONF_SIZE,
	CONF_FACILITY
};

/*
 * One setting; a table of them ends with an entry whose name is NULL:
 * write CONF_KEY_END, which spells out every field so that clang's
 * -Wmissing-field-initializers (in -Wextra) stays quiet, as { NULL } does
 * not.
 */
struct conf_key {
	const char		*name;
	enum conf_type		 type;
	size_t			 offset;	/* offsetof() in caller's struct */
	unsigned long long	 min, max;	/* UINT, DURATION (s), SIZE (B) */
};

#define CONF_KEY_END	{ NULL, CONF_STRING, 0, 0, 0 }

/*
 * Read the file at path into obj.  The path, as given, is FILE in
 * messages.  A file that cannot be opened gives "PATH: strerror"; a
 * directory, a non-regular file or one larger than CONF_FILE_MAX is
 * refused.  Returns 0, or -1 with the message in err.  On error, settings
 * read before the bad line stay set: call conf_free() to drop them.
 */
int	conf_read_file(const char *path, const struct conf_key *keys, void *obj,
	    char *err, size_t errlen) KP_NONNULL(1, 2, 3, 4) KP_WUR;

/*
 * Read the len bytes at buf (any bytes at all; buf may be NULL if len is
 * 0) into obj, with name as FILE in messages.  Returns 0, or -1 with the
 * message in err, as conf_read_file().
 */
int	conf_read_buf(const char *name, const char *buf, size_t len,
	    const struct conf_key *keys, void *obj, char *err, size_t errlen)
	    KP_NONNULL(1, 4, 5, 6) KP_WUR;

/*
 * Set the one key to value, taken literally: no trimming, quotes or
 * comments (for command-line overrides, "-o key=value").  Replaces a
 * value already set.  Returns 0, or -1 with a message without FILE:LINE
 * in err; obj is unchanged on error.
 */
int	conf_set(const struct conf_key *keys, void *obj, const char *key,
	    const char *value, char *err, size_t errlen)
	    KP_NONNULL(1, 2, 3, 4, 5) KP_WUR;

/* Free every CONF_STRING value in obj and set it NULL. */
void	conf_free(const struct conf_key *keys, void *obj) KP_NONNULL(1, 2);

/*
 * The value of k in obj as a configuration file would write it, into
 * out: yes/no, a number (seconds, bytes), a string, quoted with \" and
 * \\ escapes when read unquoted it would not come back the same (blanks
 * at either end, a quote or a backslash, a '#' first or after a blank);
 * "" for an empty or unset string.  Reading "key = OUT" gives the same value.
 * Returns 0, or -1 if it did not fit.
 */
int	conf_format(const struct conf_key *k, const void *obj, char *out,
	    size_t outlen) KP_NONNULL(1, 2, 3) KP_WUR;

/* Returns the table entry named name, or NULL; points into keys. */
const struct conf_key *conf_find(const struct conf_key *keys,
	    const char *name) KP_NONNULL(1, 2);

#endif
