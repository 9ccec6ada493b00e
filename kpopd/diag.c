/*
 * kpopd/diag.c: the Kerberos checks of "kpopd -t", which turn the usual
 * opaque GSSAPI failures into a sentence an admin can act on: is the
 * keytab there and readable, does it hold the key for service/hostname
 * (and which keys it does hold), does the KDC agree with that key (an
 * initial ticket for the service from the keytab, which also shows the
 * clock skew), and can the replay cache be written.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <krb5.h>

#include "kpopd/kpopd.h"

/* Clock skew that MIT's default (300 s) would refuse, with margin. */
#define DIAG_SKEW_WARN	60

/* Say what failed, and krb5's reason. */
static void
diag_krb5(FILE *out, krb5_context ctx, krb5_error_code ret, const char *what,
    const char *arg)
{
	const char *m = krb5_get_error_message(ctx, ret);

	fprintf(out, "kpopd: %s %s: %s\n", what, arg, m);
	krb5_free_error_message(ctx, m);
}

int
diag_kerberos(const struct kpopd_conf *c, FILE *out)
{
	krb5_context ctx = NULL;
	krb5_keytab kt = NULL;
	krb5_kt_cursor cur;
	krb5_keytab_entry ent;
	krb5_principal svc = NULL;
	krb5_creds creds;
	krb5_get_init_creds_opt *opt = NULL;
	krb5_error_code ret;
	char name[1024], svcname[300], last[512] = "", *p = NULL;
	const char *rc;
	int problems = 0, found = 0, have_creds = 0;
	long skew;

	memset(&creds, 0, sizeof(creds));
	if ((ret = krb5_init_context(&ctx)) != 0) {
		fprintf(out, "kpopd: cannot start Kerberos (krb5.conf?): error "
		    "%ld\n", (long)ret);
		return 1;
	}
	util_snprintf(svcname, sizeof(svcname), "%s/%s", c->service,
	    c->hostname);
	if (c->keytab != NULL)
		util_strlcpy(name, c->keytab, sizeof(name));
	else if (krb5_kt_default_name(ctx, name, (int)sizeof(name)) != 0)
		util_strlcpy(name, "(default)", sizeof(name));
	p = strncmp(name, "FILE:", 5) == 0 ? name + 5 : name;
	if (access(p, F_OK) != 0) {
		fprintf(out, "kpopd: keytab %s does not exist (set keytab, or "
		    "KRB5_KTNAME)\n", p);
		problems++;
		goto out;
	}
	if (access(p, R_OK) != 0) {
		fprintf(out, "kpopd: keytab %s is not readable by uid %ld: "
		    "%s (the session monitor reads it as root)\n", p,
		    (long)geteuid(), strerror(errno));
		problems++;
		goto out;
	}
	if ((ret = krb5_kt_resolve(ctx, name, &kt)) != 0 ||
	    (ret = krb5_parse_name(ctx, svcname, &svc)) != 0) {
		diag_krb5(out, ctx, ret, "cannot use keytab", name);
		problems++;
		goto out;
	}
	if ((ret = krb5_kt_start_seq_get(ctx, kt, &cur)) != 0) {
		diag_krb5(out, ctx, ret, "cannot read keytab", p);
		problems++;
		goto out;
	}
	while (krb5_kt_next_entry(ctx, kt, &ent, &cur) == 0) {
		char *en = NULL;

		if (krb5_principal_compare(ctx, ent.principal, svc))
			found++;
		else if (krb5_unparse_name(ctx, ent.principal, &en) == 0) {
			/* One line per principal, not per enctype. */
			if (found == 0 && strcmp(en, last) != 0)
				fprintf(out, "kpopd: (keytab %s holds %s, "
				    "kvno %u)\n", p, en, ent.vno);
			util_strlcpy(last, en, sizeof(last));
			krb5_free_unparsed_name(ctx, en);
		}
		krb5_free_keytab_entry_contents(ctx, &ent);
	}
	krb5_kt_end_seq_get(ctx, kt, &cur);
	{
		char *full = NULL;

		if (krb5_unparse_name(ctx, svc, &full) == 0) {
			if (found == 0) {
				fprintf(out, "kpopd: keytab %s has no key for "
				    "%s: clients asking for that service "
				    "principal will fail (is hostname the "
				    "name clients use?)\n", p, full);
				problems++;
			} else {
				fprintf(out, "kpopd: keytab %s has %d key(s) "
				    "for %s\n", p, found, full);
			}
			krb5_free_unparsed_name(ctx, full);
		}
	}
	if (found == 0)
		goto rcache;

	/* Ask the KDC: an initial ticket for the service, from the keytab. */
	if (krb5_get_init_creds_opt_alloc(ctx, &opt) == 0)
		krb5_get_init_creds_opt_set_tkt_life(opt, 60);
	ret = krb5_get_init_creds_keytab(ctx, &creds, svc, kt, 0, NULL, opt);
	if (ret != 0) {
		diag_krb5(out, ctx, ret, "the KDC does not accept (or cannot be "
		    "asked about) the keytab's key for", svcname);
		problems++;
	} else {
		have_creds = 1;
		skew = (long)creds.times.authtime - (long)time(NULL);
		fprintf(out, "kpopd: the KDC accepts the key for %s; clock "
		    "skew %+ld s\n", svcname, skew);
		if (skew > DIAG_SKEW_WARN || skew < -DIAG_SKEW_WARN) {
			fprintf(out, "kpopd: the clock is %ld s off the KDC's: "
			    "tickets will be refused past 300 s\n", skew);
			problems++;
		}
	}
rcache:
	rc = getenv("KRB5RCACHEDIR");
	if (rc == NULL)
		rc = "/var/tmp";
	if (access(rc, W_OK) != 0) {
		fprintf(out, "kpopd: the replay cache directory %s is not "
		    "writable: KPOP logins will fail\n", rc);
		problems++;
	}
out:
	if (have_creds)
		krb5_free_cred_contents(ctx, &creds);
	if (opt != NULL)
		krb5_get_init_creds_opt_free(ctx, opt);
	krb5_free_principal(ctx, svc);
	if (kt != NULL)
		krb5_kt_close(ctx, kt);
	krb5_free_context(ctx);
	return problems;
}
