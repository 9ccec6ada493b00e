/* SPDX-License-Identifier: MIT */
/*
 * kpopd/user.h: which local user a login names: the checks on a user
 * name, a Kerberos principal's local user and whether it may act as
 * another, and a user's private group.  Used by the session monitor.
 */
#ifndef KPOPD_USER_H
#define KPOPD_USER_H

#include <stddef.h>

#include "common/util.h"

struct passwd;

/*
 * Whether name is acceptable as a login name: printable, valid UTF-8
 * (RFC 6856), no path separators, '%' or '\', no leading dot or dash,
 * shorter than KPOPD_USER_MAX.
 */
int	user_name_ok(const char *name) KP_NONNULL(1);

/*
 * Whether pw's primary group is its own (a user private group, as
 * Debian's adduser makes them: same name, no other members), so that a
 * maildrop directory writable by that group lets no other account in.
 */
int	user_own_group(const struct passwd *pw) KP_NONNULL(1);

/*
 * The local user a principal maps to (krb5_aname_to_localname: the
 * default realm, or what auth_to_local rules in krb5.conf accept).
 * Returns 0 with the name in out, or -1 (a realm or name the site does
 * not accept).
 */
int	user_from_principal(const char *principal, char *out, size_t outlen)
	    KP_NONNULL(1, 2) KP_WUR;

/*
 * Whether principal may act as the local user: for system users
 * (virtual 0) by krb5_kuserok (.k5login, auth_to_local); for virtual
 * users only as the name the principal maps to, since kuserok says yes
 * to any name without a passwd entry.  1 or 0.
 */
int	user_principal_may(int virtual, const char *principal,
	    const char *user) KP_NONNULL(2, 3);

#endif
