/* SPDX-License-Identifier: MIT */
/*
 * kpop/st-int.h: what the parts of the UIDL state share, private to
 * kpop/: the state object and its entries, a record, and the entry
 * points of the table (st-table.c), the journal and snapshot
 * (st-journal.c) and the account's directory and lock (st-account.c).
 * state.h is the public interface; state.c implements it.
 */
#ifndef KPOP_ST_INT_H
#define KPOP_ST_INT_H

#include <sys/types.h>

#include <limits.h>
#include <stddef.h>

#include "common/pop3.h"
#include "kpop/deliver.h"
#include "kpop/state.h"

struct st_ent {
	struct st_ent	*next;
	struct dlv_where *w;		/* ST_PENDING: where it is going */
	unsigned int	 mark;		/* == st->mark: the server lists it */
	enum st_status	 status;
	char		 uidl[POP3_UIDL_MAX + 1];
};

struct st {
	char		 dir[PATH_MAX];	/* the account's directory */
	char		 id[ST_ID_MAX + 1];
	int		 lock_fd;
	dev_t		 lock_dev;
	ino_t		 lock_ino;
	pid_t		 pid;		/* the process holding the lock */
	struct st	*held_next;	/* st-account.c's list of held ones */
	int		 jfd;		/* the journal, O_APPEND */
	off_t		 jsize;		/* its good length */
	unsigned long long gen;		/* of the snapshot and journal */
	int		 broken;	/* a torn record could not be cut */
	struct st_ent	**tab;
	size_t		 nb;		/* buckets: a power of two */
	size_t		 count;
	unsigned int	 mark;
	char		 line[ST_LINE_MAX];	/* a record being made */
};

/* One record, parsed or to be written. */
struct st_r {
	char		 type;		/* I D K X F; S J for the headers */
	char		 uidl[POP3_UIDL_MAX + 1];
	unsigned long long gen;		/* S, J */
	const struct dlv_where *w;	/* I, and D when given */
};

/* st-table.c: the entries, a hash table keyed by UIDL. */
struct st_ent *st_table_find(const struct st *, const char *uidl);
/* Apply a record to the table.  0, or -1 (no memory). */
int	st_table_apply(struct st *, const struct st_r *);
/* Free every entry and the buckets. */
void	st_table_free(struct st *);

/* st-journal.c: records, the journal and the snapshot. */
/* A record of type t for uidl (checked valid), with w or NULL. */
void	st_journal_rec(struct st_r *, char t, const char *uidl,
	    const struct dlv_where *w);
/* Load the snapshot, if any.  Sets st->gen. */
int	st_journal_load_snapshot(struct st *, char *err, size_t errlen);
/* Open and replay the journal (st->jfd), starting it over as needed. */
int	st_journal_load(struct st *, char *err, size_t errlen);
/* Journal n records durably, then apply them. */
int	st_journal_log(struct st *, const struct st_r *, size_t n, char *err,
	    size_t errlen);
/* Write the snapshot of generation gen: tmp, fsync, rename, fsync dir. */
int	st_journal_snapshot(struct st *, unsigned long long gen, char *err,
	    size_t errlen);
/* Start the journal over at generation gen, empty but for its header. */
int	st_journal_reset(struct st *, unsigned long long gen, char *err,
	    size_t errlen);

/* st-account.c: account ids, the state directories, the account lock. */
/* Whether id is one st_account_id could have made. */
int	st_account_id_valid(const char *id);
/* mkdir -p path; the directories made get mode 0700, durably. */
int	st_account_mkdirs(const char *path, char *err, size_t errlen);
/*
 * Make the account's directory, and check that it is a directory of
 * ours (not a symbolic link someone planted) and closed to others.
 */
int	st_account_dir(struct st *, char *err, size_t errlen);
/* Take the account's lock (st->lock_fd), waiting up to wait_s seconds. */
int	st_account_lock(struct st *, unsigned int wait_s, char *err,
	    size_t errlen);
/* Release it, if held. */
void	st_account_unlock(struct st *);

#endif
