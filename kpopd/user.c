/* SPDX-License-Identifier: MIT */
/*
 * kpopd/user.c: which local user a login names (user.h).  The session
 * monitor checks every name a client gives before it is used in a path
 * or a log, and maps Kerberos principals to local users through krb5's
 * own rules (krb5.conf's auth_to_local, .k5login).
 */
#include "config.h"

#include <grp.h>
#include <krb5.h>
#include <pwd.h>
#include <string.h>

#include "kpopd/kpopd.h"
#include "kpopd/user.h"

int
user_name_ok(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t i, n = strlen(name), k;

	if (n == 0 || n >= KPOPD_USER_MAX || name[0] == '.' || name[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f || p[i] == '/' ||
		    p[i] == '%' || p[i] == '\\')
			return 0;
		if (p[i] < 0x80)
			continue;
		/* A UTF-8 sequence: lead byte, then continuation bytes. */
		if ((p[i] & 0xe0) == 0xc0 && p[i] >= 0xc2)
			k = 1;
		else if ((p[i] & 0xf0) == 0xe0)
			k = 2;
		else if ((p[i] & 0xf8) == 0xf0 && p[i] <= 0xf4)
			k = 3;
		else
			return 0;
		if (i + k >= n)
			return 0;
		for (; k > 0; k--)
			if ((p[++i] & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

int
user_own_group(const struct passwd *pw)
{
	struct group *gr;
	size_t i;

	if ((gr = getgrgid(pw->pw_gid)) == NULL ||
	    strcmp(gr->gr_name, pw->pw_name) != 0)
		return 0;
	for (i = 0; gr->gr_mem[i] != NULL; i++)
		if (strcmp(gr->gr_mem[i], pw->pw_name) != 0)
			return 0;
	return 1;
}

int
user_from_principal(const char *principal, char *out, size_t outlen)
{
	krb5_context ctx;
	krb5_principal p = NULL;
	int r = -1;

	if (krb5_init_context(&ctx) != 0)
		return -1;
	if (krb5_parse_name(ctx, principal, &p) == 0 &&
	    krb5_aname_to_localname(ctx, p, (int)outlen, out) == 0)
		r = 0;
	if (p != NULL)
		krb5_free_principal(ctx, p);
	krb5_free_context(ctx);
	return r;
}

int
user_principal_may(int virtual, const char *principal, const char *user)
{
	char mapped[KPOPD_USER_MAX];
	krb5_context ctx;
	krb5_principal p = NULL;
	int ok = 0;

	if (virtual)
		return user_from_principal(principal, mapped,
		    sizeof(mapped)) == 0 && strcmp(mapped, user) == 0;
	if (krb5_init_context(&ctx) != 0)
		return 0;
	if (krb5_parse_name(ctx, principal, &p) == 0)
		ok = krb5_kuserok(ctx, p, user) ? 1 : 0;
	if (p != NULL)
		krb5_free_principal(ctx, p);
	krb5_free_context(ctx);
	return ok;
}
