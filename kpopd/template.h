/* SPDX-License-Identifier: MIT */
/*
 * kpopd/template.h: the path templates of kpopd.conf (maildrop,
 * krb5_principal) expanded for a user.
 */
#ifndef KPOPD_TEMPLATE_H
#define KPOPD_TEMPLATE_H

#include <stddef.h>

#include "common/util.h"

/*
 * Expand a template: %u the user, %d the domain (after '@' or '+' in the
 * user name, empty if none), %l the local part, %h the home directory,
 * %% a percent sign; a leading "~/" is the home directory.  If trustedp
 * is not NULL, *trustedp is how much of the result the administrator
 * chose (md_opts.trusted): a leading home directory (passwd's), or what
 * comes before the directory in which a user-dependent expansion starts;
 * 0 if nothing depends on the user.  Returns 0 or -1 (too long, or an
 * unknown %-sequence).
 */
int	template_expand(const char *tmpl, const char *user, const char *home,
	    char *out, size_t outlen, size_t *trustedp) KP_NONNULL(1, 2, 3, 4)
	    KP_WUR;

#endif
