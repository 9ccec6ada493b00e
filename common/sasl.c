/*
 * common/sasl.c: Cyrus SASL glue.  See sasl.h.
 */
#include "config.h"

#include <limits.h>

#include <sasl/sasl.h>
#include <sasl/saslutil.h>

#include "common/sasl.h"

int
xsasl_b64_encode(const void *in, size_t inlen, char *out, size_t outsize,
    size_t *outlen)
{
	unsigned int n;

	if (inlen > UINT_MAX / 2 || outsize > UINT_MAX ||
	    outsize < XSASL_B64_SIZE(inlen))
		return -1;
	if (sasl_encode64(in, (unsigned int)inlen, out, (unsigned int)outsize,
	    &n) != SASL_OK)
		return -1;
	out[n] = '\0';
	*outlen = n;
	return 0;
}

int
xsasl_b64_decode(const char *in, size_t inlen, void *out, size_t outsize,
    size_t *outlen)
{
	unsigned int n;
	size_t i;

	/* Whole quanta only: RFC 4648 section 3.3 leaves no slack here. */
	if (inlen % 4 != 0 || inlen > UINT_MAX || outsize > UINT_MAX)
		return -1;
	for (i = 0; i < inlen; i++)
		if (in[i] == '\0' || in[i] == '\r' || in[i] == '\n' ||
		    in[i] == ' ')
			return -1;
	if (inlen == 0) {
		if (outsize < 1)
			return -1;
		*(char *)out = '\0';
		*outlen = 0;
		return 0;
	}
	if (sasl_decode64(in, (unsigned int)inlen, out, (unsigned int)outsize,
	    &n) != SASL_OK)
		return -1;
	*outlen = n;
	return 0;
}
