/* SPDX-License-Identifier: MIT */
/*
 * common/mech.c: SASL mechanism lists.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "common/mech.h"

#define MECH_SEP	" ,\t"

const char *
mech_next(const char **cursor, size_t *len)
{
	const char *p = *cursor + strspn(*cursor, MECH_SEP);

	if (*p == '\0') {
		*cursor = p;
		return NULL;
	}
	*len = strcspn(p, MECH_SEP);
	*cursor = p + *len;
	return p;
}

int
mech_listed(const char *list, const char *mech, size_t n)
{
	const char *p;
	size_t len;

	while ((p = mech_next(&list, &len)) != NULL)
		if (len == n && strncasecmp(p, mech, n) == 0)
			return 1;
	return 0;
}

int
mech_password(const char *mech, size_t n)
{
	return (n == 5 && strncasecmp(mech, "PLAIN", 5) == 0) ||
	    (n == 5 && strncasecmp(mech, "LOGIN", 5) == 0);
}

void
mech_filter(const char *list, int (*keep)(const char *, size_t, void *),
    void *arg, char *out, size_t outlen)
{
	const char *p;
	size_t len, used = 0;

	if (outlen == 0)
		return;
	out[0] = '\0';
	while ((p = mech_next(&list, &len)) != NULL) {
		if (keep != NULL && !keep(p, len, arg))
			continue;
		if (used + (used > 0) + len >= outlen)
			continue;
		if (used > 0)
			out[used++] = ' ';
		memcpy(out + used, p, len);
		used += len;
		out[used] = '\0';
	}
}
