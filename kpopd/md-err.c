/*
 * kpopd/md-err.c: the maildrop code's error reporting: a message into the
 * caller's buffer (md_err), and the status an errno value gives
 * (md_err_status).  Used by maildrop.c, the backends and their helpers;
 * calls none of them.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "kpopd/md-int.h"

void
md_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	if (vsnprintf(err, errlen, fmt, ap) < 0)
		err[0] = '\0';
	va_end(ap);
}

int
md_err_status(int e)
{
	switch (e) {
	case EACCES:
	case EPERM:
	case ENOENT:
	case ENOTDIR:
	case EISDIR:
	case ELOOP:
	case ENAMETOOLONG:
	case EROFS:
		return MD_PERM;
	default:
		return MD_TEMP;
	}
}

