/* SPDX-License-Identifier: MIT */
/*
 * common/sendauth.c: krb5 sendauth framing for KPOP.  See sendauth.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/sendauth.h"

static int
sa_io(struct io *io, int st, char *err, size_t errlen, const char *what)
{
	util_snprintf(err, errlen, "%s: %s", what, st == IO_EOF ?
	    "the peer closed the connection" : io_error(io));
	return SA_IO;
}

/* Read a 4-byte big-endian length into *n. */
static int
sa_len(struct io *io, uint32_t *n, unsigned char raw[4], char *err,
    size_t errlen, const char *what)
{
	int st;

	if ((st = io_read_full(io, raw, 4)) != IO_OK)
		return sa_io(io, st, err, errlen, what);
	memcpy(n, raw, 4);
	*n = ntohl(*n);
	return SA_OK;
}

int
sendauth_read_block(struct io *io, void *buf, size_t max, size_t *lenp,
    char *err, size_t errlen)
{
	unsigned char raw[4];
	uint32_t n = 0;
	int st;

	if ((st = sa_len(io, &n, raw, err, errlen, "reading a length")) !=
	    SA_OK)
		return st;
	if (n > max) {
		/* "QUIT" where a length belongs is 0x51554954: too large. */
		util_snprintf(err, errlen, "block of %u bytes (at most %zu)%s",
		    n, max, memcmp(raw, "QUIT", 4) == 0 ?
		    ": the client sent QUIT instead" : "");
		return SA_BAD;
	}
	if ((st = io_read_full(io, buf, n)) != IO_OK)
		return sa_io(io, st, err, errlen, "reading a block");
	*lenp = n;
	return SA_OK;
}

int
sendauth_write_block(struct io *io, const void *buf, size_t len)
{
	uint32_t n = htonl((uint32_t)len);
	int st;

	if ((st = io_write(io, &n, 4)) != IO_OK || len == 0)
		return st;
	return io_write(io, buf, len);
}

/* Read a version string and compare it with want (its NUL included). */
static int
sa_version(struct io *io, const char *want, char *err, size_t errlen,
    const char *what)
{
	char got[SA_VERSION_MAX];
	size_t n;
	int st;

	st = sendauth_read_block(io, got, sizeof(got), &n, err, errlen);
	if (st != SA_OK)
		return st;
	if (n != strlen(want) + 1 || memcmp(got, want, n) != 0) {
		char shown[SA_VERSION_MAX * 4 + 1];

		/* Without its NUL: that one is expected. */
		(void)log_printable(shown, sizeof(shown), got,
		    n > 0 && got[n - 1] == '\0' ? n - 1 : n);
		util_snprintf(err, errlen, "%s '%s', not '%s'", what, shown,
		    want);
		return SA_VERSION;
	}
	return SA_OK;
}

int
sendauth_accept(struct io *io, const char *appl_version, char *err,
    size_t errlen)
{
	unsigned char peek[4];
	int st;

	/*
	 * A Kerberos 4 client opens with "AUTHV0.1": its first four bytes
	 * would read as a huge length.  Look before deciding.
	 */
	if ((st = io_read_full(io, peek, 4)) != IO_OK)
		return sa_io(io, st, err, errlen, "reading the hello");
	if (memcmp(peek, "AUTH", 4) == 0) {
		util_snprintf(err, errlen, "a Kerberos 4 client (KPOP over "
		    "krb4 is not supported; use Kerberos 5)");
		return SA_KRB4;
	}
	{
		uint32_t n;
		char got[SA_VERSION_MAX];

		memcpy(&n, peek, 4);
		n = ntohl(n);
		if (n > sizeof(got)) {
			util_snprintf(err, errlen, "not a sendauth hello "
			    "(length %u)%s", n, memcmp(peek, "QUIT", 4) == 0 ?
			    ": the client sent QUIT" : "");
			return SA_BAD;
		}
		if ((st = io_read_full(io, got, n)) != IO_OK)
			return sa_io(io, st, err, errlen, "reading the hello");
		if (n != sizeof(SENDAUTH_VERSION) ||
		    memcmp(got, SENDAUTH_VERSION, n) != 0) {
			util_snprintf(err, errlen, "sendauth version mismatch");
			(void)io_write(io, "\1", 1);
			(void)io_flush(io);
			return SA_VERSION;
		}
	}
	st = sa_version(io, appl_version, err, errlen, "application version");
	if (st == SA_VERSION) {
		(void)io_write(io, "\2", 1);
		(void)io_flush(io);
	}
	if (st != SA_OK)
		return st;
	if ((st = io_write(io, "\0", 1)) != IO_OK ||
	    (st = io_flush(io)) != IO_OK)
		return sa_io(io, st, err, errlen, "answering the hello");
	return SA_OK;
}

int
sendauth_hello(struct io *io, const char *appl_version, char *err,
    size_t errlen)
{
	unsigned char status;
	int st;

	if (sendauth_write_block(io, SENDAUTH_VERSION,
	    sizeof(SENDAUTH_VERSION)) != IO_OK ||
	    sendauth_write_block(io, appl_version, strlen(appl_version) + 1) !=
	    IO_OK || (st = io_flush(io)) != IO_OK)
		return sa_io(io, IO_ERROR, err, errlen, "sending the hello");
	if ((st = io_read_full(io, &status, 1)) != IO_OK)
		return sa_io(io, st, err, errlen, "reading the answer");
	switch (status) {
	case 0:
		return SA_OK;
	case 1:
		util_snprintf(err, errlen, "the server refused sendauth "
		    "version %s", SENDAUTH_VERSION);
		return SA_VERSION;
	case 2:
		util_snprintf(err, errlen, "the server refused application "
		    "version %s", appl_version);
		return SA_VERSION;
	default:
		/* A POP3 greeting starts "+OK": not a KPOP port. */
		util_snprintf(err, errlen, "not a KPOP server (it answered "
		    "0x%02x%s)", status, status == '+' ? ", a POP3 greeting" :
		    "");
		return SA_BAD;
	}
}
