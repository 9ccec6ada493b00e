/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz-proxy.c: libFuzzer entry for the PROXY protocol header
 * parser (common/proxy.c).  Whatever the input: a whole header's length
 * is within the input and its version's bound, a header still being read
 * never asks for more than its bound, the answer for a prefix as long as
 * the header is the same, and reading it as kpopd does (up to want at a
 * time) ends where the parse of the whole input did.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "common/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct proxy_hdr h, h2;
	char err[256], addr[64];
	size_t want, have;
	int r, r2;

	r = proxy_parse(data, len, &h, &want, err, sizeof(err));
	if (r == PROXY_DONE) {
		if (h.len == 0 || h.len > len || h.len > (h.version == 1 ?
		    PROXY_V1_MAX : PROXY_V2_MAX))
			__builtin_trap();
		if (proxy_parse(data, h.len, &h2, &want, err, sizeof(err)) !=
		    PROXY_DONE || memcmp(&h, &h2, sizeof(h)) != 0)
			__builtin_trap();
		if (proxy_client(&h, addr, sizeof(addr)) == 0 &&
		    (h.local || strlen(addr) >= sizeof(addr)))
			__builtin_trap();
	} else if (r == PROXY_MORE) {
		if (want <= len || want > PROXY_V2_MAX)
			__builtin_trap();
	} else if (r != PROXY_BAD || err[0] == '\0') {
		__builtin_trap();
	}
	/* kpopd's reader: never past what a header asks for. */
	have = 0;
	while ((r2 = proxy_parse(data, have, &h2, &want, err,
	    sizeof(err))) == PROXY_MORE) {
		if (want <= have)
			__builtin_trap();
		if (want > len)
			break;
		have = want;
	}
	if (r2 == PROXY_DONE && (r != PROXY_DONE || h2.len != h.len))
		__builtin_trap();
	return 0;
}
