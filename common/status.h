/* SPDX-License-Identifier: MIT */
/*
 * common/status.h: the one status vocabulary of kpop's library and of
 * kpopd's maildrop and logins.  Zero is success, a positive value means
 * "not finished yet", every failure is negative; each failure a POP3
 * client may be told of maps to its RFC 2449 / RFC 3206 response code
 * here and nowhere else.
 *
 * What stays outside it, on purpose: io.h's io_status and sendauth.h's
 * sendauth_status (which way a read or a handshake ended, not whether a
 * job worked), pop3.h's command parse errors, and kpop's pop_status (the
 * client's classes of trouble, which become exit codes).
 */
#ifndef KPOP_STATUS_H
#define KPOP_STATUS_H

enum kp_status {
	KP_MORE = 1,		/* not done: another round (a SASL
				   challenge to send) */
	KP_OK = 0,
	KP_TEMP = -1,		/* may work later: a transient failure,
				   the check could not be made */
	KP_PERM = -2,		/* will not work as things are set up: a
				   bad path, no permission, not a maildrop */
	KP_AUTH = -3,		/* credentials refused: a wrong password,
				   an unknown user, a policy refusal */
	KP_INUSE = -4,		/* another session holds what is needed */
	KP_DELAY = -5,		/* a login sooner than the site allows */
	KP_GONE = -6		/* what was asked for is no longer there
				   (a message removed behind our back) */
};

/* The lowest value of the enum, for range checks of a number read. */
#define KP_STATUS_MIN	KP_GONE

/*
 * The response code a "-ERR" carries for st: "SYS/TEMP", "SYS/PERM",
 * "AUTH", "IN-USE" or "LOGIN-DELAY"; "SYS/TEMP" for KP_GONE and for any
 * value outside the enum (the safe one: the client tries again later);
 * NULL for KP_OK and KP_MORE, which are no failure.
 */
const char *kp_status_code(int st);

/*
 * The status of a failed system call by its errno e: KP_PERM for what
 * retrying will not fix (no permission, no such file, not a directory, a
 * symlink where none may be, a name too long, a read-only file system),
 * else KP_TEMP: a full disk, a quota, an I/O error may pass.
 */
int	kp_status_errno(int e);

#endif
