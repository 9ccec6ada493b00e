/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz-scratch.c: the harnesses' scratch directory
 * (fuzz-scratch.h).
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/util.h"
#include "fuzz/fuzz-scratch.h"

static char scratch[PATH_MAX];

static void
fz_cleanup(void)
{
	char cmd[PATH_MAX + 16];

	if (scratch[0] != '\0' && util_snprintf(cmd, sizeof(cmd),
	    "rm -rf '%s'", scratch) == 0 && system(cmd) != 0)
		fprintf(stderr, "fuzz: could not remove %s\n", scratch);
}

void
fz_scratch(char *dir, size_t len, const char *name)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" :
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";

	if (scratch[0] != '\0' || util_snprintf(scratch, sizeof(scratch),
	    "%s/%s.XXXXXX", base, name) == -1 || mkdtemp(scratch) == NULL ||
	    util_strlcpy(dir, scratch, len) == -1)
		abort();
	atexit(fz_cleanup);
}
