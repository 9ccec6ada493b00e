/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz-scratch.h: the scratch directory every fuzz harness
 * that works on real files makes once and removes at exit.
 */
#ifndef KPOP_FUZZ_SCRATCH_H
#define KPOP_FUZZ_SCRATCH_H

#include <stddef.h>

/*
 * Make a fresh directory NAME.XXXXXX in /dev/shm (or $TMPDIR, or /tmp)
 * into dir (len bytes), to be removed with everything in it at exit.
 * Aborts on failure: a harness without its directory tests nothing.
 */
void	fz_scratch(char *dir, size_t len, const char *name);

#endif
