/*
 * common/sasl.h: kpop's glue to Cyrus SASL.  For now the base64 codec
 * that SASL exchanges (RFC 5034) use, through Cyrus SASL's own functions;
 * the server and client exchanges join it with the AUTH work.  The prefix
 * is xsasl_ because sasl_ is Cyrus SASL's own namespace.
 */
#ifndef KPOP_SASL_H
#define KPOP_SASL_H

#include <stddef.h>

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

#endif
