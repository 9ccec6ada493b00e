/* SPDX-License-Identifier: MIT */
/*
 * kpopd/proxied.c: the master's side of "proxy" listeners (proxied.h).
 * A load balancer connects to them and sends a PROXY protocol header
 * naming its client; only one in proxy_trusted_networks may, so the
 * master closes any other connection at once, before a session is made
 * for it.  Such a session is counted under its client's address only
 * once its monitor reports it (report.h R_PEER, sessions.c).
 */
#include "config.h"

#include <sys/socket.h>

#include <string.h>

#include "common/cidr.h"
#include "common/log.h"
#include "kpopd/proxied.h"

#define SUFFIX		"-proxy"
#define SUFFIX_LEN	(sizeof(SUFFIX) - 1)

int
proxied_fdname(char *name)
{
	size_t n = strlen(name);

	if (n <= SUFFIX_LEN || strcmp(name + n - SUFFIX_LEN, SUFFIX) != 0)
		return 0;
	name[n - SUFFIX_LEN] = '\0';
	return 1;
}

int
proxied_accept(const struct kpopd_conf *c, int fd, const char *peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1) {
		/* Gone already: a health check that does not wait. */
		log_debug("PROXY listener: a connection gone before it was "
		    "accepted");
		return -1;
	}
	if (cidr_match(&c->proxy_trusted, (struct sockaddr *)&ss))
		return 0;
	log_notice("PROXY listener: %s is not in proxy_trusted_networks; "
	    "connection closed", peer);
	return -1;
}
