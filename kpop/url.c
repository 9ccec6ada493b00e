/* SPDX-License-Identifier: MIT */
/*
 * kpop/url.c: POP URLs (RFC 2384).  See url.h.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "kpop/url.h"

/*
 * %-decode n bytes of s into out (size outsize).  A %00, a control
 * character or a broken escape is refused.  0 or -1.
 */
static int
pct_decode(const char *s, size_t n, char *out, size_t outsize)
{
	size_t i, o = 0;
	int hi, lo, c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= n || (hi = util_xdigit(s[i + 1])) < 0 ||
			    (lo = util_xdigit(s[i + 2])) < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f || o + 1 >= outsize)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* Host and optional port from s (n bytes). */
static int
parse_hostport(const char *s, size_t n, struct pop_url *u, char *err,
    size_t errlen)
{
	const char *port = NULL, *hend, *end = s + n;
	unsigned long long p;
	size_t i, hl;

	if (n > 0 && s[0] == '[') {
		if ((hend = memchr(s, ']', n)) == NULL) {
			util_snprintf(err, errlen, "unclosed '[' in the host");
			return -1;
		}
		if ((size_t)(hend + 1 - s) < n) {
			if (hend[1] != ':') {
				util_snprintf(err, errlen, "junk after ']'");
				return -1;
			}
			port = hend + 2;
		}
		s++;
		hl = (size_t)(hend - s);
	} else {
		hend = memchr(s, ':', n);
		hl = hend != NULL ? (size_t)(hend - s) : n;
		if (hend != NULL)
			port = hend + 1;
	}
	if (hl == 0 || hl > URL_HOST_MAX) {
		util_snprintf(err, errlen, "no host name, or one too long");
		return -1;
	}
	for (i = 0; i < hl; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '.' || s[i] == ':' || s[i] == '_')) {
			util_snprintf(err, errlen, "invalid character in the "
			    "host name");
			return -1;
		}
	memcpy(u->host, s, hl);
	u->host[hl] = '\0';
	if (port != NULL) {
		if (util_parse_uint(port, (size_t)(end - port), 65535, &p) ==
		    -1 || p == 0) {
			util_snprintf(err, errlen, "invalid port number");
			return -1;
		}
		u->port = (unsigned int)p;
	}
	return 0;
}

int
url_parse(const char *s, struct pop_url *u, char *err, size_t errlen)
{
	const char *rest, *at, *semi;
	size_t n;

	memset(u, 0, sizeof(*u));
	err[0] = '\0';
	if (strncasecmp(s, "pop://", 6) == 0)
		rest = s + 6;
	else if (strncasecmp(s, "pops://", 7) == 0) {
		rest = s + 7;
		u->tls = 1;
	} else if (strstr(s, "://") != NULL) {
		util_snprintf(err, errlen, "not a pop:// or pops:// URL");
		return -1;
	} else
		rest = s;
	n = strlen(rest);
	if (n > 0 && rest[n - 1] == '/')
		n--;	/* "pop://host/" is common and harmless */
	if (memchr(rest, '/', n) != NULL || memchr(rest, '?', n) != NULL ||
	    memchr(rest, '#', n) != NULL) {
		util_snprintf(err, errlen, "a POP URL has no path, query or "
		    "fragment");
		return -1;
	}
	at = NULL;
	for (const char *p = rest; p < rest + n; p++)
		if (*p == '@')
			at = p;
	if (at != NULL) {
		size_t ul = (size_t)(at - rest);

		semi = memchr(rest, ';', ul);
		if (memchr(rest, ':', semi != NULL ? (size_t)(semi - rest) :
		    ul) != NULL) {
			util_snprintf(err, errlen, "no password in URLs: kpop "
			    "asks for it, or reads .netrc");
			return -1;
		}
		if (semi != NULL) {
			if (strncasecmp(semi + 1, "auth=", 5) != 0) {
				util_snprintf(err, errlen, "only ';AUTH=' may "
				    "follow the user name");
				return -1;
			}
			if (pct_decode(semi + 6, (size_t)(at - semi - 6),
			    u->auth, sizeof(u->auth)) == -1 ||
			    u->auth[0] == '\0') {
				util_snprintf(err, errlen, "invalid AUTH type");
				return -1;
			}
			ul = (size_t)(semi - rest);
		}
		if (pct_decode(rest, ul, u->user, sizeof(u->user)) == -1) {
			util_snprintf(err, errlen, "invalid user name");
			return -1;
		}
		n -= (size_t)(at + 1 - rest);
		rest = at + 1;
	}
	return parse_hostport(rest, n, u, err, errlen);
}
