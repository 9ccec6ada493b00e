/* SPDX-License-Identifier: MIT */
/*
 * kpopd/check.h: the checks kpopd runs on a configuration before it
 * serves with it: at start, on SIGHUP and for kpopd -t.  Errors make
 * kpopd refuse the configuration (exit 78, or a reload keeps the old
 * one); warnings name Kerberos conditions that ticket logins do not need
 * (a KDC that cannot be reached, a host name without a key, clock skew)
 * and stop nothing unless kpopd -t --strict asks them to.
 */
#ifndef KPOPD_CHECK_H
#define KPOPD_CHECK_H

#include <sys/types.h>

#include <openssl/ssl.h>

#include "kpopd/kpopd.h"

/* What a check says: the kinds of sentence. */
enum diag_level {
	DIAG_ERROR,		/* the configuration cannot be used */
	DIAG_WARNING,		/* it can; something may still fail */
	DIAG_NOTE		/* what was found, for kpopd -t */
};

/* Where the sentences go: kpopd -t prints them, the daemon logs them. */
typedef void diag_say_fn(void *arg, enum diag_level, const char *msg);

#define DIAG_F_DETAIL	0x1	/* --kerberos: keys, passing checks */
#define DIAG_F_NETWORK	0x2	/* ask the KDC and DNS (kpopd -t) */

/*
 * diag.c: the Kerberos checks, each finding said through say (DIAG_NOTE
 * lines only with a detail that matters).  The local ones (the keytab
 * exists, can be read and holds service/hostname's key; the replay
 * cache directory) always; with DIAG_F_NETWORK also the names DNS gives
 * for hostname and what the KDC says of the key, which may wait on the
 * network.  Counts the warnings in *warnings; the first error's sentence
 * goes to err.  Returns how many errors were found.
 */
int	diag_kerberos(const struct kpopd_conf *, int flags, diag_say_fn *say,
	    void *arg, int *warnings, char *err, size_t errlen)
	    KP_NONNULL(1, 3, 5, 6);

/* check.c: whether the configuration uses Kerberos (keytab, KDC). */
int	check_uses_kerberos(const struct kpopd_conf *) KP_NONNULL(1);

/*
 * check.c: load the configuration (kconf_load: the file, the -o
 * overrides) into *c and run every check a start needs: the accounts it
 * names, the TLS certificate and key (loaded into *tlsp, NULL when none
 * is configured; the caller frees it), and where Kerberos is used
 * diag_kerberos with flags.  Warnings go through say.  Returns the
 * number of warnings (0 or more), or -1 with err set and *tlsp NULL; *c
 * is to be freed with kconf_free either way.
 */
int	check_load(struct kpopd_conf *c, const char *path, int path_given,
	    char **ov, int nov, int flags, diag_say_fn *say, void *arg,
	    SSL_CTX **tlsp, char *err, size_t errlen)
	    KP_NONNULL(1, 2, 7, 9, 10);

/* check.c: the say of kpopd -t: every sentence to stdout, marked. */
void	check_print_say(void *arg, enum diag_level, const char *msg);

/*
 * check.c: the say of a running kpopd: warnings to the log (and errors
 * too when arg is non-NULL: nobody else reports them), notes at debug.
 */
void	check_log_say(void *arg, enum diag_level, const char *msg);

/*
 * check.c: after a start or a reload, run the network checks
 * (DIAG_F_NETWORK) in a process of their own that logs what it finds,
 * so the master never waits on a KDC.  At most one at a time, ended
 * after CHECK_BG_TIMEOUT seconds.  The process first calls release,
 * which closes what only the master may hold (its listeners).
 */
void	check_background(const struct kpopd_conf *, void (*release)(void))
	    KP_NONNULL(1, 2);

/*
 * check.c: the master reaped pid with wait status st.  Returns 1 if it
 * was the background checks' process (logged if it did not finish),
 * else 0.
 */
int	check_reaped(pid_t pid, int st);

#endif
