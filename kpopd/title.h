/* SPDX-License-Identifier: MIT */
/*
 * kpopd/title.h: process titles as ps shows them (title.c).
 */
#ifndef KPOPD_TITLE_H
#define KPOPD_TITLE_H

#include "common/util.h"

/*
 * Take argv's memory (and the environment's after it) for titles; argv[]
 * and environ then point to copies on the heap.  Call first in main,
 * before anything keeps a pointer into argv or environ.  Without that
 * layout, or without memory, titles stay off.
 */
void	title_init(int argc, char **argv);

/* Show the formatted text as the process's title, cut to the room. */
void	title_set(const char *fmt, ...) KP_PRINTF(1, 2) KP_NONNULL(1);

#endif
