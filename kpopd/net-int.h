/* SPDX-License-Identifier: MIT */
/*
 * kpopd/net-int.h: what the net process's files share (net.c: set-up and
 * the command loop; net-auth.c: the AUTHORIZATION state's commands;
 * net-trans.c: the TRANSACTION state's; net-reply.c: replies), and
 * nothing else includes.
 */
#ifndef KPOPD_NET_INT_H
#define KPOPD_NET_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/io.h"
#include "common/limits.h"
#include "common/pop3.h"
#include "kpopd/kpopd.h"
#include "kpopd/monwrap.h"

enum net_state { NS_AUTH = 1, NS_TRANS = 2 };

/* What a handler tells the loop. */
enum net_verdict {
	NV_OK,		/* replied; carry on */
	NV_BAD,		/* replied -ERR; counts as a bad command */
	NV_CLOSE,	/* replied; close the connection */
	NV_FAIL		/* cannot go on (I/O or monitor failure) */
};

/*
 * A message the monitor has opened ahead of its RETR or TOP.  Clients
 * fetch in order, often with many commands in flight; asking for one
 * descriptor per message made every message wait for a monitor round
 * trip.  So each miss asks for a window of the next messages, doubling
 * while the client keeps reading in order (1, 2, 4 ... MW_FETCH_MAX) and
 * back to one when it jumps.
 */
struct net_pre {
	size_t		idx;
	int		live;		/* not taken yet */
	struct mw_fetch	m;		/* m.fd -1 once taken */
};

struct net {
	const struct session_start	*s;	/* &ss */
	struct session_start		 ss;	/* ours: peer may change */
	int				 proxy_over;	/* per-IP limit hit */
	const struct kpopd_conf		*c;
	struct io			*io;
	enum net_state			 state;
	int				 have_user;
	int				 kpop;	/* KPOP authenticated */
	char				 apop[320];	/* the APOP stamp */
	int				 utf8;
	unsigned int			 bad;
	char				 user[KPOPD_USER_MAX];
	size_t				 count;
	size_t				 snap_got;	/* msgs[] filled */
	struct mw_msg			*msgs;
	unsigned char			*del;
	size_t				 ndel;
	unsigned long long		 delsize, total;
	size_t				 last;
	unsigned long long		 retr_msgs, retr_bytes;
	time_t				 start, touched;
	const char			*method;	/* as the end line says */
	int				 layer;	/* a SASL layer runs */
	const char			*end;
	char				 method_buf[KPOPD_MECH_MAX + 16];
	char				 sasl_line[POP3_SASL_LINE_MAX + 1];
	/* A command line: AUTH's may be as long as a SASL line. */
	char				 line[POP3_SASL_LINE_MAX - 1];
	struct mw			 mw;	/* the monitor */
	struct net_pre			 pre[MW_FETCH_MAX];
	size_t				 npre;	/* entries in pre[] */
	size_t				 pre_win;	/* last window asked */
	size_t				 pre_next;	/* index after it */
	unsigned char			 block[NET_RETR_BLOCK];
};

/*
 * net-proxy.c: on a proxy listener, read the PROXY header from the raw
 * socket (before TLS and sendauth), within login_timeout, and make its
 * client address the session's (n->ss.peer, via the monitor, which asks
 * the master about max_sessions_per_ip: n->proxy_over).  0, or -1
 * (logged, n->end set): close.
 */
int	net_proxy(struct net *) KP_NONNULL(1) KP_WUR;

/* A command handler: replies through n->io and says how it went. */
typedef enum net_verdict net_cmd_fn(struct net *, const struct pop3_cmd *);

/*
 * net-reply.c: queue a reply line (CRLF added).  net_reply: NV_OK, or
 * NV_FAIL on an I/O error.  net_reply_bad: -ERR text for a bad command,
 * NV_BAD.  net_reply_refuse: -ERR text for a good request that cannot be
 * done (no such message), not counted: NV_OK.
 */
enum net_verdict net_reply(struct net *, const char *fmt, ...)
	    KP_PRINTF(2, 3) KP_NONNULL(1, 2);
enum net_verdict net_reply_bad(struct net *, const char *text)
	    KP_NONNULL(1, 2);
enum net_verdict net_reply_refuse(struct net *, const char *text)
	    KP_NONNULL(1, 2);

/* net-auth.c: the AUTHORIZATION state's commands (CAPA in either). */
net_cmd_fn	net_auth_capa, net_auth_stls, net_auth_user, net_auth_pass,
		net_auth_apop, net_auth_auth, net_auth_utf8, net_auth_quit;

/* net-trans.c: the TRANSACTION state's commands. */
net_cmd_fn	net_trans_stat, net_trans_list, net_trans_uidl, net_trans_retr,
		net_trans_top, net_trans_dele, net_trans_rset, net_trans_noop,
		net_trans_last, net_trans_quit;

/*
 * net-trans.c: after a good login, enter the TRANSACTION state: take the
 * snapshot's head (the rest too, if rest), start its timeouts.  Returns 0,
 * or -1 (the monitor failed us, or out of memory).
 */
int	net_trans_begin(struct net *, int rest) KP_NONNULL(1) KP_WUR;

/*
 * net-trans.c: the rest of the snapshot, the sizes and UIDLs, taken when
 * a command first needs them.  Returns 0, or -1.
 */
int	net_trans_table(struct net *) KP_NONNULL(1) KP_WUR;

/* net-trans.c: close the messages opened ahead and not sent. */
void	net_trans_end(struct net *) KP_NONNULL(1);

#endif
