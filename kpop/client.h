/* SPDX-License-Identifier: MIT */
/*
 * kpop/client.h: one POP3 session as a client: connecting (plain, STLS,
 * implicit TLS, KPOP's sendauth before the greeting), CAPA, the login
 * methods, and the commands a fetch needs, pipelined where the server
 * allows.  Every function returns a pop_status and leaves a message in
 * p->err; nothing here prints except the -d trace, which never shows a
 * password or a SASL token.
 */
#ifndef KPOP_CLIENT_H
#define KPOP_CLIENT_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "common/io.h"
#include "common/limits.h"
#include "common/pop3.h"
#include "common/util.h"

/* What went wrong, in the classes the exit codes distinguish. */
enum pop_status {
	POP_OK = 0,
	POP_ERR = 1,		/* the server said -ERR to a request */
	POP_AUTH = 2,		/* login refused */
	POP_TLS = 3,		/* TLS failed, or not verified */
	POP_UNAVAIL = 4,	/* cannot connect, or the server went away */
	POP_PROTO = 5,		/* the server broke the protocol */
	POP_KRB = 6,		/* no usable Kerberos ticket */
	POP_TEMP = 7,		/* [SYS/TEMP], [IN-USE], [LOGIN-DELAY] */
	POP_LOCAL = 8,		/* a local failure (memory, a sink) */
	POP_TOOBIG = 9		/* a message went past pop_sink.max */
};

/* A server line kept, CRLF removed (RFC 2449 s.4: 512 with CRLF). */
#define POP_LINE_MAX	1024
/* CAPA lines kept, for --serverinfo. */
#define POP_CAPA_MAX	32
/* CAPA lines read: RFC 2449 and its extensions define a few dozen. */
#define POP_CAPA_LINES_MAX	1024
/* RETRs in flight when PIPELINING is offered: bounded so that neither
   side's buffers fill with requests while responses wait. */
#define POP_WINDOW	16
/*
 * Messages a maildrop may list: bounds what a server's STAT makes kpop
 * allocate (about 120 bytes a message with the fetch's own arrays), to
 * some 120 MB; kpopd serves at most as many (MD_MSGS_MAX).
 */
#define POP_COUNT_MAX	1000000
/*
 * How far a message may run past pop_sink.max (at least; max itself if
 * larger) and still be read to its end and skipped: servers that count
 * sizes loosely are off by little; one that goes on further is not
 * listened to.
 */
#define POP_OVERRUN_MIN	(1024ULL * 1024)
/* Seconds a connection, and each read or write, may take. */
#define POP_TIMEOUT_S	60

struct pop_capa {
	int	seen;		/* CAPA answered +OK */
	int	top, uidl, user, stls, pipelining, resp_codes, utf8;
	char	sasl[POP_LINE_MAX];	/* the SASL mechanisms, or "" */
	char	login_delay[64], expire[64], implementation[128];
	char	lines[POP_CAPA_MAX][128];
	size_t	nlines;
};

struct pop {
	struct io		*io;
	int			 trace;		/* -d: the protocol to stderr */
	char			 host[256];	/* as given, for TLS and SASL */
	char			 tls_name[256];	/* the certificate's name, if
						   not host (RFC 6186 s.6) */
	char			 greeting[POP_LINE_MAX];
	char			 apop_ts[POP_LINE_MAX];	/* "<...>" or "" */
	struct pop_capa		 capa;
	const char		*auth_method;	/* what logged in */
	char			 auth_buf[64];
	unsigned int		 ssf;		/* a SASL layer's strength */
	char			 code[POP3_CODE_MAX + 1];	/* last -ERR */
	char			 line[POP_LINE_MAX];	/* last response */
	char			 err[512];
	void			*sasl;		/* a layer's connection */
};

/*
 * Connect to host:port (every address it resolves to, in turn, each
 * within POP_TIMEOUT_S).  Returns POP_OK or POP_UNAVAIL.
 */
int	pop_connect(struct pop *, const char *host, unsigned int port)
	    KP_NONNULL(1, 2) KP_WUR;

/* Start TLS now (implicit TLS, or after STLS), verifying tls_name, or
   host when that is empty. */
int	pop_tls(struct pop *, SSL_CTX *) KP_NONNULL(1, 2) KP_WUR;

/* Read the greeting (keeping an APOP timestamp), then CAPA. */
int	pop_greeting(struct pop *) KP_NONNULL(1) KP_WUR;
int	pop_capa(struct pop *) KP_NONNULL(1) KP_WUR;

/* STLS, the TLS handshake, and CAPA again (RFC 2595 s.4). */
int	pop_stls(struct pop *, SSL_CTX *) KP_NONNULL(1, 2) KP_WUR;

/*
 * KPOP (TCP 1109) before the greeting: sendauth "KPOPV1.0" with an AP-REQ
 * for service/host from the default ticket cache, mutual authentication
 * checked.  principal gets the client principal, for USER's mapping.
 */
int	pop_kpop(struct pop *, const char *service, char *principal,
	    size_t plen) KP_NONNULL(1, 2, 3) KP_WUR;

struct pop_login {
	const char	*user;		/* login name; authzid for SASL */
	const char	*service;	/* "pop" */
	const char	*mechs;		/* SASL mechanisms allowed, or NULL */
	const char	*(*password)(void *);	/* asked only when needed */
	void		*password_arg;
	unsigned int	 max_ssf;	/* a SASL layer, outside TLS */
};

/* The login methods.  POP_AUTH when the server refused. */
int	pop_auth_sasl(struct pop *, const struct pop_login *)
	    KP_NONNULL(1, 2) KP_WUR;
int	pop_auth_user(struct pop *, const struct pop_login *)
	    KP_NONNULL(1, 2) KP_WUR;
int	pop_auth_apop(struct pop *, const struct pop_login *)
	    KP_NONNULL(1, 2) KP_WUR;
/* After KPOP: USER name, PASS with no secret. */
int	pop_auth_kpop(struct pop *, const struct pop_login *)
	    KP_NONNULL(1, 2) KP_WUR;

/* A one-line command and its response; *resp text in p->line. */
int	pop_simple(struct pop *, const char *fmt, ...) KP_PRINTF(2, 3)
	    KP_NONNULL(1, 2) KP_WUR;

struct pop_msg {
	unsigned long long	 size;
	char			 uidl[POP3_UIDL_MAX + 1];	/* or "" */
};

/*
 * STAT, then UIDL and LIST (one write when pipelining): the maildrop as
 * an array of count messages (free() it).  A server without UIDL gives
 * empty uidls.
 */
int	pop_scan(struct pop *, struct pop_msg **msgs, size_t *count,
	    unsigned long long *total) KP_NONNULL(1, 2, 3, 4) KP_WUR;

/*
 * Where a retrieved message's bytes go (un-stuffed, LF line ends).
 * begin is called when the +OK arrives, data for each block, end after
 * the final "."; any returning -1 stops the fetch with POP_LOCAL.
 */
struct pop_sink {
	int	(*begin)(void *, size_t idx);
	int	(*data)(void *, size_t idx, const void *, size_t);
	int	(*end)(void *, size_t idx);
	void	*arg;
	/*
	 * The most bytes one message may have (as handed to data), or 0 for
	 * no bound.  Past it, data is called no more, the rest is read and
	 * dropped, and abandon (if not NULL) is called instead of end, with
	 * the reason; the fetch goes on.  A message that goes on past
	 * max + max(max, POP_OVERRUN_MIN) ends the fetch with POP_PROTO,
	 * mid-message: the connection is then out of step and only
	 * pop_close() is left to call.
	 */
	unsigned long long max;
	void	(*abandon)(void *, size_t idx, const char *why);
};

/*
 * RETR each message whose index is in idx (n of them), in order, with up
 * to POP_WINDOW in flight when the server pipelines.  With top >= 0,
 * "TOP i top" instead.  A -ERR for one message stops there; one longer
 * than sink->max is skipped (see pop_sink), or ends the session.
 */
int	pop_retr(struct pop *, const size_t *idx, size_t n, long long top,
	    const struct pop_sink *) KP_NONNULL(1, 2, 5) KP_WUR;

/* DELE each message in idx, pipelined where allowed. */
int	pop_dele(struct pop *, const size_t *idx, size_t n) KP_NONNULL(1, 2)
	    KP_WUR;

/* QUIT: the server commits deletions when this returns POP_OK. */
int	pop_quit(struct pop *) KP_NONNULL(1);

void	pop_close(struct pop *);

#endif
