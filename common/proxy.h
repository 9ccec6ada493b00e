/* SPDX-License-Identifier: MIT */
/*
 * common/proxy.h: the PROXY protocol header a load balancer (HAProxy's
 * send-proxy and send-proxy-v2) puts before a client's first byte, so
 * that the server learns the client's address: version 1 (one text
 * line) and version 2 (binary), as haproxy.org's proxy-protocol.txt
 * describes them.  Pure functions over a buffer, strict and bounded:
 * the bytes come from the network, and only a trusted peer's are ever
 * believed (the caller checks who sent them).  kpopd's net process reads
 * the header with them (kpopd/net-proxy.c).
 */
#ifndef KPOP_PROXY_H
#define KPOP_PROXY_H

#include <sys/socket.h>

#include <stddef.h>

#include "common/limits.h"
#include "common/util.h"

enum proxy_result {
	PROXY_DONE = 0,		/* a whole header */
	PROXY_MORE = 1,		/* a header so far: read on */
	PROXY_BAD = -1		/* not a header we accept */
};

struct proxy_hdr {
	int			version;	/* 1 or 2 */
	/*
	 * No client address to use: v1 UNKNOWN, v2 LOCAL (a health check),
	 * v2 UNSPEC or AF_UNIX.  The connection's own address stands.
	 */
	int			local;
	struct sockaddr_storage	src;	/* the client, unless local */
	struct sockaddr_storage	dst;	/* the address it connected to */
	size_t			len;	/* the header's bytes */
};

/*
 * Parse the header at the start of buf (len bytes so far).  PROXY_DONE:
 * *h is filled and h->len bytes are the header (what follows is the
 * client's).  PROXY_MORE: what is there could begin a header; *want is
 * how many bytes to have before calling again, never more than the
 * header holds, so a reader that reads up to *want never takes a byte
 * that follows it.  PROXY_BAD: err says why (malformed, oversized,
 * unsupported), and its reason is found as early as the bytes allow.
 */
int	proxy_parse(const void *buf, size_t len, struct proxy_hdr *h,
	    size_t *want, char *err, size_t errlen)
	    KP_NONNULL(1, 3, 4, 5) KP_WUR;
/*
 * The client's address of a parsed header in out (inet_ntop's form: the
 * way kpopd writes every address); 0, or -1 if it has none (h->local).
 */
int	proxy_client(const struct proxy_hdr *h, char *out, size_t outlen)
	    KP_NONNULL(1, 2);
/*
 * Read one header from the socket fd and parse it, within timeout_ms.
 * It reads only as far as proxy_parse says the header may reach, so the
 * client's first bytes (a TLS ClientHello, KPOP's sendauth) stay in the
 * socket for what follows.  PROXY_DONE (*h filled), or PROXY_BAD with
 * err set (malformed, a timeout, end of connection, a read error).
 */
int	proxy_read(int fd, int timeout_ms, struct proxy_hdr *h, char *err,
	    size_t errlen) KP_NONNULL(3, 4) KP_WUR;

#endif
