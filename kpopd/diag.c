/* SPDX-License-Identifier: MIT */
/*
 * kpopd/diag.c: the Kerberos checks of "kpopd -t", which turn the usual
 * opaque GSSAPI failures into a sentence an admin can act on: is the
 * keytab there and readable, does it hold the key for service/hostname
 * and for the names clients may use instead (the canonical name and the
 * aliases DNS gives), does the KDC agree with that key (an initial ticket
 * for the service from the keytab, which also shows the clock skew), can
 * the keytab decrypt the tickets the KDC issues for the service (their
 * key version and enctype), and can the replay cache be written.  With
 * detail (kpopd -t --kerberos) it also lists every key and every passing
 * check.  What ticket logins need (the keytab and the service's key in
 * it, a key the KDC agrees with) is an error; what they can do without
 * (a KDC to ask, keys for other names, a well-set clock, as long as the
 * skew stays within krb5's clockskew) is a warning: a KDC outage must not
 * keep the server from starting.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <krb5.h>
#include <profile.h>

#include "kpopd/check.h"
#include "kpopd/kpopd.h"

struct diag {
	const struct kpopd_conf	*c;
	diag_say_fn		*say;
	void			*arg;
	int			 detail;
	int			 errors;
	int			 warnings;
	char			*err;
	size_t			 errlen;
	krb5_context		 ctx;
	krb5_keytab		 kt;
	krb5_principal		 svc;
	char			 svcname[300];
	const char		*ktpath;
};

/* One finding: counted, the first error kept, and said. */
static void KP_PRINTF(3, 4)
say(struct diag *d, enum diag_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (level == DIAG_ERROR && d->errors++ == 0)
		util_strlcpy(d->err, msg, d->errlen);
	else if (level == DIAG_WARNING)
		d->warnings++;
	d->say(d->arg, level, msg);
}

/* Say what failed, and krb5's reason. */
static void
diag_krb5(struct diag *d, enum diag_level level, krb5_error_code ret,
    const char *what, const char *arg, const char *more)
{
	const char *m = krb5_get_error_message(d->ctx, ret);

	say(d, level, "%s %s: %s%s", what, arg, m, more);
	krb5_free_error_message(d->ctx, m);
}

static const char *
enctype_name(krb5_enctype e, char *buf, size_t len)
{
	if (krb5_enctype_to_name(e, 0, buf, len) != 0)
		util_snprintf(buf, len, "enctype %d", (int)e);
	return buf;
}

/*
 * Count the keytab's keys for principal p; with detail (or when there are
 * none, to show what is there instead) list the others too.
 */
static int
keys_for(struct diag *d, krb5_principal p, int list_others)
{
	krb5_kt_cursor cur;
	krb5_keytab_entry ent;
	char last[512] = "", et[64];
	int found = 0;

	if (krb5_kt_start_seq_get(d->ctx, d->kt, &cur) != 0)
		return -1;
	while (krb5_kt_next_entry(d->ctx, d->kt, &ent, &cur) == 0) {
		char *en = NULL;
		int mine = krb5_principal_compare(d->ctx, ent.principal, p);

		found += mine;
		if (krb5_unparse_name(d->ctx, ent.principal, &en) == 0) {
			if (d->detail && list_others)
				say(d, DIAG_NOTE, "(keytab: %s kvno %u %s)",
				    en, ent.vno, enctype_name(ent.key.enctype,
				    et, sizeof(et)));
			else if (!mine && list_others && strcmp(en, last) != 0)
				/* One line per principal, not per enctype. */
				say(d, DIAG_NOTE, "(keytab %s holds %s, kvno "
				    "%u)", d->ktpath, en, ent.vno);
			util_strlcpy(last, en, sizeof(last));
			krb5_free_unparsed_name(d->ctx, en);
		}
		krb5_free_keytab_entry_contents(d->ctx, &ent);
	}
	krb5_kt_end_seq_get(d->ctx, d->kt, &cur);
	return found;
}

/* The keytab exists, is readable, and opens.  0 or -1. */
static int
open_keytab(struct diag *d, char *name, size_t namelen)
{
	krb5_error_code ret;

	if (d->c->keytab != NULL)
		util_strlcpy(name, d->c->keytab, namelen);
	else if (krb5_kt_default_name(d->ctx, name, (int)namelen) != 0)
		util_strlcpy(name, "(default)", namelen);
	d->ktpath = strncmp(name, "FILE:", 5) == 0 ? name + 5 : name;
	if (access(d->ktpath, F_OK) != 0) {
		say(d, DIAG_ERROR, "keytab %s does not exist (set keytab, or "
		    "KRB5_KTNAME)", d->ktpath);
		return -1;
	}
	if (access(d->ktpath, R_OK) != 0) {
		say(d, DIAG_ERROR, "keytab %s is not readable by uid %ld: %s "
		    "(the session monitor reads it as root)", d->ktpath,
		    (long)geteuid(), strerror(errno));
		return -1;
	}
	if ((ret = krb5_kt_resolve(d->ctx, name, &d->kt)) != 0) {
		diag_krb5(d, DIAG_ERROR, ret, "cannot use keytab", name, "");
		return -1;
	}
	return 0;
}

/*
 * Clients may ask for service/NAME with NAME the canonical name of the
 * host name they were given (MIT canonicalizes by default) or an alias:
 * each needs a key too.
 */
static void
check_other_names(struct diag *d)
{
	struct addrinfo hints, *res = NULL;
	struct hostent *he;
	char names[DIAG_NAMES_MAX][256];
	size_t n = 0, i, j;
	int canon = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_CANONNAME;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(d->c->hostname, NULL, &hints, &res) == 0 &&
	    res->ai_canonname != NULL) {
		util_strlcpy(names[n++], res->ai_canonname, sizeof(names[0]));
		canon = 1;
	}
	if (res != NULL)
		freeaddrinfo(res);
	if ((he = gethostbyname(d->c->hostname)) != NULL)
		for (i = 0; he->h_aliases[i] != NULL && n < DIAG_NAMES_MAX;
		    i++)
			util_strlcpy(names[n++], he->h_aliases[i],
			    sizeof(names[0]));
	for (i = 0; i < n; i++) {
		krb5_principal p = NULL;
		char full[300];
		int dup = strcasecmp(names[i], d->c->hostname) == 0;

		for (j = 0; j < i && !dup; j++)
			dup = strcasecmp(names[i], names[j]) == 0;
		if (dup || util_snprintf(full, sizeof(full), "%s/%s",
		    d->c->service, names[i]) == -1 ||
		    krb5_parse_name(d->ctx, full, &p) != 0)
			continue;
		if (keys_for(d, p, 0) == 0)
			say(d, DIAG_WARNING, "keytab %s has no key for %s: %s "
			    "is %s of %s, and clients that canonicalize host "
			    "names ask for that principal", d->ktpath, full,
			    names[i], i == 0 && canon ? "the canonical name" :
			    "an alias", d->c->hostname);
		else if (d->detail)
			say(d, DIAG_NOTE, "keytab has a key for %s too", full);
		krb5_free_principal(d->ctx, p);
	}
}

/*
 * Get a ticket for the service, as the service, and see whether the
 * keytab holds the key of its version and enctype: that is what a
 * client's ticket will need.
 */
static void
check_ticket_key(struct diag *d, krb5_creds *tgt)
{
	krb5_ccache cc = NULL;
	krb5_creds in, *st = NULL;
	krb5_ticket *tkt = NULL;
	krb5_keytab_entry ent;
	krb5_error_code ret;
	char et[64];

	memset(&in, 0, sizeof(in));
	if ((ret = krb5_cc_new_unique(d->ctx, "MEMORY", NULL, &cc)) != 0 ||
	    (ret = krb5_cc_initialize(d->ctx, cc, tgt->client)) != 0 ||
	    (ret = krb5_cc_store_cred(d->ctx, cc, tgt)) != 0 ||
	    (ret = krb5_copy_principal(d->ctx, d->svc, &in.server)) != 0 ||
	    (ret = krb5_copy_principal(d->ctx, tgt->client, &in.client)) !=
	    0 || (ret = krb5_get_credentials(d->ctx, 0, cc, &in, &st)) != 0 ||
	    (ret = krb5_decode_ticket(&st->ticket, &tkt)) != 0) {
		diag_krb5(d, DIAG_WARNING, ret, "cannot get a service ticket "
		    "for", d->svcname, " (the keytab's key versions were not "
		    "checked against the KDC's)");
		goto out;
	}
	ret = krb5_kt_get_entry(d->ctx, d->kt, d->svc, tkt->enc_part.kvno,
	    tkt->enc_part.enctype, &ent);
	if (ret != 0) {
		say(d, DIAG_ERROR, "the KDC issues tickets for %s with key "
		    "version %u (%s), and keytab %s has no such key: the "
		    "keytab is out of date (extract it again: kadmin ktadd)",
		    d->svcname, tkt->enc_part.kvno, enctype_name(
		    tkt->enc_part.enctype, et, sizeof(et)), d->ktpath);
	} else {
		krb5_free_keytab_entry_contents(d->ctx, &ent);
		say(d, DIAG_NOTE, "the KDC issues tickets for %s with key "
		    "version %u (%s): the keytab has that key", d->svcname,
		    tkt->enc_part.kvno, enctype_name(tkt->enc_part.enctype, et,
		    sizeof(et)));
	}
out:
	if (tkt != NULL)
		krb5_free_ticket(d->ctx, tkt);
	if (st != NULL)
		krb5_free_creds(d->ctx, st);
	krb5_free_cred_contents(d->ctx, &in);
	if (cc != NULL)
		krb5_cc_destroy(d->ctx, cc);
}

/*
 * The KDCs krb5.conf names for the service's realm, for a warning that
 * says which could not be reached ("from DNS" when it names none).
 */
static void
kdc_names(struct diag *d, char *out, size_t len)
{
	profile_t prof = NULL;
	char **vals = NULL, *realm = NULL;
	const char *names[4];
	size_t i, at = 0;

	util_strlcpy(out, "the KDC", len);
	if ((realm = strndup(krb5_princ_realm(d->ctx, d->svc)->data,
	    krb5_princ_realm(d->ctx, d->svc)->length)) == NULL)
		return;
	names[0] = "realms";
	names[1] = realm;
	names[2] = "kdc";
	names[3] = NULL;
	if (krb5_get_profile(d->ctx, &prof) == 0 &&
	    profile_get_values(prof, names, &vals) == 0 && vals[0] != NULL) {
		at = (size_t)snprintf(out, len, "the KDC of %s (", realm);
		for (i = 0; vals[i] != NULL && at < len; i++)
			at += (size_t)snprintf(out + at, len - at, "%s%s",
			    i > 0 ? ", " : "", vals[i]);
		if (at < len)
			(void)snprintf(out + at, len - at, ")");
	} else
		util_snprintf(out, len, "the KDC of %s (from DNS)", realm);
	if (vals != NULL)
		profile_free_list(vals);
	if (prof != NULL)
		profile_release(prof);
	free(realm);
}

/* krb5.conf's clockskew (libdefaults), the skew tickets survive. */
static long
clockskew(struct diag *d)
{
	profile_t prof = NULL;
	int v = DIAG_CLOCKSKEW;

	if (krb5_get_profile(d->ctx, &prof) == 0) {
		if (profile_get_integer(prof, "libdefaults", "clockskew",
		    NULL, DIAG_CLOCKSKEW, &v) != 0)
			v = DIAG_CLOCKSKEW;
		profile_release(prof);
	}
	return v;
}

/*
 * Ask the KDC: an initial ticket for the service, from the keytab.  The
 * KDC refusing the key is an error (tickets it issues will not decrypt);
 * not reaching it is a warning: ticket logins need only the keytab.
 */
static void
check_kdc(struct diag *d)
{
	krb5_get_init_creds_opt *opt = NULL;
	krb5_creds creds;
	krb5_error_code ret;
	char kdc[512];
	long skew, max;

	memset(&creds, 0, sizeof(creds));
	if (krb5_get_init_creds_opt_alloc(d->ctx, &opt) == 0)
		krb5_get_init_creds_opt_set_tkt_life(opt, 60);
	ret = krb5_get_init_creds_keytab(d->ctx, &creds, d->svc, d->kt, 0,
	    NULL, opt);
	if (opt != NULL)
		krb5_get_init_creds_opt_free(d->ctx, opt);
	if (ret == KRB5KDC_ERR_PREAUTH_FAILED ||
	    ret == KRB5KRB_AP_ERR_BAD_INTEGRITY) {
		diag_krb5(d, DIAG_ERROR, ret, "the KDC does not accept the "
		    "keytab's key for", d->svcname, ": the key changed at the "
		    "KDC after the keytab was written: extract it again "
		    "(kadmin ktadd)");
		return;
	}
	if (ret == KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN) {
		diag_krb5(d, DIAG_ERROR, ret, "the KDC does not know",
		    d->svcname, ": clients cannot get tickets for it (kadmin "
		    "addprinc, then ktadd)");
		return;
	}
	if (ret != 0) {
		const char *m = krb5_get_error_message(d->ctx, ret);

		kdc_names(d, kdc, sizeof(kdc));
		say(d, DIAG_WARNING, "%s cannot be asked about the key for "
		    "%s: %s (ticket logins need only the keytab; clients need "
		    "a KDC to get their tickets)", kdc, d->svcname, m);
		krb5_free_error_message(d->ctx, m);
		return;
	}
	skew = (long)creds.times.authtime - (long)time(NULL);
	max = clockskew(d);
	say(d, DIAG_NOTE, "the KDC accepts the key for %s; clock skew %+ld s",
	    d->svcname, skew);
	if (skew > max || skew < -max)
		say(d, DIAG_WARNING, "the clock is %+ld s off the KDC's, past "
		    "krb5's clockskew of %ld s: tickets are refused until the "
		    "clock is set (NTP)", skew, max);
	else if (skew > DIAG_SKEW_WARN || skew < -DIAG_SKEW_WARN)
		say(d, DIAG_WARNING, "the clock is %+ld s off the KDC's: "
		    "tickets will be refused past krb5's clockskew of %ld s",
		    skew, max);
	check_ticket_key(d, &creds);
	krb5_free_cred_contents(d->ctx, &creds);
}

static void
check_rcache(struct diag *d)
{
	const char *rc = getenv("KRB5RCACHEDIR");

	if (rc == NULL)
		rc = "/var/tmp";
	if (access(rc, W_OK) != 0)
		say(d, DIAG_ERROR, "the replay cache directory %s is not "
		    "writable: ticket logins will fail", rc);
	else if (d->detail)
		say(d, DIAG_NOTE, "the replay cache directory %s is writable",
		    rc);
}

int
diag_kerberos(const struct kpopd_conf *c, int flags, diag_say_fn *sayfn,
    void *arg, int *warnings, char *err, size_t errlen)
{
	struct diag d;
	krb5_error_code ret;
	char name[1024], *full = NULL;
	int found;

	memset(&d, 0, sizeof(d));
	d.c = c;
	d.say = sayfn;
	d.arg = arg;
	d.detail = (flags & DIAG_F_DETAIL) != 0;
	d.err = err;
	d.errlen = errlen;
	if ((ret = krb5_init_context(&d.ctx)) != 0) {
		say(&d, DIAG_ERROR, "cannot start Kerberos (krb5.conf?): error "
		    "%ld", (long)ret);
		goto done;
	}
	util_snprintf(d.svcname, sizeof(d.svcname), "%s/%s", c->service,
	    c->hostname);
	if (open_keytab(&d, name, sizeof(name)) == -1)
		goto out;
	if ((ret = krb5_parse_name(d.ctx, d.svcname, &d.svc)) != 0 ||
	    (ret = krb5_unparse_name(d.ctx, d.svc, &full)) != 0) {
		diag_krb5(&d, DIAG_ERROR, ret, "cannot use the service "
		    "principal", d.svcname, "");
		goto out;
	}
	if ((found = keys_for(&d, d.svc, 1)) == -1) {
		say(&d, DIAG_ERROR, "cannot read keytab %s", d.ktpath);
		goto out;
	}
	if (found == 0) {
		say(&d, DIAG_ERROR, "keytab %s has no key for %s: clients "
		    "asking for that service principal will fail (is hostname "
		    "the name clients use?)", d.ktpath, full);
	} else {
		say(&d, DIAG_NOTE, "keytab %s has %d key(s) for %s", d.ktpath,
		    found, full);
		if (flags & DIAG_F_NETWORK) {
			check_other_names(&d);
			check_kdc(&d);
		}
	}
	check_rcache(&d);
out:
	krb5_free_unparsed_name(d.ctx, full);
	krb5_free_principal(d.ctx, d.svc);
	if (d.kt != NULL)
		krb5_kt_close(d.ctx, d.kt);
	krb5_free_context(d.ctx);
done:
	*warnings = d.warnings;
	return d.errors;
}
