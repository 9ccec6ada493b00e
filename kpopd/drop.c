/* SPDX-License-Identifier: MIT */
/*
 * kpopd/drop.c: how kpopd's session processes give up root (drop.h), and
 * the groups a mail user is served with, which the master also looks up
 * once for the virtual users' account.  Each drop ends by checking that
 * root cannot be regained.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "kpopd/drop.h"
#include "kpopd/kpopd.h"
#include "kpopd/maildrop.h"

void
drop_groups(const char *name, gid_t gid, gid_t *groups, int *ngroupsp)
{
	int ngroups = KPOPD_GROUPS_MAX;

	if (getgrouplist(name, gid, groups, &ngroups) == -1) {
		log_warn("%s is in more than %d groups; using its primary "
		    "group only", name, KPOPD_GROUPS_MAX);
		groups[0] = gid;
		ngroups = 1;
	}
	*ngroupsp = ngroups;
}

int
drop_spool_gid(const char *spool_group, gid_t *gidp)
{
	struct group *gr;

	if (spool_group == NULL || spool_group[0] == '\0')
		return 0;
	if ((gr = getgrnam(spool_group)) == NULL) {
		log_warn("spool_group '%s' does not exist", spool_group);
		return 0;
	}
	*gidp = gr->gr_gid;
	return 1;
}

void
drop_net(const struct session_start *s)
{
	const struct kpopd_conf *c = s->conf;
	struct passwd *pw;
	struct stat st;

	if (!s->privsep)
		return;
	if ((pw = getpwnam(c->unpriv_user)) == NULL) {
		log_err("unpriv_user '%s' does not exist; create it with: "
		    "useradd --system --no-create-home --home-dir /nonexistent "
		    "--shell /usr/sbin/nologin %s", c->unpriv_user,
		    c->unpriv_user);
		_exit(78);
	}
	if (pw->pw_uid == 0) {
		log_err("unpriv_user '%s' is root", c->unpriv_user);
		_exit(78);
	}
	if (stat(c->chroot_dir, &st) == -1 && errno == ENOENT) {
		char parent[KPOPD_PATH_MAX];
		char *slash;

		util_strlcpy(parent, c->chroot_dir, sizeof(parent));
		if ((slash = strrchr(parent, '/')) != NULL && slash != parent) {
			*slash = '\0';
			(void)mkdir(parent, 0755);
		}
		(void)mkdir(c->chroot_dir, 0755);
	}
	if (chroot(c->chroot_dir) == -1 || chdir("/") == -1) {
		log_err("cannot chroot to %s: %s", c->chroot_dir,
		    strerror(errno));
		_exit(71);
	}
	if (setgroups(0, NULL) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1 || setuid(0) != -1) {
		log_err("cannot become %s: %s", c->unpriv_user,
		    strerror(errno));
		_exit(71);
	}
}

int
drop_mail_user(const struct session_start *s, const char *user,
    const struct passwd *pw, int spool, struct md_spool *sp)
{
	gid_t own[KPOPD_GROUPS_MAX], sgid = pw->pw_gid;
	const gid_t *groups = own;
	int ngroups, have_spool;
	const struct kpopd_ident *v = s->virt;

	if (!s->privsep)
		return 0;
	if (pw->pw_uid == 0) {
		log_err("refusing to serve %s as uid 0", user);
		return -1;
	}
	if (v != NULL && v->ok && v->uid == pw->pw_uid &&
	    v->gid == pw->pw_gid) {
		/* The virtual users' account, looked up by the master. */
		groups = v->groups;
		ngroups = v->ngroups;
		have_spool = v->spool_ok;
		if (have_spool)
			sgid = v->spool_gid;
	} else {
		drop_groups(pw->pw_name, pw->pw_gid, own, &ngroups);
		have_spool = spool && drop_spool_gid(s->conf->spool_group,
		    &sgid);
	}
	if (!spool || !have_spool)
		sgid = pw->pw_gid;
	if (setgroups((size_t)ngroups, groups) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, sgid) == -1 ||
	    setuid(pw->pw_uid) == -1) {
		log_err("cannot become %s: %s", pw->pw_name, strerror(errno));
		return -1;
	}
	if (setuid(0) != -1) {
		log_err("privileges could be regained; stopping");
		return -1;
	}
	if (sgid != pw->pw_gid) {
		sp->ok = 1;
		sp->gid = sgid;
	}
	return 0;
}
