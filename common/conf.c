/* SPDX-License-Identifier: MIT */
/*
 * common/conf.c: the table-driven configuration reader shared by kpopd
 * and kpop.  Splits a file or buffer into lines, each line into key and
 * value, and stores the value by the key's type at its offset in the
 * caller's struct.  Syntax and storage are described in common/conf.h.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/limits.h"
#include "common/util.h"

#define CONF_BLANK(c)	((c) == ' ' || (c) == '\t')

static const char conf_sfx_duration[] = "smhd";
static const unsigned long long conf_mul_duration[] = { 1, 60, 3600, 86400 };
static const char conf_sfx_size[] = "kKMG";
static const unsigned long long conf_mul_size[] = {
	1024ULL, 1024ULL, 1024ULL * 1024, 1024ULL * 1024 * 1024
};

/*
 * Write the n bytes at s into q for showing between quotes in a message,
 * escaped and cut as log_printable() does it.
 */
static void
conf_quote(char q[CONF_QUOTE_MAX + 1], const char *s, size_t n)
{
	(void)log_printable(q, CONF_QUOTE_MAX + 1, s, n);
}

/* Returns a pointer to the key's field in obj. */
static void *
conf_field(void *obj, const struct conf_key *k)
{
	return (char *)obj + k->offset;
}

/* ASCII-only, locale-free case-insensitive comparison; 1 if equal. */
static int
conf_same(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		char ca = *a, cb = *b;

		if (ca >= 'A' && ca <= 'Z')
			ca = (char)(ca - 'A' + 'a');
		if (cb >= 'A' && cb <= 'Z')
			cb = (char)(cb - 'A' + 'a');
		if (ca != cb)
			return 0;
	}
	return *a == *b;
}

/* Parse a boolean word; 0 and the value in *out, or -1. */
static int
conf_bool(const char *v, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < KP_NELEM(yes); i++) {
		if (conf_same(v, yes[i])) {
			*out = 1;
			return 0;
		}
		if (conf_same(v, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* util_parse_uint() over n bytes at v. */
static int
conf_uint(const char *v, size_t n, unsigned long long max,
    unsigned long long *out)
{
	return util_parse_uint(v, n, max, out);
}

/*
 * Parse n bytes at v as a number with an optional one-letter suffix from
 * sfx, which multiplies it by the matching mul[], into *out, no larger
 * than max.  Returns 0, or -1 (not a number, or above max).
 */
static int
conf_scaled(const char *v, size_t n, const char *sfx,
    const unsigned long long *mul, unsigned long long max,
    unsigned long long *out)
{
	const char *s;
	unsigned long long m = 1, x;

	if (n > 0 && (s = memchr(sfx, v[n - 1], strlen(sfx))) != NULL) {
		m = mul[s - sfx];
		n--;
	}
	if (conf_uint(v, n, max / m, &x) == -1)
		return -1;
	*out = x * m;
	return 0;
}

/*
 * Store the n-byte value v (NUL-terminated at v[n], no NUL before) by the
 * type of k.  Returns 0, or -1 with a message in msg and obj unchanged.
 */
static int
conf_assign(const struct conf_key *k, void *obj, const char *v, size_t n,
    char *msg, size_t msglen)
{
	char q[CONF_QUOTE_MAX + 1];
	unsigned long long x, max = k->max;
	size_t i;
	int b;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			util_snprintf(msg, msglen,
			    "'%s': control character \\x%02x in value",
			    k->name, c);
			return -1;
		}
	}
	if (n == 0 && k->type != CONF_STRING) {
		util_snprintf(msg, msglen, "'%s' needs a value", k->name);
		return -1;
	}
	conf_quote(q, v, n);
	if ((k->type == CONF_UINT || k->type == CONF_DURATION) &&
	    max > UINT_MAX)
		max = UINT_MAX;

	switch (k->type) {
	case CONF_STRING: {
		char **sp = conf_field(obj, k);
		char *s;

		if ((s = malloc(n + 1)) == NULL) {
			util_snprintf(msg, msglen, "'%s': out of memory",
			    k->name);
			return -1;
		}
		memcpy(s, v, n + 1);
		free(*sp);
		*sp = s;
		return 0;
	}
	case CONF_BOOL:
		if (conf_bool(v, &b) == -1) {
			util_snprintf(msg, msglen, "'%s': '%s' is not "
			    "yes/no, true/false, on/off or 1/0", k->name, q);
			return -1;
		}
		*(int *)conf_field(obj, k) = b;
		return 0;
	case CONF_UINT:
		if (conf_uint(v, n, max, &x) == -1 || x < k->min) {
			util_snprintf(msg, msglen, "'%s': '%s' is not a whole "
			    "number from %llu to %llu", k->name, q, k->min,
			    max);
			return -1;
		}
		*(unsigned int *)conf_field(obj, k) = (unsigned int)x;
		return 0;
	case CONF_DURATION:
		if (conf_scaled(v, n, conf_sfx_duration, conf_mul_duration,
		    max, &x) == -1 || x < k->min) {
			util_snprintf(msg, msglen, "'%s': '%s' is not a "
			    "duration from %llu to %llu seconds", k->name, q,
			    k->min, max);
			return -1;
		}
		*(unsigned int *)conf_field(obj, k) = (unsigned int)x;
		return 0;
	case CONF_SIZE:
		if (conf_scaled(v, n, conf_sfx_size, conf_mul_size, max,
		    &x) == -1 || x < k->min) {
			util_snprintf(msg, msglen, "'%s': '%s' is not a "
			    "size from %llu to %llu bytes", k->name, q,
			    k->min, max);
			return -1;
		}
		*(unsigned long long *)conf_field(obj, k) = x;
		return 0;
	case CONF_FACILITY:
		if ((b = log_facility_of(v)) == -1) {
			util_snprintf(msg, msglen, "'%s': '%s' is not a syslog "
			    "facility: mail, daemon, auth, authpriv, user or "
			    "local0 to local7", k->name, q);
			return -1;
		}
		*(int *)conf_field(obj, k) = b;
		return 0;
	}
	util_snprintf(msg, msglen, "'%s': bad type in key table", k->name);
	return -1;
}

/*
 * Parse the n bytes at line (line end removed) as line number lineno.
 * seen[] holds the line each key was set on, 0 if not yet.  Returns 0,
 * or -1 with a message (without FILE:LINE) in msg.
 */
static int
conf_line(const char *line, size_t n, const struct conf_key *keys,
    void *obj, size_t *seen, size_t lineno, char *msg, size_t msglen)
{
	char buf[CONF_LINE_MAX + 1], q[CONF_QUOTE_MAX + 1];
	char q2[CONF_QUOTE_MAX + 1];
	const struct conf_key *k;
	char *p, *eq, *e, *v, *w;
	size_t i;

	if (n > CONF_LINE_MAX) {
		util_snprintf(msg, msglen, "line longer than %d bytes",
		    CONF_LINE_MAX);
		return -1;
	}
	if (memchr(line, '\0', n) != NULL) {
		util_snprintf(msg, msglen, "NUL byte in line");
		return -1;
	}
	memcpy(buf, line, n);
	buf[n] = '\0';

	for (p = buf; CONF_BLANK(*p); p++)
		continue;
	if (*p == '\0' || *p == '#')
		return 0;

	/* The key: up to the first '=', blanks trimmed. */
	if ((eq = strchr(p, '=')) == NULL) {
		for (e = p + strlen(p); e > p && CONF_BLANK(e[-1]); e--)
			continue;
		conf_quote(q, p, (size_t)(e - p));
		util_snprintf(msg, msglen, "missing '=' in '%s'", q);
		return -1;
	}
	for (e = eq; e > p && CONF_BLANK(e[-1]); e--)
		continue;
	if (e == p) {
		util_snprintf(msg, msglen, "missing key before '='");
		return -1;
	}
	for (i = 0; p + i < e; i++) {
		char c = p[i];

		if ((c < 'a' || c > 'z') && (c < '0' || c > '9') &&
		    c != '_' && c != '-') {
			conf_quote(q, p + i, 1);
			conf_quote(q2, p, (size_t)(e - p));
			util_snprintf(msg, msglen,
			    "bad character '%s' in key '%s'", q, q2);
			return -1;
		}
	}
	*e = '\0';
	if ((k = conf_find(keys, p)) == NULL) {
		conf_quote(q, p, (size_t)(e - p));
		util_snprintf(msg, msglen, "unknown key '%s'", q);
		return -1;
	}
	if (seen[k - keys] != 0) {
		util_snprintf(msg, msglen, "'%s' already set on line %zu",
		    k->name, seen[k - keys]);
		return -1;
	}
	seen[k - keys] = lineno;

	/* The value: eq[1] on, blanks trimmed, quoted or to a comment. */
	for (v = eq + 1; CONF_BLANK(*v); v++)
		continue;
	if (*v == '"') {
		/* Unescape in place: w never passes e. */
		for (w = v, e = v + 1; *e != '"'; e++) {
			if (*e == '\\') {
				e++;
				if (*e != '"' && *e != '\\' && *e != '\0') {
					conf_quote(q, e, 1);
					util_snprintf(msg, msglen, "'%s': bad "
					    "escape '\\%s' in quoted value",
					    k->name, q);
					return -1;
				}
			}
			if (*e == '\0') {
				util_snprintf(msg, msglen,
				    "'%s': missing closing quote", k->name);
				return -1;
			}
			*w++ = *e;
		}
		*w = '\0';
		for (p = e + 1; CONF_BLANK(*p); p++)
			continue;
		if (*p != '\0' && !(*p == '#' && p > e + 1)) {
			util_snprintf(msg, msglen,
			    "'%s': text after closing quote", k->name);
			return -1;
		}
		return conf_assign(k, obj, v, (size_t)(w - v), msg, msglen);
	}
	/* v[-1] is '=' or a blank, so e[-1] is always inside buf. */
	for (e = v; *e != '\0' && !(*e == '#' && CONF_BLANK(e[-1])); e++)
		continue;
	while (e > v && CONF_BLANK(e[-1]))
		e--;
	*e = '\0';
	return conf_assign(k, obj, v, (size_t)(e - v), msg, msglen);
}

int
conf_read_buf(const char *name, const char *buf, size_t len,
    const struct conf_key *keys, void *obj, char *err, size_t errlen)
{
	char msg[ERR_MSG_MAX];
	const char *line, *nl;
	size_t *seen = NULL, nkeys, pos, n, lineno = 0;
	int rv = -1;

	if (errlen > 0)
		err[0] = '\0';
	if (len > CONF_FILE_MAX) {
		util_snprintf(err, errlen, "%s: larger than %d bytes", name,
		    CONF_FILE_MAX);
		goto out;
	}
	for (nkeys = 0; keys[nkeys].name != NULL; nkeys++)
		continue;
	if ((seen = calloc(nkeys + 1, sizeof(*seen))) == NULL) {
		util_snprintf(err, errlen, "%s: out of memory", name);
		goto out;
	}
	for (pos = 0; pos < len; pos += n + (nl != NULL)) {
		lineno++;
		line = buf + pos;
		nl = memchr(line, '\n', len - pos);
		n = nl != NULL ? (size_t)(nl - line) : len - pos;
		if (conf_line(line, n > 0 && line[n - 1] == '\r' ? n - 1 : n,
		    keys, obj, seen, lineno, msg, sizeof(msg)) == -1) {
			util_snprintf(err, errlen, "%s:%zu: %s", name, lineno,
			    msg);
			goto out;
		}
	}
	rv = 0;
 out:
	free(seen);
	return rv;
}

int
conf_read_file(const char *path, const struct conf_key *keys, void *obj,
    char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL, *nbuf;
	size_t len = 0, cap;
	ssize_t r;
	int fd = -1, rv = -1;

	if (errlen > 0)
		err[0] = '\0';
	/* O_NONBLOCK: a FIFO must not hang us before fstat refuses it. */
	fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1) {
		util_snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		util_snprintf(err, errlen, "%s: %s", path, strerror(EISDIR));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		util_snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > CONF_FILE_MAX) {
		util_snprintf(err, errlen, "%s: larger than %d bytes", path,
		    CONF_FILE_MAX);
		goto out;
	}
	/* One byte more than fstat said, to see a file that grew. */
	cap = (size_t)st.st_size + 1;
	if ((buf = malloc(cap)) == NULL)
		goto nomem;
	for (;;) {
		if (len == cap) {
			if (cap > CONF_FILE_MAX) {
				util_snprintf(err, errlen,
				    "%s: larger than %d bytes", path,
				    CONF_FILE_MAX);
				goto out;
			}
			cap = cap > (CONF_FILE_MAX + 1) / 2 ?
			    CONF_FILE_MAX + 1 : cap * 2;
			if ((nbuf = realloc(buf, cap)) == NULL)
				goto nomem;
			buf = nbuf;
		}
		if ((r = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			util_snprintf(err, errlen, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	rv = conf_read_buf(path, buf, len, keys, obj, err, errlen);
	goto out;
 nomem:
	util_snprintf(err, errlen, "%s: out of memory", path);
 out:
	if (fd != -1)
		close(fd);
	free(buf);
	return rv;
}

int
conf_set(const struct conf_key *keys, void *obj, const char *key,
    const char *value, char *err, size_t errlen)
{
	char q[CONF_QUOTE_MAX + 1];
	const struct conf_key *k;

	if (errlen > 0)
		err[0] = '\0';
	if ((k = conf_find(keys, key)) == NULL) {
		conf_quote(q, key, strlen(key));
		util_snprintf(err, errlen, "unknown key '%s'", q);
		return -1;
	}
	return conf_assign(k, obj, value, strlen(value), err, errlen);
}

void
conf_free(const struct conf_key *keys, void *obj)
{
	const struct conf_key *k;
	char **sp;

	for (k = keys; k->name != NULL; k++) {
		if (k->type != CONF_STRING)
			continue;
		sp = conf_field(obj, k);
		free(*sp);
		*sp = NULL;
	}
}

/* Whether the string s must be quoted to be read back as it is. */
static int
conf_needs_quotes(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || CONF_BLANK(s[0]) || CONF_BLANK(s[n - 1]))
		return 1;
	for (i = 0; i < n; i++)
		if (s[i] == '"' || s[i] == '\\' ||
		    (s[i] == '#' && (i == 0 || CONF_BLANK(s[i - 1]))))
			return 1;
	return 0;
}

int
conf_format(const struct conf_key *k, const void *obj, char *out,
    size_t outlen)
{
	const char *p = (const char *)obj + k->offset, *s;
	size_t o = 0;

	switch (k->type) {
	case CONF_STRING:
		s = *(char *const *)(const void *)p;
		if (s == NULL)
			s = "";
		if (!conf_needs_quotes(s))
			return util_snprintf(out, outlen, "%s", s);
		if (outlen < 3)
			return -1;
		out[o++] = '"';
		for (; *s != '\0'; s++) {
			if (o + 4 > outlen)
				return -1;
			if (*s == '"' || *s == '\\')
				out[o++] = '\\';
			out[o++] = *s;
		}
		out[o++] = '"';
		out[o] = '\0';
		return 0;
	case CONF_BOOL:
		return util_snprintf(out, outlen, "%s",
		    *(const int *)(const void *)p ? "yes" : "no");
	case CONF_UINT:
	case CONF_DURATION:
		return util_snprintf(out, outlen, "%u",
		    *(const unsigned int *)(const void *)p);
	case CONF_SIZE:
		return util_snprintf(out, outlen, "%llu",
		    *(const unsigned long long *)(const void *)p);
	case CONF_FACILITY:
		s = log_facility_name(*(const int *)(const void *)p);
		return util_snprintf(out, outlen, "%s", s != NULL ? s : "");
	}
	return -1;
}

const struct conf_key *
conf_find(const struct conf_key *keys, const char *name)
{
	const struct conf_key *k;

	for (k = keys; k->name != NULL; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}
