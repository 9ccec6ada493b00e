/* SPDX-License-Identifier: MIT */
/*
 * kpopd/refuse.h: turning away a connection over the session limits
 * (max_sessions, max_sessions_per_ip) with a reply its client can show,
 * on every port, without the master ever waiting on the client.
 */
#ifndef KPOPD_REFUSE_H
#define KPOPD_REFUSE_H

#include <sys/types.h>

#include <krb5.h>

#include "common/io.h"
#include "kpopd/kpopd.h"

/* The sentence every refusal over the session limits carries. */
#define REFUSE_TEXT	"[SYS/TEMP] too many sessions, try again later"

/*
 * The master, for a connection over a limit (why says which): whether
 * it is answered at once (POP3: the -ERR line is written and s->fd
 * closed here; or every refusal process is busy: closed without a word,
 * and logged), returning 1; or it needs a refusal process (POP3S, KPOP),
 * returning 0: the caller forks and the child calls refuse_main.
 */
int	refuse_now(const struct session_start *s, const char *why)
	    KP_NONNULL(1, 2);

/*
 * The refusal process (the master's child, with only s->fd of the
 * master's connections open): drops privileges as the net process does,
 * then for POP3S does the TLS handshake and sends the -ERR [SYS/TEMP]
 * line, for KPOP accepts the sendauth versions, reads the AP-REQ and
 * answers with a KRB-ERROR (KDC_ERR_SVC_UNAVAILABLE, the same sentence
 * as its text).  All within REFUSE_TIMEOUT seconds.  Never returns.
 */
void	refuse_main(const struct session_start *s)
	    KP_NONNULL(1) __attribute__((noreturn));

/*
 * The KRB-ERROR (KDC_ERR_SVC_UNAVAILABLE, text as its text, from s's
 * service principal) that refuses a KPOP client, made in *pkt (freed by
 * exiting) before any byte of the client is read, while krb5.conf can
 * still be read.  0, or -1.
 */
int	refuse_krb_error(const struct session_start *s, const char *text,
	    krb5_data *pkt) KP_NONNULL(1, 2, 3) KP_WUR;
/*
 * Refuse a KPOP client on io: accept its sendauth versions, read its
 * AP-REQ (never checked), send pkt.  0, or -1 with err set.
 */
int	refuse_kpop(struct io *io, const krb5_data *pkt, char *err,
	    size_t errlen) KP_NONNULL(1, 2, 3) KP_WUR;

/* The master: refusal process pid was started for s, over why. */
void	refuse_started(pid_t pid, const struct session_start *s,
	    const char *why) KP_NONNULL(2, 3);

/*
 * The master: a child ended with wait status st.  Returns 1 if it was a
 * refusal process (counted and logged here), else 0.
 */
int	refuse_reaped(pid_t pid, int st);

#endif
