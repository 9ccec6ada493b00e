/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz-resp.c: libFuzzer entry for the client's response line
 * parser (pop3_parse_resp) and the multi-line line helper.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "common/pop3.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct pop3_resp r;
	const char *l = (const char *)data;
	size_t n = len;

	if (pop3_parse_resp((const char *)data, len, &r) == 0) {
		/* The text lies inside the line, the code is a string. */
		if (r.text < (const char *)data ||
		    r.text + r.textlen > (const char *)data + len ||
		    strlen(r.code) > POP3_CODE_MAX)
			__builtin_trap();
	}
	(void)pop3_ml_line(&l, &n);
	return 0;
}
