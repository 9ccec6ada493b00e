/* SPDX-License-Identifier: MIT */
/*
 * kpopd/ctl.h: kpopd's control socket, the one kpopctl(8) talks to.  The
 * protocol: the client sends one request line (ctl_req_parse), the master
 * answers "+OK" and the reply's text, or "-ERR reason", and closes.
 * ctl-req.c parses a request (kpopctl checks its own with it too); ctl.c
 * is the master's side: the socket, its clients, the answers.
 */
#ifndef KPOPD_CTL_H
#define KPOPD_CTL_H

#include <stddef.h>

#include "common/limits.h"
#include "common/util.h"

enum ctl_cmd {
	CTL_WHO,	/* "who": one line per session */
	CTL_KICK,	/* "kick TARGET": end a user's or an address's */
	CTL_STATS	/* "stats": OpenMetrics text */
};

struct ctl_req {
	enum ctl_cmd	cmd;
	char		target[CTL_TARGET_MAX];	/* kick's; "" otherwise */
};

/*
 * Parse one request line of len bytes, its LF (and a CR before it)
 * already taken off: "who", "stats" or "kick TARGET", lower case, one
 * space, a target of 1 to CTL_TARGET_MAX - 1 printable non-blank ASCII
 * characters.  Returns 0 with *req filled in, or -1 with err set.
 */
int	ctl_req_parse(const char *line, size_t len, struct ctl_req *req,
	    char *err, size_t errlen) KP_NONNULL(1, 3, 4) KP_WUR;

/*
 * ctl.c, in the master.  ctl_open: make the socket at path (its
 * directory made 0700 if missing, the socket 0600; a stale socket is
 * replaced, a live one is an error).  "" opens nothing.  0, or -1 with err
 * set.
 */
int	ctl_open(const char *path, char *err, size_t errlen)
	    KP_NONNULL(1, 2) KP_WUR;
/* A descriptor for the master's poll() (readable: call ctl_run), or -1. */
int	ctl_fd(void);
/* Serve the control clients that are ready; never blocks. */
void	ctl_run(void);
/* In a child the master forked: close the control descriptors. */
void	ctl_forked(void);
/* At exit: close everything and remove the socket. */
void	ctl_close(void);

#endif
