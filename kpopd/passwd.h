/* SPDX-License-Identifier: MIT */
/*
 * kpopd/passwd.h: password checks for USER/PASS (and AUTH PLAIN), done by
 * the session monitor: against the Kerberos realm, verified with the
 * server's keytab so that a spoofed KDC cannot log anyone in, or through
 * Cyrus SASL's own password check (sasldb or saslauthd).
 *
 * Each check answers KP_OK, KP_AUTH or KP_TEMP.  The monitor replies
 * "-ERR [AUTH]" to KP_AUTH and "-ERR [SYS/TEMP]" to KP_TEMP.  An unknown
 * user and a wrong password both give KP_AUTH, so the client cannot tell
 * them apart; only the message left in err, which is for the log, says
 * which.  err never holds the password.  Neither check copies the
 * password, so there is nothing of it for them to wipe; the caller wipes
 * its own buffer.
 *
 * The checks block: each talks to a KDC or to saslauthd and waits for it.
 * They are for one process that does one check at a time (kpopd forks a
 * monitor per session); they are not thread-safe.
 */
#ifndef KPOPD_PASSWD_H
#define KPOPD_PASSWD_H

#include <stddef.h>

#include "common/status.h"
#include "common/util.h"

/*
 * The longest password accepted, in bytes.  A POP3 command line is at
 * most 255 octets (RFC 2449 section 4), so PASS cannot carry more; AUTH
 * PLAIN's response is bounded by SASL_TOKEN_MAX.  1024 leaves room for
 * any pass phrase a person types and stops a peer from making the KDC or
 * saslauthd hash kilobytes for it.
 */
#define PW_PASSWORD_MAX		1024
/*
 * The longest user name or principal accepted, in bytes: the same command
 * line bound.  Nothing longer can be a real user.
 */
#define PW_USER_MAX		255

/*
 * Check the len bytes at password for the form every password must have:
 * not empty, at most PW_PASSWORD_MAX bytes, no NUL, CR or LF.  Returns
 * KP_OK, or KP_AUTH with the reason in err (errlen bytes, always
 * NUL-terminated if errlen > 0; never the password).  The two checks
 * below call it first, so a malformed password never reaches a KDC or
 * saslauthd; a caller holding a counted password, such as a decoded AUTH
 * PLAIN response, calls it itself, since a C string cannot show a NUL.
 */
int	pw_check_form(const void *password, size_t len, char *err,
	    size_t errlen) KP_NONNULL(3) KP_WUR;

/*
 * Check password for principal against the Kerberos realm, the way a
 * server must: get initial credentials with it
 * (krb5_get_init_creds_password, no prompter), then prove the KDC that
 * issued them knows the key of the server principal service in the
 * keytab (krb5_verify_init_creds with ap_req_nofail: get a ticket for
 * service and read it with the keytab's key).
 *
 * principal is parsed with krb5_parse_name: "alice" means alice in the
 * default realm, "alice@REALM" names the realm.  keytab is a keytab name
 * ("/path" or "FILE:/path"), or NULL for the default (KRB5_KTNAME, else
 * the krb5.conf default_keytab_name).  service is the server principal,
 * such as "pop/mail.example.org" (no realm: the default realm), or NULL to
 * let krb5 use the keytab's host/ principals.  The keytab and the service
 * key in it are checked before the KDC is asked anything.
 *
 * Each call makes and frees its own krb5 context, so it reads KRB5_CONFIG
 * and KRB5_KTNAME as they are at the time of the call.  No credential
 * cache is written: the credentials live in memory (krb5 keeps the
 * service ticket in a MEMORY: cache while it verifies) and are freed
 * before the return.  The process must be able to read the keytab (root,
 * in the monitor, before it drops privileges).  MIT krb5 1.20 checks the
 * ticket it made without a replay cache, so KRB5RCACHEDIR is not used.
 *
 * Returns:
 *   KP_OK    the password is right and the KDC proved to know the
 *            service key;
 *   KP_AUTH   a malformed password or principal name, a wrong password,
 *            an unknown principal, an expired, disabled or not yet valid
 *            account or password, a principal in a realm krb5.conf does
 *            not know, or a KDC that accepted the password but failed the
 *            verification (it does not know the service key: a spoofed
 *            KDC, or a keytab out of date with the realm);
 *   KP_TEMP  no KDC answered, the keytab cannot be read or has no key
 *            for service (the server's fault, and err says so), clock
 *            skew, the replay cache failed, krb5 is misconfigured (no
 *            default realm), or any other system fault.
 * err (errlen bytes) always gets a message for the log, on KP_OK too,
 * with krb5's own reason (krb5_get_error_message) where there is one.
 *
 * Timing: a refused connection to the KDC (nothing listens) fails at
 * once; a KDC that does not answer at all holds the call for about 18 s
 * (UDP) to 27 s (TCP) per KDC with MIT krb5 1.20, which has no setting to
 * shorten that.
 */
int	pw_check_krb5(const char *principal, const char *password,
	    const char *keytab, const char *service, char *err,
	    size_t errlen) KP_NONNULL(1, 2, 5) KP_WUR;

/*
 * Check password for user through Cyrus SASL's sasl_checkpass, as the
 * service (such as "pop"; it names the SASL configuration a site may
 * add options to).  With sasldb_path, the password is compared with the
 * one stored in that sasldb (pwcheck_method auxprop, auxprop_plugin
 * sasldb); with sasldb_path NULL, saslauthd checks it (pwcheck_method
 * saslauthd, at its default socket unless the SASL configuration file
 * kpopd.conf sets saslauthd_path).
 *
 * A sasldb entry made by "saslpasswd2 -u REALM name" is user
 * "name@REALM"; a bare user name is looked up in the realm hostname
 * (kpopd's hostname key, the one AUTH uses too), so "saslpasswd2 -u
 * hostname name" makes the entry USER name finds.
 *
 * The first call in a process calls sasl_server_init(.., "kpopd") with a
 * logging callback that drops Cyrus SASL's messages; if the process has
 * already initialized Cyrus SASL's server side, that stays as it is.  The
 * options above are not global: each call passes them with its own
 * connection (a getopt callback whose context is the call's), so calls
 * with different sasldb paths, or a sasldb and saslauthd, can follow each
 * other in one process.  Each call makes and disposes of its own SASL
 * connection.
 *
 * Returns KP_OK; KP_AUTH for a malformed password or user name, a wrong
 * password, an unknown user, a user with no password (SASL_BADAUTH,
 * SASL_NOUSER, SASL_NOVERIFY), an expired or disabled account
 * (SASL_EXPIRED, SASL_DISABLED); KP_TEMP for anything else, such as
 * saslauthd not running, or a sasldb that does not exist or cannot be
 * read (checked before Cyrus SASL is asked, since Cyrus SASL would call
 * every user unknown then: the store is missing, not the user).  err
 * (errlen bytes) always gets a message for the log, with sasl_errdetail's
 * reason when Cyrus SASL gives one.
 */
int	pw_check_sasl(const char *user, const char *password,
	    const char *service, const char *hostname,
	    const char *sasldb_path, char *err, size_t errlen)
	    KP_NONNULL(1, 2, 3, 4, 6) KP_WUR;

#endif
