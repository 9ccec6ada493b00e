/* SPDX-License-Identifier: MIT */
/*
 * common/dial.h: connecting to a peer, bounded in time: a TCP host and
 * port (every address the name has, in turn) or a Unix socket path.
 * kpop's POP3 client and its LMTP/SMTP delivery both dial this way.
 */
#ifndef KPOP_DIAL_H
#define KPOP_DIAL_H

#include <stddef.h>

#include "common/util.h"

/*
 * Connect to host (a name or an address, IPv6 without brackets) on
 * port, trying each address for up to timeout_ms.  Returns a connected,
 * non-blocking, close-on-exec descriptor with TCP_NODELAY, or -1 with
 * why ("HOST: no such name", "cannot connect to HOST port N: ...") in
 * err.
 */
int	dial_tcp(const char *host, unsigned int port, int timeout_ms,
	    char *err, size_t errlen) KP_NONNULL(1, 4) KP_WUR;

/*
 * Connect to the Unix stream socket at path.  Returns a connected,
 * non-blocking, close-on-exec descriptor, or -1 with err set.
 */
int	dial_unix(const char *path, char *err, size_t errlen)
	    KP_NONNULL(1, 2) KP_WUR;

#endif
