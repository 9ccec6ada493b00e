/* SPDX-License-Identifier: MIT */
/*
 * kpopd/drop.h: how kpopd's session processes give up root: the net
 * process to unpriv_user in an empty chroot, the monitor to the owner of
 * the maildrop once a login succeeded; and the groups and spool gid the
 * master computes for them.
 */
#ifndef KPOPD_DROP_H
#define KPOPD_DROP_H

#include "common/util.h"
#include "kpopd/kpopd.h"

struct passwd;
struct md_spool;

/*
 * The net process gives up root, when kpopd started as root: an empty
 * chroot (chroot_dir, made if missing), then unpriv_user with no other
 * groups.  On failure it logs and exits (78 misconfigured, 71 the
 * system refused): the net process must not go on as root.
 */
void	drop_net(const struct session_start *) KP_NONNULL(1);

/*
 * The monitor becomes the owner of the maildrop, pw (user is the login
 * name, for the log): its uid, its primary group and its supplementary
 * groups.  For an mbox (spool 1), spool_group becomes the saved
 * set-group-ID, and only that: mbox_lock_spool makes it the effective gid
 * just while it creates or removes files in the mbox's directory (the
 * dotlock in a root:mail 2775 spool, as Debian's MDAs make it; the
 * session lock; the journal) and drops it again.  A Maildir session has
 * no trace of it.  Fills in *sp.  Nothing is done unless kpopd started
 * as root.  Returns 0 or -1 (logged).
 */
int	drop_mail_user(const struct session_start *, const char *user,
	    const struct passwd *pw, int spool, struct md_spool *sp)
	    KP_NONNULL(1, 2, 3, 5) KP_WUR;

/*
 * The groups a mail user is served with: its own (at most
 * KPOPD_GROUPS_MAX, else its primary only, with a warning).  spool_group
 * is not among them: an mbox session holds it only as its saved
 * set-group-ID (see drop_mail_user), a Maildir session not at all.  Fills
 * groups[] and *ngroups.
 */
void	drop_groups(const char *name, gid_t gid, gid_t *groups,
	    int *ngroups) KP_NONNULL(1, 3, 4);

/*
 * The gid of spool_group in *gidp.  Returns 1, or 0 if it is
 * empty (none wanted) or does not exist (logged).
 */
int	drop_spool_gid(const char *spool_group, gid_t *gidp) KP_NONNULL(2);

#endif
