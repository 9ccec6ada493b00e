/* SPDX-License-Identifier: MIT */
/*
 * common/tls.c: the OpenSSL transport for io.c and the contexts it runs
 * with.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/io-int.h"
#include "common/tls.h"

/*
 * Describe the first error on OpenSSL's queue (then clear the queue) into
 * buf, after the prefix what.
 */
static void
tls_describe(char *buf, size_t len, const char *what)
{
	unsigned long e;
	const char *reason;
	char tmp[ERR_MSG_MAX];

	e = ERR_peek_error();
	if (e == 0) {
		util_snprintf(buf, len, "%s", what);
		return;
	}
	reason = ERR_reason_error_string(e);
	if (reason == NULL) {
		ERR_error_string_n(e, tmp, sizeof(tmp));
		reason = tmp;
	}
	util_snprintf(buf, len, "%s: %s", what, reason);
	ERR_clear_error();
}

static int
tls_common_setup(SSL_CTX *ctx)
{
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		return -1;
	/*
	 * POP3 delimits its own data, so a peer that closes without
	 * close_notify truncates nothing the protocol cannot see.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return 0;
}

SSL_CTX *
tls_server_ctx(const char *certfile, const char *keyfile, char *err,
    size_t errlen)
{
	SSL_CTX *ctx;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    tls_common_setup(ctx) == -1) {
		tls_describe(err, errlen, "cannot create a TLS context");
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, certfile) != 1) {
		char what[ERR_MSG_MAX];

		util_snprintf(what, sizeof(what),
		    "%s: cannot load the certificate chain", certfile);
		tls_describe(err, errlen, what);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, keyfile, SSL_FILETYPE_PEM) != 1) {
		char what[ERR_MSG_MAX];

		util_snprintf(what, sizeof(what),
		    "%s: cannot load the private key", keyfile);
		tls_describe(err, errlen, what);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		char what[ERR_MSG_MAX];

		util_snprintf(what, sizeof(what),
		    "%s does not match the certificate in %s", keyfile,
		    certfile);
		tls_describe(err, errlen, what);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_client_ctx(const char *cafile, char *err, size_t errlen)
{
	SSL_CTX *ctx;
	int r;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    tls_common_setup(ctx) == -1) {
		tls_describe(err, errlen, "cannot create a TLS context");
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cafile != NULL)
		r = SSL_CTX_load_verify_locations(ctx, cafile, NULL);
	else
		r = SSL_CTX_set_default_verify_paths(ctx);
	if (r != 1) {
		char what[ERR_MSG_MAX];

		util_snprintf(what, sizeof(what), "%s: cannot load CA "
		    "certificates", cafile != NULL ? cafile :
		    "the system store");
		tls_describe(err, errlen, what);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/*
 * Map the outcome r of an SSL call onto the transport's return values,
 * with a message in io->err for errors.
 */
static ssize_t
tls_outcome(struct io *io, int r, const char *op)
{
	SSL *ssl = io->tctx;
	char what[64];

	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return IO_T_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return IO_T_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return IO_T_EOF;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			if (errno == 0 || errno == ECONNRESET)
				return IO_T_EOF;
			io_fail(io, "TLS %s: %s", op, strerror(errno));
			return IO_T_ERROR;
		}
		/* FALLTHROUGH */
	default:
		util_snprintf(what, sizeof(what), "TLS %s", op);
		tls_describe(io->err, sizeof(io->err), what);
		return IO_T_ERROR;
	}
}

static ssize_t
tls_read(struct io *io, void *buf, size_t n)
{
	size_t got;
	int r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_read_ex(io->tctx, buf, n, &got)) == 1)
		return (ssize_t)got;
	return tls_outcome(io, r, "read");
}

static ssize_t
tls_write(struct io *io, const void *buf, size_t n)
{
	size_t put;
	int r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_write_ex(io->tctx, buf, n, &put)) == 1)
		return (ssize_t)put;
	return tls_outcome(io, r, "write");
}

static size_t
tls_pending(const struct io *io)
{
	int n = SSL_pending(io->tctx);

	return n > 0 ? (size_t)n : 0;
}

static void
tls_end(struct io *io)
{
	SSL *ssl = io->tctx;

	if (ssl == NULL)
		return;
	/* One try at close_notify; a peer already gone is no error. */
	ERR_clear_error();
	(void)SSL_shutdown(ssl);
	ERR_clear_error();
	SSL_free(ssl);
	io->tctx = NULL;
}

static const struct io_transport tls_transport = {
	"tls", tls_read, tls_write, tls_pending, tls_end
};

/* Whether name is an IPv4 or IPv6 address literal. */
static int
tls_is_ip(const char *name)
{
	ASN1_OCTET_STRING *ip;

	if ((ip = a2i_IPADDRESS(name)) == NULL) {
		ERR_clear_error();
		return 0;
	}
	ASN1_OCTET_STRING_free(ip);
	return 1;
}

/* Make ssl, as a client, check the peer's certificate against peer. */
static int
tls_set_peer(SSL *ssl, const char *peer)
{
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);

	X509_VERIFY_PARAM_set_hostflags(param,
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (tls_is_ip(peer))
		return X509_VERIFY_PARAM_set1_ip_asc(param, peer) == 1 ? 0 : -1;
	/* The SNI macro casts away const; OpenSSL copies the name. */
	if (SSL_set1_host(ssl, peer) != 1 ||
	    SSL_set_tlsext_host_name(ssl, (char *)(uintptr_t)peer) != 1)
		return -1;
	return 0;
}

int
tls_start(struct io *io, SSL_CTX *ctx, enum tls_role role, const char *peer)
{
	int64_t deadline;
	SSL *ssl = NULL;
	long vr;
	int r, st;

	if (io->t == &tls_transport)
		return io_fail(io, "TLS is already running");
	if ((st = io_flush(io)) != IO_OK)
		return st;
	if (io->rpos != io->rlen) {
		if (role == TLS_CLIENT)
			return io_fail(io, "the server sent data before "
			    "the TLS handshake; refusing to go on");
		io_drop_input(io);
	}
	if (role == TLS_CLIENT && peer == NULL)
		return io_fail(io, "no server name to verify");
	ERR_clear_error();
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, io->fd) != 1) {
		tls_describe(io->err, sizeof(io->err), "cannot start TLS");
		SSL_free(ssl);
		return IO_ERROR;
	}
	if (role == TLS_CLIENT && tls_set_peer(ssl, peer) == -1) {
		tls_describe(io->err, sizeof(io->err),
		    "cannot set the name to verify");
		SSL_free(ssl);
		return IO_ERROR;
	}
	if (role == TLS_SERVER)
		SSL_set_accept_state(ssl);
	else
		SSL_set_connect_state(ssl);
	io_set_transport(io, &tls_transport, ssl);

	deadline = io_deadline(io);
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((r = SSL_do_handshake(ssl)) == 1)
			return IO_OK;
		switch (tls_outcome(io, r, "handshake")) {
		case IO_T_WANT_READ:
			st = io_wait(io, POLLIN, deadline);
			break;
		case IO_T_WANT_WRITE:
			st = io_wait(io, POLLOUT, deadline);
			break;
		case IO_T_EOF:
			io_fail(io, "TLS handshake: the peer closed the "
			    "connection");
			st = IO_ERROR;
			break;
		default:
			st = IO_ERROR;
			vr = SSL_get_verify_result(ssl);
			if (role == TLS_CLIENT && vr != X509_V_OK)
				io_fail(io, "TLS handshake: certificate "
				    "verify failed: %s",
				    X509_verify_cert_error_string(vr));
			break;
		}
		if (st != IO_OK) {
			tls_end(io);
			io_set_transport(io, NULL, NULL);
			return st;
		}
	}
}

int
tls_active(const struct io *io)
{
	return io->t == &tls_transport;
}

SSL *
tls_ssl(const struct io *io)
{
	return tls_active(io) ? io->tctx : NULL;
}

const char *
tls_version(const struct io *io)
{
	return tls_active(io) ? SSL_get_version(io->tctx) : NULL;
}

const char *
tls_cipher(const struct io *io)
{
	return tls_active(io) ? SSL_get_cipher_name(io->tctx) : NULL;
}

/* RFC 9266 s.2: the exporter label, 32 bytes, no context. */
#define TLS_CB_EXPORTER_LABEL	"EXPORTER-Channel-Binding"
#define TLS_CB_EXPORTER_LEN	32

const char *
tls_channel_binding(const struct io *io, unsigned char *data, size_t *len)
{
	SSL *ssl = tls_ssl(io);
	size_t n;
	int first_is_ours;

	if (ssl == NULL)
		return NULL;
	if (SSL_version(ssl) >= TLS1_3_VERSION) {
		if (SSL_export_keying_material(ssl, data, TLS_CB_EXPORTER_LEN,
		    TLS_CB_EXPORTER_LABEL, strlen(TLS_CB_EXPORTER_LABEL), NULL,
		    0, 0) != 1)
			return NULL;
		*len = TLS_CB_EXPORTER_LEN;
		return "tls-exporter";
	}
	/*
	 * tls-unique is the first Finished of the latest handshake: the
	 * client's in a full handshake, the server's in a resumed one.
	 */
	first_is_ours = SSL_is_server(ssl) ? SSL_session_reused(ssl) :
	    !SSL_session_reused(ssl);
	n = first_is_ours ? SSL_get_finished(ssl, data, TLS_CB_MAX) :
	    SSL_get_peer_finished(ssl, data, TLS_CB_MAX);
	if (n == 0 || n > TLS_CB_MAX)
		return NULL;
	*len = n;
	return "tls-unique";
}
