/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz-enc.c: libFuzzer entry for the multi-line encoder: any
 * stored message, encoded (whole and TOP-limited), must decode back to its
 * CRLF form, and the octet count must match what the decoder delivers.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/pop3.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct buf {
	unsigned char	*p;
	size_t		 len, cap;
};

static int
sink(void *arg, const void *data, size_t n)
{
	struct buf *b = arg;

	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			abort();
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct buf wire = { 0 }, back = { 0 };
	struct pop3_enc e;
	struct pop3_dec d;
	long long lines;
	long long r;

	if (len == 0)
		return 0;
	lines = data[0] < 128 ? -1 : data[0] % 8;
	data++;
	len--;
	pop3_enc_init(&e, lines);
	if (pop3_enc_feed(&e, data, len / 2, sink, &wire) != 0 ||
	    pop3_enc_feed(&e, data + len / 2, len - len / 2, sink, &wire) != 0 ||
	    pop3_enc_end(&e, sink, &wire) != 0)
		abort();
	pop3_dec_init(&d, 0);
	r = pop3_dec_feed(&d, wire.p, wire.len, sink, &back);
	/* The decoder must end exactly at the encoder's closing line. */
	if (!d.done || r != (long long)wire.len || back.len != e.octets)
		__builtin_trap();
	/* A whole message only gains bytes (CRs) on its way to the wire. */
	if (lines < 0 && back.len < len)
		__builtin_trap();
	free(wire.p);
	free(back.p);
	return 0;
}
