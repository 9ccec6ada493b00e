/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz-conf.c: libFuzzer entry for the configuration reader,
 * over a table with one key of each type.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct fz {
	char			*name;
	int			 flag;
	unsigned int		 count, secs;
	unsigned long long	 size;
};

static const struct conf_key keys[] = {
	{ "name", CONF_STRING, offsetof(struct fz, name), 0, 0 },
	{ "flag", CONF_BOOL, offsetof(struct fz, flag), 0, 1 },
	{ "count", CONF_UINT, offsetof(struct fz, count), 1, 100000 },
	{ "secs", CONF_DURATION, offsetof(struct fz, secs), 0, 86400 * 7 },
	{ "size", CONF_SIZE, offsetof(struct fz, size), 0, 1ULL << 40 },
	CONF_KEY_END
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct fz f = { 0 };
	char err[256];

	(void)conf_read_buf("fuzz.conf", (const char *)data, len, keys, &f,
	    err, sizeof(err));
	if (f.count > 100000 || f.secs > 86400 * 7 || f.size > (1ULL << 40))
		__builtin_trap();
	conf_free(keys, &f);
	return 0;
}
