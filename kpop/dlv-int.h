/* SPDX-License-Identifier: MIT */
/*
 * kpop/dlv-int.h: what the delivery targets (dlv-maildir.c, dlv-mbox.c,
 * dlv-mda.c, dlv-stdout.c, dlv-smtp.c) share with deliver.c, private to
 * kpop/: the delivery handle, the table of a target's entry points,
 * and the errors, fsync and output buffer of dlv-io.c.  deliver.h is the public
 * interface.
 */
#ifndef KPOP_DLV_INT_H
#define KPOP_DLV_INT_H

#include <sys/types.h>

#include <limits.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

#include "common/dotlock.h"
#include "common/util.h"
#include "kpop/deliver.h"

/* The mbox locks while held. */
struct dlv_lock {
	struct dotlock	 dl;		/* <mbox>.lock */
	int		 fd;		/* the mbox, fcntl-locked, or -1 */
};

struct dlv_ops;

struct dlv {
	const struct dlv_ops *ops;	/* the target's entry points */
	const char	*label;		/* where output goes, for messages */
	int		 status;	/* KP_OK, or the first failure */
	int		 prepared;
	int		 fd;		/* tmp file, spool, MDA pipe, stdout */
	time_t		 when;
	unsigned int	 lock_wait;
	struct dlv_where w;
	char		 err[DLV_ERR_MAX];
	unsigned char	*buf;		/* DLV_BUF_SIZE of pending output */
	size_t		 blen;
	unsigned long long out;		/* bytes written to fd */
	int		 last;		/* the last byte fed, or -1 */
	EVP_MD_CTX	*sha;		/* a digest of what is flushed, or
					   NULL (the mbox spool has one) */
	/* mbox (dlv-mbox.c): mboxrd quoting, the state of a line's start */
	int		 bol;		/* still at the start of a line */
	unsigned long long gts;		/* '>'s held back there */
	size_t		 from;		/* bytes of "From " held after them */
	struct dlv_lock	 lk;
	off_t		 mbox_size;	/* its size when locked */
	size_t		 fix;		/* newlines to add before us */
	/* Maildir (dlv-maildir.c) */
	char		 base[DLV_NAME_MAX];	/* the name less ,S= */
	char		 tmp[PATH_MAX];		/* the tmp/ file */
	/* MDA (dlv-mda.c) */
	pid_t		 pid;		/* the MDA until reaped, or -1 */
	/* LMTP/SMTP (dlv-smtp.c) */
	struct dlv_smtp	*smtp;		/* the session, or NULL */
};

/*
 * A target.  open starts a message (h->w.arg, token, when and lock_wait
 * are set; fd is -1) and returns KP_OK or the failure it recorded with
 * dlv_io_fail.  write feeds bytes (NULL: dlv_io_put as they are).
 * prepare finishes the message as dlv_prepare says; its status is the
 * handle's.  commit delivers, given what prepare left (a target that
 * must settle even after a failure, as the MDA, looks at h itself).
 * release undoes whatever was not committed before the handle is freed;
 * an fd still open after it is closed.  pipe: fd is a pipe or terminal
 * (writes with SIGPIPE blocked).
 */
struct dlv_ops {
	enum dlv_kind	 kind;
	const char	*label;		/* h->label unless open sets it */
	int		 pipe;
	int		(*open)(struct dlv *, const struct dlv_info *);
	void		(*write)(struct dlv *, const unsigned char *, size_t);
	int		(*prepare)(struct dlv *);
	int		(*commit)(struct dlv *, int status);
	void		(*release)(struct dlv *);
};

extern const struct dlv_ops dlv_maildir_ops;
extern const struct dlv_ops dlv_mbox_ops;
extern const struct dlv_ops dlv_mda_ops;
extern const struct dlv_ops dlv_stdout_ops;
extern const struct dlv_ops dlv_smtp_ops;

/* dlv-smtp.c */

/*
 * The server of an LMTP (kind DLV_LMTP) or SMTP target's arg: a Unix
 * socket path (LMTP only, arg starting with '/'; *port is then 0), or
 * HOST:PORT, [IPV6]:PORT (SMTP: the port may be left out, 25).  The host
 * goes into host (of hostlen).  KP_OK, or KP_PERM with err set.
 */
int	dlv_smtp_addr(enum dlv_kind kind, const char *arg, char *host,
	    size_t hostlen, unsigned int *port, char *err, size_t errlen)
	    KP_NONNULL(2, 3, 5, 6) KP_WUR;

/* dlv-io.c */

/*
 * KP_PERM for errno values retrying will not fix, else KP_TEMP: a full
 * disk, a quota or an I/O error may pass.
 */
int	dlv_io_status(int e);
/* Record the handle's first failure; returns the status it holds. */
int	dlv_io_fail(struct dlv *, int, const char *, ...) KP_PRINTF(3, 4);
/* fsync fd; what names it for the test hook.  0 or -1 (errno). */
int	dlv_io_fsync(int fd, const char *what);
/* fsync the directory at path.  0 or -1 (errno). */
int	dlv_io_fsync_dir(const char *path);
/* Write out the pending output (and hash it, if h->sha). */
int	dlv_io_flush(struct dlv *);
/* Queue n bytes of output. */
void	dlv_io_put(struct dlv *, const void *, size_t);

#endif
