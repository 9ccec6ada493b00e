/* SPDX-License-Identifier: MIT */
/*
 * common/mech.h: SASL mechanism lists, the one parser of them.  A list
 * is names separated by blanks and commas, as kpopd.conf's
 * sasl_mechanisms, kpop's auth setting and a CAPA "SASL" line give it;
 * names compare case-insensitively (RFC 4422 section 3.1).
 */
#ifndef KPOP_MECH_H
#define KPOP_MECH_H

#include <stddef.h>

#include "common/util.h"

/*
 * The next name of the list at *cursor: returns its start and stores its
 * length in *len, moving *cursor past it; NULL at the end of the list.
 */
const char *mech_next(const char **cursor, size_t *len) KP_NONNULL(1, 2);

/* Whether list names the mechanism of n bytes at mech. */
int	mech_listed(const char *list, const char *mech, size_t n)
	    KP_NONNULL(1, 2);

/*
 * Whether the mechanism of n bytes at mech sends the password as it is
 * (PLAIN, RFC 4616; LOGIN): offered only where a password may cross the
 * connection, and checked as a password login is.
 */
int	mech_password(const char *mech, size_t n) KP_NONNULL(1);

/*
 * Copy the names of list into out (of size outlen) separated by one
 * blank, each one only if keep(name, len, arg) says so (NULL keeps all).
 * Names that do not fit whole are left out.
 */
void	mech_filter(const char *list, int (*keep)(const char *, size_t,
	    void *), void *arg, char *out, size_t outlen) KP_NONNULL(1, 4);

#endif
