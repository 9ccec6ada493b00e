/* SPDX-License-Identifier: MIT */
/*
 * kpopd/passwd.c: password checks against the Kerberos realm (with KDC
 * spoofing defeated by the keytab) and through Cyrus SASL.  See passwd.h.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <krb5.h>

#include "common/limits.h"
#include "common/sasl.h"
#include "kpopd/passwd.h"

/* The application name kpopd gives Cyrus SASL (its kpopd.conf). */
#define PW_SASL_APPNAME		"kpopd"
/*
 * krb5 error codes are com_err codes far from 0; system errors come back
 * as errno values, which are small and positive.
 */
#define PW_ERRNO_MAX		4096

static void	pw_krb5_err(krb5_context, krb5_error_code, char *, size_t,
		    const char *, ...) KP_PRINTF(5, 6);

/* Format a message into err, followed by ": " and krb5's text for code. */
static void
pw_krb5_err(krb5_context ctx, krb5_error_code code, char *err,
    size_t errlen, const char *fmt, ...)
{
	char what[ERR_MSG_MAX];
	const char *msg;
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(what, sizeof(what), fmt, ap) < 0)
		what[0] = '\0';
	va_end(ap);
	/* MIT falls back to error_message() when ctx is NULL. */
	msg = krb5_get_error_message(ctx, code);
	util_snprintf(err, errlen, "%s: %s", what,
	    msg != NULL ? msg : "unknown Kerberos error");
	if (msg != NULL)
		krb5_free_error_message(ctx, msg);
}

int
pw_check_form(const void *password, size_t len, char *err, size_t errlen)
{
	if (errlen > 0)
		err[0] = '\0';
	if (password == NULL || len == 0) {
		util_snprintf(err, errlen, "empty password");
		return KP_AUTH;
	}
	if (len > PW_PASSWORD_MAX) {
		util_snprintf(err, errlen, "password longer than %d bytes",
		    PW_PASSWORD_MAX);
		return KP_AUTH;
	}
	if (memchr(password, '\0', len) != NULL) {
		util_snprintf(err, errlen, "password contains a NUL byte");
		return KP_AUTH;
	}
	if (memchr(password, '\r', len) != NULL ||
	    memchr(password, '\n', len) != NULL) {
		util_snprintf(err, errlen, "password contains a CR or LF");
		return KP_AUTH;
	}
	return KP_OK;
}

/* Check the name (a principal or user name) for the form any must have. */
static int
pw_check_name(const char *name, char *err, size_t errlen)
{
	size_t len = strnlen(name, PW_USER_MAX + 1);

	if (len == 0) {
		util_snprintf(err, errlen, "empty user name");
		return KP_AUTH;
	}
	if (len > PW_USER_MAX) {
		util_snprintf(err, errlen, "user name longer than %d bytes",
		    PW_USER_MAX);
		return KP_AUTH;
	}
	return KP_OK;
}

/* Check password's form; it is a C string, so no NUL can be seen. */
static int
pw_check_cstring(const char *password, char *err, size_t errlen)
{
	return pw_check_form(password, strnlen(password, PW_PASSWORD_MAX + 1),
	    err, errlen);
}

/* Does the principal's realm differ from the default realm? */
static int
pw_foreign_realm(krb5_context ctx, krb5_const_principal princ)
{
	char *def = NULL;
	int foreign;

	if (krb5_get_default_realm(ctx, &def) != 0)
		return 0;
	foreign = strlen(def) != princ->realm.length ||
	    memcmp(def, princ->realm.data, princ->realm.length) != 0;
	krb5_free_default_realm(ctx, def);
	return foreign;
}

/*
 * Make sure the keytab can verify: it must hold a key for server, or,
 * with server NULL, some host/ principal (which krb5_verify_init_creds
 * then tries).  Returns 0, or a krb5 error code.
 */
static krb5_error_code
pw_keytab_usable(krb5_context ctx, krb5_keytab kt, krb5_const_principal server)
{
	krb5_keytab_entry entry;
	krb5_kt_cursor cursor;
	krb5_error_code code, endcode;
	int found = 0;

	if (server != NULL) {
		code = krb5_kt_get_entry(ctx, kt, server, 0, 0, &entry);
		if (code == 0)
			krb5_free_keytab_entry_contents(ctx, &entry);
		goto out;
	}
	if ((code = krb5_kt_start_seq_get(ctx, kt, &cursor)) != 0)
		goto out;
	while (!found &&
	    (code = krb5_kt_next_entry(ctx, kt, &entry, &cursor)) == 0) {
		/* As krb5_verify_init_creds picks them: first part "host". */
		if (entry.principal->length >= 1 &&
		    entry.principal->data[0].length == 4 &&
		    memcmp(entry.principal->data[0].data, "host", 4) == 0)
			found = 1;
		krb5_free_keytab_entry_contents(ctx, &entry);
	}
	endcode = krb5_kt_end_seq_get(ctx, kt, &cursor);
	if (found)
		code = endcode;
	else if (code == KRB5_KT_END)
		code = KRB5_KT_NOTFOUND;

out:
	return code;
}

/* Is code a failure to use the keytab (the server's, not the user's)? */
static int
pw_keytab_error(krb5_error_code code)
{
	switch (code) {
	case ENOENT:
	case EACCES:
	case EPERM:
	case EISDIR:
	case KRB5_KT_BADNAME:
	case KRB5_KT_UNKNOWN_TYPE:
	case KRB5_KT_NOTFOUND:
	case KRB5_KT_END:
	case KRB5_KT_IOERR:
	case KRB5_KT_NAME_TOOLONG:
	case KRB5_KT_FORMAT:
	case KRB5_KEYTAB_BADVNO:
		return 1;
	default:
		return 0;
	}
}

/*
 * Classify a failure of krb5_get_init_creds_password and say what it
 * means in err.  Returns KP_AUTH or KP_TEMP.
 */
static int
pw_gic_failed(krb5_context ctx, krb5_error_code code,
    krb5_const_principal client, const char *cname, char *err,
    size_t errlen)
{
	switch (code) {
	case KRB5KDC_ERR_PREAUTH_FAILED:
	case KRB5KRB_AP_ERR_BAD_INTEGRITY:
		pw_krb5_err(ctx, code, err, errlen,
		    "Password incorrect for %s", cname);
		return KP_AUTH;
	case KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN:
		pw_krb5_err(ctx, code, err, errlen, "unknown user %s", cname);
		return KP_AUTH;
	case KRB5KDC_ERR_CLIENT_REVOKED:
	case KRB5KDC_ERR_NAME_EXP:
	case KRB5KDC_ERR_KEY_EXP:
	case KRB5KDC_ERR_CLIENT_NOTYET:
	case KRB5KDC_ERR_POLICY:
		pw_krb5_err(ctx, code, err, errlen,
		    "the KDC refuses %s's account", cname);
		return KP_AUTH;
	case KRB5_PREAUTH_FAILED:
	case KRB5_LIBOS_CANTREADPWD:
	case KRB5_LIBOS_PWDINTR:
		pw_krb5_err(ctx, code, err, errlen,
		    "%s needs more than a password to log in", cname);
		return KP_AUTH;
	case KRB5_REALM_UNKNOWN:
	case KRB5_REALM_CANT_RESOLVE:
		/* A realm the user typed is the user's; ours is the admin's. */
		if (pw_foreign_realm(ctx, client)) {
			pw_krb5_err(ctx, code, err, errlen,
			    "%s is in a realm this server does not know",
			    cname);
			return KP_AUTH;
		}
		pw_krb5_err(ctx, code, err, errlen,
		    "no KDC configured for %s", cname);
		return KP_TEMP;
	case KRB5_KDC_UNREACH:
		pw_krb5_err(ctx, code, err, errlen,
		    "no KDC answered for %s", cname);
		return KP_TEMP;
	case KRB5KRB_AP_ERR_SKEW:
		pw_krb5_err(ctx, code, err, errlen,
		    "clock skew between this host and the KDC, for %s", cname);
		return KP_TEMP;
	default:
		pw_krb5_err(ctx, code, err, errlen,
		    "cannot get initial credentials for %s", cname);
		return KP_TEMP;
	}
}

/*
 * Classify a failure of krb5_verify_init_creds and say what it means in
 * err.  Returns KP_AUTH or KP_TEMP.
 */
static int
pw_verify_failed(krb5_context ctx, krb5_error_code code, const char *cname,
    const char *sname, const char *ktname, char *err, size_t errlen)
{
	if (pw_keytab_error(code)) {
		pw_krb5_err(ctx, code, err, errlen,
		    "server problem, not the user's: cannot verify %s's "
		    "credentials with %s from keytab %s", cname, sname,
		    ktname);
		return KP_TEMP;
	}
	switch (code) {
	case KRB5_KDC_UNREACH:
		pw_krb5_err(ctx, code, err, errlen,
		    "no KDC answered while verifying %s's credentials", cname);
		return KP_TEMP;
	case KRB5KRB_AP_ERR_SKEW:
		pw_krb5_err(ctx, code, err, errlen,
		    "clock skew while verifying %s's credentials", cname);
		return KP_TEMP;
	case KRB5KRB_AP_ERR_REPEAT:
	case KRB5_RC_TYPE_NOTFOUND:
	case KRB5_RC_UNKNOWN:
	case KRB5_RC_REPLAY:
	case KRB5_RC_IO:
	case KRB5_RC_NOIO:
	case KRB5_RC_PARSE:
	case KRB5_RC_IO_EOF:
	case KRB5_RC_IO_MALLOC:
	case KRB5_RC_IO_PERM:
	case KRB5_RC_IO_IO:
	case KRB5_RC_IO_UNKNOWN:
	case KRB5_RC_IO_SPACE:
	case KRB5_RC_MALLOC:
		pw_krb5_err(ctx, code, err, errlen,
		    "replay cache failure while verifying %s's credentials",
		    cname);
		return KP_TEMP;
	default:
		break;
	}
	if (code > 0 && code < PW_ERRNO_MAX) {
		pw_krb5_err(ctx, code, err, errlen,
		    "system error while verifying %s's credentials", cname);
		return KP_TEMP;
	}
	pw_krb5_err(ctx, code, err, errlen,
	    "verification failed: the KDC accepted the password for %s but "
	    "does not know the key of %s in keytab %s (spoofed KDC or "
	    "stale keytab)", cname, sname, ktname);
	return KP_AUTH;
}

int
pw_check_krb5(const char *principal, const char *password,
    const char *keytab, const char *service, char *err, size_t errlen)
{
	krb5_context ctx = NULL;
	krb5_principal client = NULL, server = NULL;
	krb5_keytab kt = NULL;
	krb5_get_init_creds_opt *gic = NULL;
	krb5_verify_init_creds_opt vic;
	krb5_creds creds;
	krb5_error_code code;
	char ktname[ERR_MSG_MAX];
	char *cname = NULL, *sname = NULL;
	int have_creds = 0, rv = KP_TEMP;

	memset(&creds, 0, sizeof(creds));
	if (errlen > 0)
		err[0] = '\0';
	if ((rv = pw_check_cstring(password, err, errlen)) != KP_OK ||
	    (rv = pw_check_name(principal, err, errlen)) != KP_OK)
		goto out;
	rv = KP_TEMP;

	if ((code = krb5_init_context(&ctx)) != 0) {
		ctx = NULL;
		pw_krb5_err(NULL, code, err, errlen,
		    "cannot initialize Kerberos");
		goto out;
	}
	if ((code = krb5_parse_name(ctx, principal, &client)) != 0) {
		pw_krb5_err(ctx, code, err, errlen,
		    "cannot parse principal name '%s'", principal);
		if (code == KRB5_PARSE_MALFORMED)
			rv = KP_AUTH;
		goto out;
	}
	if ((code = krb5_unparse_name(ctx, client, &cname)) != 0) {
		pw_krb5_err(ctx, code, err, errlen, "cannot write principal "
		    "name '%s'", principal);
		goto out;
	}

	/* The keytab and its service key first: no use asking a KDC else. */
	if (keytab != NULL)
		code = krb5_kt_resolve(ctx, keytab, &kt);
	else
		code = krb5_kt_default(ctx, &kt);
	if (code != 0) {
		pw_krb5_err(ctx, code, err, errlen,
		    "server problem, not the user's: cannot open keytab %s",
		    keytab != NULL ? keytab : "(default)");
		goto out;
	}
	if (krb5_kt_get_name(ctx, kt, ktname, sizeof(ktname)) != 0)
		(void)util_strlcpy(ktname, "(keytab name too long)",
		    sizeof(ktname));
	if (service != NULL) {
		if ((code = krb5_parse_name(ctx, service, &server)) != 0) {
			pw_krb5_err(ctx, code, err, errlen,
			    "server problem: bad service principal '%s'",
			    service);
			goto out;
		}
		if ((code = krb5_unparse_name(ctx, server, &sname)) != 0) {
			pw_krb5_err(ctx, code, err, errlen,
			    "cannot write service principal name '%s'",
			    service);
			goto out;
		}
	}
	if ((code = pw_keytab_usable(ctx, kt, server)) != 0) {
		pw_krb5_err(ctx, code, err, errlen,
		    "server problem, not the user's: keytab %s has no usable "
		    "key for %s", ktname,
		    sname != NULL ? sname : "any host/ principal");
		goto out;
	}

	if ((code = krb5_get_init_creds_opt_alloc(ctx, &gic)) != 0) {
		pw_krb5_err(ctx, code, err, errlen,
		    "cannot set up a Kerberos login");
		goto out;
	}
	/* The credentials are only looked at: no need to pass them on. */
	krb5_get_init_creds_opt_set_forwardable(gic, 0);
	krb5_get_init_creds_opt_set_proxiable(gic, 0);
	krb5_get_init_creds_opt_set_change_password_prompt(gic, 0);
	code = krb5_get_init_creds_password(ctx, &creds, client, password,
	    NULL, NULL, 0, NULL, gic);
	if (code != 0) {
		rv = pw_gic_failed(ctx, code, client, cname, err, errlen);
		goto out;
	}
	have_creds = 1;

	/*
	 * Anyone can answer for the KDC.  Only the real one knows the
	 * service key: make it prove that, and fail when there is no key.
	 */
	krb5_verify_init_creds_opt_init(&vic);
	krb5_verify_init_creds_opt_set_ap_req_nofail(&vic, 1);
	code = krb5_verify_init_creds(ctx, &creds, server, kt, NULL, &vic);
	if (code != 0) {
		rv = pw_verify_failed(ctx, code, cname,
		    sname != NULL ? sname : "a host/ principal", ktname, err,
		    errlen);
		goto out;
	}
	util_snprintf(err, errlen, "password for %s verified with %s from "
	    "keytab %s", cname, sname != NULL ? sname : "a host/ principal", ktname);
	rv = KP_OK;

out:
	if (ctx != NULL) {
		if (have_creds)
			krb5_free_cred_contents(ctx, &creds);
		krb5_get_init_creds_opt_free(ctx, gic);
		if (kt != NULL)
			krb5_kt_close(ctx, kt);
		krb5_free_unparsed_name(ctx, sname);
		krb5_free_unparsed_name(ctx, cname);
		krb5_free_principal(ctx, server);
		krb5_free_principal(ctx, client);
		krb5_free_context(ctx);
	}
	return rv;
}

/*
 * Check that path names a regular file this process can read.  Returns
 * KP_OK, or KP_TEMP with the reason in err.
 */
static int
pw_sasldb_readable(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd = -1, rv = KP_TEMP;

	if (path[0] == '\0') {
		util_snprintf(err, errlen, "server problem: empty sasldb path");
		goto out;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		util_snprintf(err, errlen, "server problem, not the user's: "
		    "cannot open sasldb %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		util_snprintf(err, errlen, "server problem, not the user's: "
		    "sasldb %s is not a regular file", path);
		goto out;
	}
	rv = KP_OK;

out:
	if (fd != -1)
		(void)close(fd);
	return rv;
}

int
pw_check_sasl(const char *user, const char *password, const char *service,
    const char *hostname, const char *sasldb_path, char *err, size_t errlen)
{
	struct xsasl_server_opts o;
	int rv;

	if (errlen > 0)
		err[0] = '\0';
	if ((rv = pw_check_cstring(password, err, errlen)) != KP_OK ||
	    (rv = pw_check_name(user, err, errlen)) != KP_OK)
		return rv;
	if (sasldb_path != NULL &&
	    pw_sasldb_readable(sasldb_path, err, errlen) != KP_OK)
		return KP_TEMP;
	if (xsasl_server_init(PW_SASL_APPNAME, err, errlen) == -1)
		return KP_TEMP;
	memset(&o, 0, sizeof(o));
	o.service = service;
	o.hostname = hostname;	/* the realm of a bare name, as for AUTH */
	o.sasldb = sasldb_path;
	o.pwcheck = "saslauthd";
	return xsasl_checkpass(&o, user, password, sasldb_path != NULL ?
	    "sasldb" : "saslauthd", err, errlen);
}
