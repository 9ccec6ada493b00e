/* SPDX-License-Identifier: MIT */
/*
 * kpopd/title.c: process titles, so that ps shows what each process of
 * kpopd is: "kpopd: master", "kpopd: net 10.1.2.3", "kpopd: alice
 * 10.1.2.3 TRANSACTION".  Linux shows a process's arguments from the
 * memory its argv strings occupy; title_init moves the environment out
 * of the way (it follows argv), and title_set writes the title over the
 * two, padded with NULs.  Only memory is written: no system call, so the
 * sandboxed net process may call it too.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpopd/title.h"

extern char **environ;

static char	*title_base;	/* argv[0]'s memory, or NULL */
static size_t	 title_room;	/* through the last environment string */
/*
 * The environment strings copied, apart from environ itself, which
 * unsetenv edits in place: a string it drops stays owned (LeakSanitizer
 * sees it) rather than lost.  Nothing reads it: volatile, so that the
 * compiler keeps the store.
 */
static char	**volatile title_env;

void
title_init(int argc, char **argv)
{
	char *end, **env, **args, **keep;
	size_t n, i;
	int k;

	if (argc < 1 || argv[0] == NULL ||
	    (args = calloc((size_t)argc + 1, sizeof(*args))) == NULL)
		return;
	/* How far the strings lie end to end: argv's, then environ's. */
	end = argv[0] + strlen(argv[0]) + 1;
	for (k = 1; k < argc && argv[k] == end; k++)
		end += strlen(argv[k]) + 1;
	for (n = 0; environ[n] != NULL; n++)
		;
	for (i = 0; i < n && environ[i] == end; i++)
		end += strlen(environ[i]) + 1;
	/*
	 * The environment and the arguments move to the heap before their
	 * memory is reused (getopt's optarg then points into the copies).
	 * Without the layout or the memory, all stays where it was: no
	 * titles.
	 */
	if (k < argc || (env = calloc(n + 1, sizeof(*env))) == NULL) {
		free(args);
		return;
	}
	for (i = 0; i < n; i++)
		if ((env[i] = strdup(environ[i])) == NULL)
			goto fail;
	for (k = 0; k < argc; k++)
		if ((args[k] = strdup(argv[k])) == NULL)
			goto fail;
	if ((keep = calloc(n + 1, sizeof(*keep))) == NULL)
		goto fail;
	memcpy(keep, env, n * sizeof(*env));
	title_env = keep;
	title_base = argv[0];
	title_room = (size_t)(end - title_base);
	environ = env;
	for (k = 0; k < argc; k++)
		argv[k] = args[k];
	free(args);	/* argv[] holds the copies now */
	return;
fail:
	for (i = 0; i < n; i++)
		free(env[i]);
	for (k = 0; k < argc; k++)
		free(args[k]);
	free(env);
	free(args);
}

void
title_set(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (title_base == NULL || title_room < 2)
		return;
	memset(title_base, '\0', title_room);
	va_start(ap, fmt);
	n = vsnprintf(title_base, title_room - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		title_base[0] = '\0';
}
