/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz-krb5tok.c: libFuzzer entry for the Kerberos token
 * walker (krb5tok_sname), with a roomy output buffer and a tight one: a
 * name it returns must be NUL-terminated inside the buffer, printable,
 * and the same in both when it fits in both.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "common/krb5tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The name is a NUL-terminated string of 0x20-0x7e within outlen. */
static int
good(const char *out, size_t outlen)
{
	size_t i;

	for (i = 0; i < outlen && out[i] != '\0'; i++)
		if (out[i] < 0x20 || out[i] > 0x7e)
			return 0;
	return i < outlen && strchr(out, '@') != NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char big[KRB5TOK_NAME_MAX], tight[24];
	int rb, rt;

	rb = krb5tok_sname(data, len, big, sizeof(big));
	rt = krb5tok_sname(data, len, tight, sizeof(tight));
	if ((rb == 0 && !good(big, sizeof(big))) ||
	    (rt == 0 && !good(tight, sizeof(tight))) ||
	    (rb == -1 && big[0] != '\0') || (rt == -1 && tight[0] != '\0') ||
	    (rt == 0 && (rb != 0 || strcmp(big, tight) != 0)) ||
	    (rb == 0 && rt == -1 && strlen(big) < sizeof(tight)))
		__builtin_trap();
	return 0;
}
