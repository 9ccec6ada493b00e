/* SPDX-License-Identifier: MIT */
/*
 * kpopd/report.h: what a session's monitor tells the master, and the one
 * order the master gives it, over the session's own SEQPACKET socketpair
 * (made by the master before the fork, sessions.c; the monitor's end is
 * session_start.report, closed in the net process).  Bodies are built
 * with common/ipc.h.  The master reads without blocking and trusts a
 * report only for the session whose socket it came on; the monitor sends
 * without blocking and drops a report the master has no room for.
 */
#ifndef KPOPD_REPORT_H
#define KPOPD_REPORT_H

enum {
	/* monitor->master: result (ipc_put_status), method str (USER,
	   APOP, KPOP or the SASL mechanism), user str ("" unless KP_OK):
	   a login was answered.  KP_OK: the session is in TRANSACTION. */
	R_LOGIN = 1,
	/* monitor->master: nothing.  The session is in UPDATE (QUIT). */
	R_UPDATE,
	/* monitor->master: bytes u64: sent to the client so far. */
	R_BYTES,
	/* master->monitor: nothing.  kpopctl kick: end the session as a
	   dropped connection would (nothing deleted). */
	R_KICK,
	/* monitor->master: addr str: the client's address, from the
	   PROXY header of a session on a "proxy" listener (once).  The
	   master counts the session under it from then on and answers
	   R_PEER_OK, or R_PEER_OVER if max_sessions_per_ip sessions are
	   already open from that address. */
	R_PEER,
	/* master->monitor: nothing.  The answers to R_PEER. */
	R_PEER_OK,
	R_PEER_OVER
};

#endif
