/* SPDX-License-Identifier: MIT */
/*
 * common/sasl.h: kpop's glue to Cyrus SASL: the base64 codec SASL
 * exchanges (RFC 5034) use, through Cyrus SASL's own functions, and a
 * narrow server side: a fresh connection per attempt, start and step
 * with the outcomes KP_OK, KP_MORE, KP_AUTH and KP_TEMP (enum
 * kp_status), and the identities once done.  Only the mechanisms the
 * caller lists are ever offered (Cyrus SASL would offer ANONYMOUS and
 * more by default).  The prefix is xsasl_
 * because sasl_ is Cyrus SASL's own namespace.
 */
#ifndef KPOP_SASL_H
#define KPOP_SASL_H

#include <stddef.h>

#include "common/status.h"
#include "common/util.h"

/* The buffer size base64 of n bytes needs, with its NUL. */
#define XSASL_B64_SIZE(n)	((((n) + 2) / 3) * 4 + 1)

/*
 * Encode inlen bytes into out (of outsize bytes, at least
 * XSASL_B64_SIZE(inlen)) as NUL-terminated base64.  Returns 0 and the
 * length in *outlen, or -1 if out is too small.
 */
int	xsasl_b64_encode(const void *in, size_t inlen, char *out,
	    size_t outsize, size_t *outlen) KP_NONNULL(3, 5) KP_WUR;

/*
 * Decode the inlen characters of base64 at in into out (outsize bytes),
 * followed by a NUL, so outsize must be one more than the decoded length.
 * Returns 0 and the length in *outlen, or -1 if the text is not valid
 * base64 (wrong length, characters outside the alphabet, bad padding) or
 * does not fit.
 */
int	xsasl_b64_decode(const char *in, size_t inlen, void *out,
	    size_t outsize, size_t *outlen) KP_NONNULL(3, 5) KP_WUR;

/* A channel binding's type name and data (tls-unique: a Finished). */
#define XSASL_CB_NAME_MAX	32
#define XSASL_CB_DATA_MAX	64

struct xsasl_server_opts {
	const char	*service;	/* "pop" */
	const char	*hostname;	/* the server's name in principals */
	const char	*mechs;		/* allowed mechanisms, blank-separated */
	const char	*sasldb;	/* for password mechanisms, or NULL */
	const char	*pwcheck;	/* without a sasldb: pwcheck_method
					   ("saslauthd"), or NULL for the
					   SASL configuration's */
	const char	*keytab;	/* for GSSAPI, or NULL: the default */
	unsigned int	 max_ssf;	/* 0: no security layer */
	unsigned int	 ext_ssf;	/* what TLS below already gives */
	/*
	 * TLS channel binding (RFC 5929, RFC 9266) for the -PLUS
	 * mechanisms: its type ("tls-unique", "tls-exporter") and data, or
	 * cb_name NULL outside TLS.
	 */
	const char	*cb_name;
	const unsigned char *cb_data;
	size_t		 cb_len;
	/*
	 * Whether authid may act as authzid (called only when the client
	 * names an authzid other than itself): 1 yes, 0 no.
	 */
	int		(*authorize)(void *, const char *authid,
			    const char *authzid);
	void		*authorize_arg;
	/*
	 * The password check of the mechanisms that carry a password as it
	 * is (PLAIN, LOGIN), in place of Cyrus SASL's own (pwcheck_method,
	 * which then never runs), or NULL for Cyrus SASL's: called with the
	 * authentication identity and the password's passlen bytes (not
	 * NUL-terminated); returns KP_OK, KP_AUTH or KP_TEMP, with a
	 * message for the log in err, which becomes xsasl_server_error's.
	 */
	int		(*checkpass)(void *, const char *user, const char *pass,
			    size_t passlen, char *err, size_t errlen);
	void		*checkpass_arg;
};

struct xsasl_server;

/*
 * Initialize Cyrus SASL's server side for application app (which names
 * its config file, app.conf): load every plugin once.  Idempotent; a
 * process that forks per session calls it before forking, so that no
 * session pays for loading the plugins again.  Returns 0, or -1 with a
 * message in err.
 */
int	xsasl_server_init(const char *app, char *err, size_t errlen)
	    KP_NONNULL(1, 2) KP_WUR;

/* Undo xsasl_server_init (no connection may be open), so that the next
   init reads Cyrus's configuration and plugins again. */
void	xsasl_server_done(void);

/*
 * A new server connection for one attempt.  Returns it (free with
 * xsasl_server_free()), or NULL with a message in err.
 */
struct xsasl_server *xsasl_server_new(const struct xsasl_server_opts *,
	    char *err, size_t errlen) KP_NONNULL(1, 2) KP_WUR;

/*
 * Start mechanism mech with the client's initial response (in, inlen;
 * has_in 0 when the client sent none).  Returns KP_OK (authenticated),
 * KP_MORE (send the output as a challenge), KP_AUTH (refused: bad
 * credentials, an unknown user, a malformed response, a policy refusal)
 * or KP_TEMP (the check could not be made); on KP_MORE (and on KP_OK,
 * where a mechanism may have final data) *out and *outlen hold the
 * server's data, valid until the next call.
 */
int	xsasl_server_start(struct xsasl_server *, const char *mech,
	    const void *in, size_t inlen, int has_in, const void **out,
	    size_t *outlen) KP_NONNULL(1, 2, 6, 7) KP_WUR;

/* Feed the client's next response; as xsasl_server_start(). */
int	xsasl_server_step(struct xsasl_server *, const void *in, size_t inlen,
	    const void **out, size_t *outlen) KP_NONNULL(1, 4, 5) KP_WUR;

/* After KP_OK: the authenticated identity and the one it acts as. */
const char *xsasl_server_authid(struct xsasl_server *) KP_NONNULL(1);
const char *xsasl_server_user(struct xsasl_server *) KP_NONNULL(1);

/* After KP_OK: the security strength factor (0: no layer). */
unsigned int xsasl_server_ssf(struct xsasl_server *) KP_NONNULL(1);

/*
 * After KP_OK with a layer (ssf > 0): the most plaintext one
 * xsasl_server_encode() takes, and the codec itself.  Each returns 0 and
 * output valid until the next call, or -1 with xsasl_server_error() set.
 * Decoding takes any slice of the stream and may return nothing yet.
 */
size_t	xsasl_server_maxout(struct xsasl_server *) KP_NONNULL(1);
int	xsasl_server_encode(struct xsasl_server *, const void *in,
	    size_t inlen, const void **out, size_t *outlen)
	    KP_NONNULL(1, 4, 5) KP_WUR;
int	xsasl_server_decode(struct xsasl_server *, const void *in,
	    size_t inlen, const void **out, size_t *outlen)
	    KP_NONNULL(1, 4, 5) KP_WUR;

/* Why the last call failed, for the log; never NULL. */
const char *xsasl_server_error(struct xsasl_server *) KP_NONNULL(1);

void	xsasl_server_free(struct xsasl_server *);

/*
 * Check user's password (sasl_checkpass) against o->sasldb, or with
 * o->pwcheck (saslauthd) without one; how names that in the message.
 * Returns KP_OK, KP_AUTH (a wrong password, an unknown user, an account
 * that may not log in with a password) or KP_TEMP (the check could not
 * be made), with a message for the log in err.
 */
int	xsasl_checkpass(const struct xsasl_server_opts *o, const char *user,
	    const char *password, const char *how, char *err, size_t errlen)
	    KP_NONNULL(1, 2, 3, 4, 5) KP_WUR;

/*
 * Check an APOP (RFC 1939 s.7) response through Cyrus SASL's own APOP
 * support (sasl_checkapop), against the secret in the sasldb o->sasldb:
 * challenge is the greeting's timestamp, digest the client's hex MD5.
 * Returns KP_OK, KP_AUTH (wrong digest, unknown user) or
 * KP_TEMP, with a message for the log in err.
 */
int	xsasl_checkapop(const struct xsasl_server_opts *o,
	    const char *challenge, const char *user, const char *digest,
	    char *err, size_t errlen) KP_NONNULL(1, 2, 3, 4, 5) KP_WUR;

/* ---- the client side ---- */

struct xsasl_codec;

struct xsasl_client_opts {
	const char	*service;	/* "pop" */
	const char	*hostname;	/* the server's name in principals */
	const char	*authname;	/* for password mechanisms */
	const char	*user;		/* authzid, or NULL/"" for none */
	/* The password, asked for only when a mechanism needs it. */
	const char	*(*password)(void *);
	void		*password_arg;
	unsigned int	 max_ssf;	/* 0: no security layer */
	unsigned int	 ext_ssf;	/* what TLS below already gives */
	const char	*cb_name;	/* channel binding, as for a server */
	const unsigned char *cb_data;
	size_t		 cb_len;
};

struct xsasl_client;

struct xsasl_client *xsasl_client_new(const struct xsasl_client_opts *,
	    char *err, size_t errlen) KP_NONNULL(1, 2) KP_WUR;

/*
 * Choose the best mechanism of mechlist (blank-separated, what the
 * server offers and the caller allows) and start it: *mech is its name,
 * *out its initial response (*has_out 0 when it has none).  This and
 * xsasl_client_step return KP_MORE (send *out, expect a challenge),
 * KP_OK (done on our side), KP_AUTH (no usable mechanism, or the
 * server's data refused) or KP_TEMP; xsasl_client_error says why.
 */
int	xsasl_client_start(struct xsasl_client *, const char *mechlist,
	    const char **mech, const void **out, size_t *outlen, int *has_out)
	    KP_NONNULL(1, 2, 3, 4, 5, 6) KP_WUR;
int	xsasl_client_step(struct xsasl_client *, const void *in, size_t inlen,
	    const void **out, size_t *outlen) KP_NONNULL(1, 4, 5) KP_WUR;
const char *xsasl_client_error(struct xsasl_client *) KP_NONNULL(1);
unsigned int xsasl_client_ssf(struct xsasl_client *) KP_NONNULL(1);

/* A codec for xsasl_layer_start() over the client's connection. */
void	xsasl_client_codec(struct xsasl_client *, struct xsasl_codec *)
	    KP_NONNULL(1, 2);
void	xsasl_client_free(struct xsasl_client *);

/*
 * A SASL security layer as an io transport: after it starts, every byte
 * written goes through encode and every byte read through decode.  The
 * codec may run here (a client holding its sasl_conn_t) or elsewhere
 * (kpopd's net process relays to the monitor, which holds the
 * connection).  Each function returns 0 with output valid until its next
 * call (decode may return none: a packet is incomplete), or -1 with a
 * message in err.
 */
struct xsasl_codec {
	int	(*encode)(void *, const void *in, size_t inlen,
		    const void **out, size_t *outlen, char *err, size_t errlen);
	int	(*decode)(void *, const void *in, size_t inlen,
		    const void **out, size_t *outlen, char *err, size_t errlen);
	void	*arg;
	size_t	 maxout;	/* the most plaintext one encode takes */
};

struct io;

/*
 * Put the layer under io, over the plain descriptor (a layer inside TLS
 * is never negotiated: TLS gives the external SSF).  Queued output must
 * have been flushed and read-ahead dropped by the caller, since both
 * belong to the time before the layer.  0, or -1 when out of memory.
 */
int	xsasl_layer_start(struct io *, const struct xsasl_codec *)
	    KP_NONNULL(1, 2) KP_WUR;

/* Whether a layer runs on io. */
int	xsasl_layer_active(const struct io *) KP_NONNULL(1);

#endif
