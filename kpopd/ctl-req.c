/* SPDX-License-Identifier: MIT */
/*
 * kpopd/ctl-req.c: the control socket's request parser (ctl.h), shared
 * by the master, which trusts nothing a client sends, and kpopctl, which
 * checks its arguments with it before it connects.
 */
#include "config.h"

#include <string.h>

#include "kpopd/ctl.h"

/* A kick target's characters: printable ASCII, no blank. */
static int
target_char(unsigned char ch)
{
	return ch > 0x20 && ch < 0x7f;
}

int
ctl_req_parse(const char *line, size_t len, struct ctl_req *req,
    char *err, size_t errlen)
{
	const char *sp;
	size_t n, i;

	memset(req, 0, sizeof(*req));
	if (memchr(line, '\0', len) != NULL) {
		util_snprintf(err, errlen, "a NUL byte in the request");
		return -1;
	}
	sp = memchr(line, ' ', len);
	n = sp != NULL ? (size_t)(sp - line) : len;
	if (n == 3 && memcmp(line, "who", 3) == 0)
		req->cmd = CTL_WHO;
	else if (n == 5 && memcmp(line, "stats", 5) == 0)
		req->cmd = CTL_STATS;
	else if (n == 4 && memcmp(line, "kick", 4) == 0)
		req->cmd = CTL_KICK;
	else {
		util_snprintf(err, errlen, "unknown request (who, kick or "
		    "stats)");
		return -1;
	}
	if (req->cmd != CTL_KICK) {
		if (sp != NULL) {
			util_snprintf(err, errlen, "%s takes no argument",
			    req->cmd == CTL_WHO ? "who" : "stats");
			return -1;
		}
		return 0;
	}
	if (sp == NULL || len == n + 1) {
		util_snprintf(err, errlen, "kick needs a user name or an "
		    "address");
		return -1;
	}
	line += n + 1;
	len -= n + 1;
	if (len >= sizeof(req->target)) {
		util_snprintf(err, errlen, "kick: the target is longer than "
		    "%zu characters", sizeof(req->target) - 1);
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (!target_char((unsigned char)line[i])) {
			util_snprintf(err, errlen, "kick takes one user name or "
			    "address, without blanks or control characters");
			return -1;
		}
	}
	memcpy(req->target, line, len);
	req->target[len] = '\0';
	return 0;
}
