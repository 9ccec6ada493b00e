/* SPDX-License-Identifier: MIT */
/*
 * kpopd/net-reply.c: how the net process answers a command: one line
 * queued in the buffered io, CRLF always sent.  Whether a -ERR counts
 * towards max_bad_commands is in the verdict returned (net-int.h).
 */
#include "config.h"

#include <stdarg.h>

#include "common/io.h"
#include "kpopd/net-int.h"

enum net_verdict
net_reply(struct net *n, const char *fmt, ...)
{
	va_list ap;
	int st;

	va_start(ap, fmt);
	st = io_vprintf(n->io, fmt, ap);
	va_end(ap);
	if (st == IO_OK)
		st = io_write(n->io, "\r\n", 2);
	if (st != IO_OK && n->end == NULL)
		n->end = "io-error";	/* for the end line */
	return st == IO_OK ? NV_OK : NV_FAIL;
}

/* -ERR reply for a bad command. */
enum net_verdict
net_reply_bad(struct net *n, const char *text)
{
	return net_reply(n, "-ERR %s", text) == NV_OK ? NV_BAD : NV_FAIL;
}

/*
 * -ERR reply for a well-formed request that cannot be done (no such
 * message): the client did nothing wrong, so it is not counted.
 */
enum net_verdict
net_reply_refuse(struct net *n, const char *text)
{
	return net_reply(n, "-ERR %s", text);
}
