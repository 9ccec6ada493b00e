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
	   APOP, KPOP or the SASL mechanism), user str ("" unless KP_OK),
	   key bytes (empty, or the PWCACHE_KEY_LEN password-check key of
	   a password the KDC just accepted, for the cache): a login was
	   answered.  KP_OK: the session is in TRANSACTION (the one report
	   that may fill the cache, pwcache.h). */
	R_LOGIN = 1,
	/* monitor->master: nothing.  The session is in UPDATE (QUIT). */
	R_UPDATE,
	/* monitor->master: bytes u64: sent to the client so far. */
	R_BYTES,
	/* master->monitor: nothing.  kpopctl kick: end the session as a
	   dropped connection would (nothing deleted). */
	R_KICK,
	/*
	 * The questions (limits.h): monitor->master, seq u32 first; the
	 * master answers R_ANSWER with the same seq, never waiting, and
	 * only for the session the question came on (its address, its
	 * state).  A monitor that gets no answer in MON_ASK_MS goes on
	 * without one.
	 */
	/* seq: a login was refused; the answer is the delay in ms. */
	R_FAILED,
	/* seq, key bytes: is this password-check key cached?  The answer
	   is PWC_NONE, PWC_GOOD or PWC_BAD (pwcache.h). */
	R_PW_ASK,
	/* seq, key bytes: the KDC refused this password (cached for
	   PWCACHE_FAIL_TTL at most).  No answer. */
	R_PW_BAD,
	/* seq, user str: may this user log in from this address
	   (max_sessions_per_user_ip)?  The answer: 1, the session then
	   counts as the user's until its login fails; 0, over the limit. */
	R_USERIP,
	/* master->monitor: seq u32, value u32. */
	R_ANSWER,
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
