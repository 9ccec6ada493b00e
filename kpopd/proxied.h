/* SPDX-License-Identifier: MIT */
/*
 * kpopd/proxied.h: the master's side of "proxy" listeners (kpopd(8),
 * PROXY PROTOCOL): which systemd sockets are such listeners, and who may
 * connect to one.  The header itself is read by the net process
 * (net-proxy.c), never by the master.
 */
#ifndef KPOPD_PROXIED_H
#define KPOPD_PROXIED_H

#include "common/util.h"
#include "kpopd/kpopd.h"

/*
 * A systemd socket's name (LISTEN_FDNAMES, FileDescriptorName=) ending
 * in "-proxy" ("pop3-proxy", "pop3s-proxy", "kpop-proxy"): strip it and
 * return 1; else 0.
 */
int	proxied_fdname(char *name) KP_NONNULL(1);
/*
 * A connection accepted on a proxy listener: 0 if its peer is in
 * proxy_trusted_networks, else -1, logged (the caller closes it).
 */
int	proxied_accept(const struct kpopd_conf *, int fd, const char *peer)
	    KP_NONNULL(1, 3) KP_WUR;

#endif
