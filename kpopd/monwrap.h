/* SPDX-License-Identifier: MIT */
/*
 * kpopd/monwrap.h: the net process's side of the monitor protocol
 * (kpopd.h's M_* messages), one function per request: each builds the
 * request, sends it, expects its one reply type and parses it into plain
 * C values.  The net files speak POP3 and call these; only monwrap.c
 * builds or reads a message.  The mirror of monitor.c's mon_cmds[].
 */
#ifndef KPOPD_MONWRAP_H
#define KPOPD_MONWRAP_H

#include <stddef.h>
#include <stdint.h>

#include "common/ipc.h"
#include "common/limits.h"
#include "common/util.h"
#include "kpopd/kpopd.h"

/* Messages one M_GET_MSG may ask for (one descriptor each). */
#define MW_FETCH_MAX	IPC_FDS_MAX

/* The monitor connection; the fields are monwrap.c's. */
struct mw {
	int		sock;
	int		kicked;	/* M_KICKED came (mw_kicked) */
	struct ipc_buf	b;	/* requests and their replies */
	struct ipc_buf	lb;	/* the security layer's relay, which runs
				   under io while b may be in use */
};

/* The answer to a login (M_AUTH_RESULT). */
struct mw_auth {
	int		result;		/* enum kp_status */
	uint32_t	layer;		/* > 0: a SASL layer starts after +OK
					   with this most plaintext a packet */
	char		user[KPOPD_USER_MAX];	/* logged in as; "" unless OK */
	char		text[256];	/* for the reply */
};

/* One snapshot entry (M_SNAP_PART). */
struct mw_msg {
	unsigned long long	size;
	char			uidl[POP3_UIDL_MAX + 1];
};

/* One message the monitor opened (M_MSG). */
struct mw_fetch {
	int		r;	/* enum kp_status of the open */
	int		fd;	/* the message's file when r == 0, else -1 */
	uint64_t	off, len;	/* where in fd, in octets */
	char		text[128];	/* the monitor's reason when r != 0 */
};

/* What the monitor's SASL is told of TLS (M_SASL_START). */
struct mw_tls {
	uint32_t	 ssf;		/* TLS strength; 0 outside TLS */
	const char	*cb_name;	/* channel binding type, or "" */
	const void	*cb;		/* its data */
	size_t		 cblen;
};

/* mw_sasl_start and mw_sasl_step: the monitor's answer. */
#define MW_SASL_DONE	0	/* *res is the login's result */
#define MW_SASL_CONT	1	/* a challenge to send the client */

/* mw_quit: the deletions do not fit one message; nothing was sent. */
#define MW_TOOBIG	(-2)

/*
 * Every function returns 0 (or as it says) with its answer filled in, or
 * -1 when the monitor failed us (gone, silent for MW_TIMEOUT, or an
 * answer of another type or malformed): the session cannot go on.
 * Pointers returned into replies stay valid until the next call.
 */

/* Start talking to the monitor on sock. */
void	mw_init(struct mw *, int sock) KP_NONNULL(1);

/* M_APOP_CHALLENGE: the greeting's timestamp, made by the monitor. */
int	mw_apop_challenge(struct mw *, char *out, size_t outlen)
	    KP_NONNULL(1, 2) KP_WUR;

/*
 * M_PROXY: tell the monitor the client's address from the PROXY header;
 * *statusp: KP_OK, or KP_TEMP if the master refuses it (too many
 * sessions from that address).  0, or -1 (the monitor failed).
 */
int	mw_proxy(struct mw *, const char *addr, int *statusp)
	    KP_NONNULL(1, 2, 3) KP_WUR;

/*
 * M_KPOP_APREQ: have the monitor check a KPOP AP-REQ.  *okp: whether it
 * is good; *repp, *replenp: the AP-REP (maybe empty) if so, else the
 * KRB-ERROR for the client (maybe empty).
 */
int	mw_kpop_apreq(struct mw *, const void *apreq, size_t len, int *okp,
	    const void **repp, size_t *replenp) KP_NONNULL(1, 2, 4, 5, 6)
	    KP_WUR;

/* M_AUTH_PASS: a password login; the request is wiped once sent. */
int	mw_auth_pass(struct mw *, const char *user, const char *pass,
	    struct mw_auth *res) KP_NONNULL(1, 2, 3, 4) KP_WUR;

/* M_AUTH_APOP: an APOP login with the hex digest. */
int	mw_auth_apop(struct mw *, const char *user, const char *digest,
	    struct mw_auth *res) KP_NONNULL(1, 2, 3, 4) KP_WUR;

/* M_KPOP_USER: after a good AP-REQ, log in as user. */
int	mw_kpop_user(struct mw *, const char *user, struct mw_auth *res)
	    KP_NONNULL(1, 2, 3) KP_WUR;

/*
 * M_SASL_START of mech, with an initial response if has_in (inlen may be
 * 0), and what TLS gives.  Returns MW_SASL_CONT with the decoded
 * challenge in *chalp, *chalenp; MW_SASL_DONE with *res; or -1.
 */
int	mw_sasl_start(struct mw *, const char *mech, int has_in,
	    const void *in, size_t inlen, const struct mw_tls *tls,
	    struct mw_auth *res, const void **chalp, size_t *chalenp)
	    KP_NONNULL(1, 2, 6, 7, 8, 9) KP_WUR;

/* M_SASL_STEP with the client's decoded response: as mw_sasl_start. */
int	mw_sasl_step(struct mw *, const void *in, size_t inlen,
	    struct mw_auth *res, const void **chalp, size_t *chalenp)
	    KP_NONNULL(1, 4, 5, 6) KP_WUR;

/* M_SASL_ABORT: the client cancelled (no reply).  0 or -1. */
int	mw_sasl_abort(struct mw *) KP_NONNULL(1) KP_WUR;

/* M_SNAP_HEAD, after a good login: the count and total octets. */
int	mw_snap_head(struct mw *, uint64_t *countp, uint64_t *totalp)
	    KP_NONNULL(1, 2, 3) KP_WUR;

/*
 * One M_SNAP_PART: fills msgs[0 .. *gotp - 1], 1 to room entries (the
 * monitor sends no more than the head's count, so room is what is left
 * of it).
 */
int	mw_snap_part(struct mw *, struct mw_msg *msgs, size_t room,
	    size_t *gotp) KP_NONNULL(1, 2, 4) KP_WUR;

/*
 * M_GET_MSG for the n (1 to MW_FETCH_MAX) 0-based indexes idx[]: fills
 * out[0 .. n - 1], each with its own descriptor to close when r is 0.
 * On -1 no descriptor is left open (errno EPROTO for a bad answer).
 */
int	mw_get_msg(struct mw *, const uint32_t *idx, size_t n,
	    struct mw_fetch *out) KP_NONNULL(1, 2, 4) KP_WUR;

/*
 * M_TOUCH: activity, so an idle takeover spares us, and the bytes sent
 * to the client so far, for the master (no reply).
 */
int	mw_touch(struct mw *, uint64_t sent) KP_NONNULL(1) KP_WUR;
/*
 * Whether kpopctl kicked the session: an M_KICKED came in place of a
 * reply, or is waiting now (looked for without waiting).  At the end.
 */
int	mw_kicked(struct mw *) KP_NONNULL(1);

/*
 * M_QUIT with del[i] != 0 for each of the count messages to delete.
 * *resultp: the monitor's enum kp_status of the deletions, with its text.
 * Returns 0, MW_TOOBIG, or -1.
 */
int	mw_quit(struct mw *, const unsigned char *del, size_t count,
	    int *resultp, char *text, size_t textlen)
	    KP_NONNULL(1, 4, 5) KP_WUR;

/*
 * M_LAYER_ENCODE and M_LAYER_DECODE as the struct xsasl_codec functions
 * of a SASL security layer whose codec runs in the monitor (arg: the
 * struct mw).
 */
int	mw_layer_encode(void *arg, const void *in, size_t inlen,
	    const void **out, size_t *outlen, char *err, size_t errlen);
int	mw_layer_decode(void *arg, const void *in, size_t inlen,
	    const void **out, size_t *outlen, char *err, size_t errlen);

#endif
