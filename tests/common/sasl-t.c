/*
 * tests/common/sasl-t.c: tests for common/sasl.c: base64 through Cyrus
 * SASL, against RFC 4648 test vectors and invalid input.
 */
#include "config.h"

#include <string.h>

#include "common/sasl.h"
#include "tap/basic.h"

static const struct {
	const char *plain, *b64;
} vectors[] = {		/* RFC 4648 section 10 */
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static int
dec(const char *s, void *out, size_t outsize, size_t *n)
{
	return xsasl_b64_decode(s, strlen(s), out, outsize, n);
}

int
main(void)
{
	char enc[64], out[64], big[12000], big64[XSASL_B64_SIZE(12000)];
	char back[12001];
	size_t n, i;

	plan_lazy();
	for (i = 0; i < KP_NELEM(vectors); i++) {
		size_t plen = strlen(vectors[i].plain);

		ok(xsasl_b64_encode(vectors[i].plain, plen, enc, sizeof(enc),
		    &n) == 0 && strcmp(enc, vectors[i].b64) == 0 &&
		    n == strlen(vectors[i].b64), "encode '%s'",
		    vectors[i].plain);
		ok(dec(vectors[i].b64, out, sizeof(out), &n) == 0 &&
		    n == plen && memcmp(out, vectors[i].plain, n) == 0,
		    "decode '%s'", vectors[i].b64);
	}
	is_int(dec("Zm9", out, sizeof(out), &n), -1, "not a whole quantum");
	is_int(dec("Zm9v!A==", out, sizeof(out), &n), -1, "bad character");
	is_int(dec("Zm 9", out, sizeof(out), &n), -1, "blank inside");
	is_int(dec("Zg==Zg==", out, sizeof(out), &n), -1,
	    "data after padding");
	is_int(dec("=Zg=", out, sizeof(out), &n), -1, "padding first");
	is_int(xsasl_b64_decode("Zg\0=", 4, out, sizeof(out), &n), -1, "NUL");
	is_int(dec("Zm9vYmFy", out, 3, &n), -1, "output does not fit");
	is_int(xsasl_b64_encode("foobar", 6, enc, 8, &n), -1,
	    "encode buffer too small");

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 131 + 7);
	ok(xsasl_b64_encode(big, sizeof(big), big64, sizeof(big64), &n) == 0 &&
	    n == 16000, "12000 binary bytes encode to 16000 characters");
	ok(xsasl_b64_decode(big64, n, back, sizeof(back), &n) == 0 &&
	    n == sizeof(big) && memcmp(back, big, n) == 0 && back[n] == '\0',
	    "and decode back intact, NUL-terminated");
	is_int(xsasl_b64_decode(big64, 16000, back, sizeof(big), &n), -1,
	    "no room for the NUL");
	return 0;
}
