/* SPDX-License-Identifier: MIT */
/*
 * common/tls.h: TLS for an io (io.h) through OpenSSL: contexts for the
 * server (certificate and key) and the client (CA file or the system
 * store), and starting TLS on a connection in place, for STLS (RFC 2595)
 * and implicit TLS (RFC 8314) alike.  TLS 1.2 is the least either side
 * accepts.  A client always verifies the chain and the host name with
 * OpenSSL's own checks.
 */
#ifndef KPOP_TLS_H
#define KPOP_TLS_H

#include <openssl/ssl.h>

#include "common/io.h"

enum tls_role { TLS_SERVER, TLS_CLIENT };

/*
 * A server context from a PEM certificate chain and private key.  Returns
 * a context to free with SSL_CTX_free(), or NULL with a message in err.
 */
SSL_CTX	*tls_server_ctx(const char *certfile, const char *keyfile, char *err,
	    size_t errlen) KP_NONNULL(1, 2, 3) KP_WUR;

/*
 * A client context that trusts the CA certificates in the PEM file cafile,
 * or the system's store when cafile is NULL.  Returns a context to free
 * with SSL_CTX_free(), or NULL with a message in err.
 */
SSL_CTX	*tls_client_ctx(const char *cafile, char *err, size_t errlen)
	    KP_NONNULL(2) KP_WUR;

/*
 * Start TLS on io in the given role and run the handshake to its end,
 * within the io's timeout.  Queued output is flushed first, in plain.  A
 * server throws away plaintext read ahead (RFC 2595 section 4); a client
 * refuses to start over plaintext read ahead, since only an attacker can
 * have put it there.  peer is the name (or IP address) the client checks
 * the certificate against, also sent as SNI; NULL for a server.  Returns
 * IO_OK, or IO_TIMEOUT / IO_ERROR with the reason in io_error().
 */
int	 tls_start(struct io *, SSL_CTX *, enum tls_role, const char *peer)
	    KP_NONNULL(1, 2) KP_WUR;

/* Whether TLS is running on io. */
int	 tls_active(const struct io *) KP_NONNULL(1);

/* The protocol version ("TLSv1.3") and cipher, or NULL without TLS. */
const char *tls_version(const struct io *) KP_NONNULL(1);
const char *tls_cipher(const struct io *) KP_NONNULL(1);

/* The OpenSSL session, for channel bindings and certificate details. */
SSL	*tls_ssl(const struct io *) KP_NONNULL(1);

/* The most bytes a channel binding takes (tls-unique: one Finished). */
#define TLS_CB_MAX	64

/*
 * The channel binding of the TLS session on io, for SASL -PLUS mechanisms:
 * "tls-exporter" (RFC 9266) under TLS 1.3, "tls-unique" (RFC 5929 s.3)
 * under TLS 1.2, where the exporter is not yet in common use (Cyrus
 * clients send tls-unique).  Returns the type name and fills data (at
 * least TLS_CB_MAX bytes) and *len, or NULL without TLS or on failure.
 */
const char *tls_channel_binding(const struct io *, unsigned char *data,
	    size_t *len) KP_NONNULL(1, 2, 3);

#endif
