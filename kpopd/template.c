/* SPDX-License-Identifier: MIT */
/*
 * kpopd/template.c: the path templates of kpopd.conf expanded for a user
 * (template.h), and how much of the result the administrator chose: the
 * maildrop is opened without following links below that point.
 */
#include "config.h"

#include <string.h>

#include "kpopd/kpopd.h"
#include "kpopd/template.h"

int
template_expand(const char *tmpl, const char *user, const char *home,
    char *out, size_t outlen, size_t *trustedp)
{
	const char *dom = strpbrk(user, "@+");
	size_t o = 0, n, k, trusted = 0;
	int fixed = 0;
	const char *add;
	char local[KPOPD_USER_MAX];

	util_strlcpy(local, user, sizeof(local));
	if (dom != NULL)
		local[dom - user] = '\0';
	if (tmpl[0] == '~' && tmpl[1] == '/') {
		if ((n = strlen(home)) >= outlen)
			return -1;
		memcpy(out, home, n);
		o = n;
		tmpl++;
		trusted = n;
		fixed = 1;
	}
	for (; *tmpl != '\0'; tmpl++) {
		char one[2] = { *tmpl, '\0' };

		add = one;
		if (*tmpl == '%') {
			switch (*++tmpl) {
			case 'u':
				add = user;
				break;
			case 'l':
				add = local;
				break;
			case 'd':
				add = dom != NULL ? dom + 1 : "";
				break;
			case 'h':
				add = home;
				break;
			case '%':
				add = "%";
				break;
			default:
				return -1;
			}
			if (!fixed && *tmpl == 'h' && o == 0) {
				/* A leading home directory: passwd's. */
				trusted = strlen(home);
				fixed = 1;
			} else if (!fixed && *tmpl != '%') {
				/* Up to the directory this name is in. */
				for (k = o; k > 0 && out[k - 1] != '/'; k--)
					;
				trusted = k > 1 ? k - 1 : k;
				fixed = 1;
			}
		}
		n = strlen(add);
		if (o + n >= outlen)
			return -1;
		memcpy(out + o, add, n);
		o += n;
	}
	out[o] = '\0';
	if (trustedp != NULL)
		*trustedp = trusted;
	return 0;
}
