/* SPDX-License-Identifier: MIT */
/*
 * kpop/import.c: kpop --import-uidls FILE: the UIDLs another POP3 client
 * fetched and left on the server, read from its own file, so that a user
 * who switches to kpop --keep does not download that mail again.
 *
 * Two formats, told apart by their first line:
 *   fetchmail's .fetchids (fetchmail's uid.c, write_saved_lists): one
 *	line per message, "USER@HOST UIDL", HOST being the poll name (or
 *	its "via" name); USER may hold '@', so the account is split at
 *	the last '@' before the first blank that follows an '@', as
 *	fetchmail reads it back.
 *   mpop's UIDLs file (mpop's uidls.c; ~/.mpop_uidls/USER_at_HOST):
 *	"#" comment lines, then for each account a line " N HOST USER"
 *	followed by exactly N UIDL lines.
 * Only the lines of the account kpop runs (its user exactly, its host
 * without regard to case) count; UIDLs that are not valid ones (RFC
 * 1939: 1-70 characters 0x21-0x7e) cannot be a server's and are skipped.
 * The file is bounded (ST_FILE_MAX bytes, IMP_LINE_MAX a line) and every
 * number goes through util_parse_uint.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/pop3.h"
#include "common/util.h"
#include "kpop/kpop.h"
#include "kpop/state.h"

/* The UIDLs found so far. */
struct imp_list {
	const char	**v;
	size_t		  n, cap;
};

/* Add the NUL-terminated UIDL s (in the file's text).  0, or -1. */
static int
imp_add(struct imp_list *l, const char *s)
{
	const char **nv;

	if (!pop3_uidl_ok(s, strlen(s)))
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 256 : l->cap * 2;
		if ((nv = reallocarray(l->v, l->cap, sizeof(*nv))) == NULL)
			return -1;
		l->v = nv;
	}
	l->v[l->n++] = s;
	return 0;
}

/* Whether (p, n) is the host h, without regard to case. */
static int
imp_host_is(const char *p, size_t n, const char *h)
{
	return n == strlen(h) && strncasecmp(p, h, n) == 0;
}

/* One .fetchids line (NUL-terminated, no LF).  0, or -1 (no memory). */
static int
imp_fetchids_line(char *line, const char *user, const char *host,
    struct imp_list *l)
{
	char *at, *sp, *end, *id, *last;

	line += strspn(line, " \t");
	if ((at = strchr(line, '@')) == NULL ||
	    (sp = strpbrk(at, " \t")) == NULL)
		return 0;
	for (end = sp; end > line && (end[-1] == ' ' || end[-1] == '\t');
	    end--)
		;
	*end = '\0';
	id = sp + 1 + strspn(sp + 1, " \t");
	id[strcspn(id, " \t\r")] = '\0';
	last = strrchr(line, '@');
	*last = '\0';
	if (strcmp(line, user) != 0 ||
	    !imp_host_is(last + 1, strlen(last + 1), host))
		return 0;
	return imp_add(l, id);
}

/*
 * The lines of text (NUL-terminated, LFs made NULs as they are read):
 * the account's UIDLs into l.  Returns KP_OK, KP_PERM (a format error,
 * in err) or KP_TEMP (no memory).
 */
static int
imp_parse(char *text, size_t len, const char *user, const char *host,
    struct imp_list *l, char *err, size_t errlen)
{
	char *p = text, *nl, *end = text + len, *q, *h;
	unsigned long long left = 0;
	size_t ln = 0;
	int mpop = -1, mine = 0;

	for (; p < end; p = nl + 1) {
		ln++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		*nl = '\0';
		if ((size_t)(nl - p) > IMP_LINE_MAX ||
		    memchr(p, '\0', (size_t)(nl - p)) != NULL) {
			util_snprintf(err, errlen, "line %zu: longer than "
			    "%d bytes or holding a NUL byte", ln,
			    IMP_LINE_MAX);
			return KP_PERM;
		}
		if (mpop == -1) {
			if (p == nl)
				continue;
			mpop = p[0] == '#' || p[0] == ' ';
		}
		if (!mpop) {
			if (imp_fetchids_line(p, user, host, l) == -1)
				goto nomem;
			continue;
		}
		if (left > 0) {
			/* A UIDL of the list " N HOST USER" above. */
			left--;
			if (mine && imp_add(l, p) == -1)
				goto nomem;
			continue;
		}
		if (p[0] == '#' || p == nl)
			continue;
		/* " N HOST USER" */
		q = p + 1;
		h = q + strcspn(q, " ");
		if (p[0] != ' ' || *h != ' ' || util_parse_uint(q,
		    (size_t)(h - q), ST_FILE_MAX, &left) == -1 || left == 0 ||
		    (q = strchr(h + 1, ' ')) == NULL || q == h + 1 ||
		    q[1] == '\0' || strchr(q + 1, ' ') != NULL) {
			util_snprintf(err, errlen, "line %zu: not mpop's "
			    "\" N HOST USER\" (nor a .fetchids line)", ln);
			return KP_PERM;
		}
		mine = strcmp(q + 1, user) == 0 &&
		    imp_host_is(h + 1, (size_t)(q - h - 1), host);
	}
	if (mpop == 1 && left > 0) {
		util_snprintf(err, errlen, "%llu UIDLs missing at the end of "
		    "an mpop list", left);
		return KP_PERM;
	}
	return KP_OK;
nomem:
	util_snprintf(err, errlen, "out of memory");
	return KP_TEMP;
}

int
imp_uidls(struct st *st, const char *path, const char *user,
    const char *host, size_t *found, size_t *added, char *err,
    size_t errlen)
{
	struct imp_list l = { NULL, 0, 0 };
	struct stat sb;
	char *text = NULL, msg[256];
	size_t got = 0;
	ssize_t r;
	int fd, rc = KP_TEMP;

	*found = *added = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		util_snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return KP_PERM;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > ST_FILE_MAX) {
		util_snprintf(err, errlen, "%s: not a regular file of at most "
		    "%d bytes", path, ST_FILE_MAX);
		rc = KP_PERM;
		goto out;
	}
	if ((text = malloc((size_t)sb.st_size + 1)) == NULL) {
		util_snprintf(err, errlen, "out of memory");
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		r = read(fd, text + got, (size_t)sb.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			util_snprintf(err, errlen, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	text[got] = '\0';
	if ((rc = imp_parse(text, got, user, host, &l, msg,
	    sizeof(msg))) != KP_OK) {
		util_snprintf(err, errlen, "%s: %s", path, msg);
		goto out;
	}
	*found = l.n;
	rc = st_import(st, l.v, l.n, added, err, errlen);
out:
	free(l.v);
	free(text);
	(void)close(fd);
	return rc;
}
