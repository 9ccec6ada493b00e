/* SPDX-License-Identifier: MIT */
/*
 * kpop/account.c: the accounts kpop fetches (kpop.h): "[name]" sections
 * of the config file, completed from the flags, a URL, the user's post
 * office (locate.h) and defaults; and where an account's password comes
 * from (passwordeval, ~/.netrc, a prompt on the terminal).
 */
#include "config.h"

#include <sys/stat.h>

#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/util.h"
#include "kpop/deliver.h"
#include "kpop/kpop.h"
#include "kpop/locate.h"
#include "kpop/url.h"

#define AOFF(f)	offsetof(struct account, f)
static const struct conf_key account_keys[] = {
	{ "url", CONF_STRING, AOFF(url), 0, 0 },
	{ "host", CONF_STRING, AOFF(host), 0, 0 },
	{ "port", CONF_UINT, AOFF(port), 1, 65535 },
	{ "user", CONF_STRING, AOFF(user), 0, 0 },
	{ "auth", CONF_STRING, AOFF(auth), 0, 0 },
	{ "tls", CONF_STRING, AOFF(tls), 0, 0 },
	{ "cafile", CONF_STRING, AOFF(cafile), 0, 0 },
	{ "pin", CONF_STRING, AOFF(pin), 0, 0 },
	{ "deliver", CONF_STRING, AOFF(deliver), 0, 0 },
	{ "passwordeval", CONF_STRING, AOFF(passwordeval), 0, 0 },
	{ "service", CONF_STRING, AOFF(service), 0, 0 },
	{ "keep", CONF_BOOL, AOFF(keep), 0, 1 },
	{ "max_size", CONF_SIZE, AOFF(max_size), 0, ULLONG_MAX },
	{ "delete_too_large", CONF_BOOL, AOFF(delete_too_large), 0, 1 },
	{ "max_messages", CONF_UINT, AOFF(max_messages), 0, UINT_MAX },
	{ "sasl_mechanisms", CONF_STRING, AOFF(sasl_mechanisms), 0, 0 },
	{ "trust_srv_target", CONF_BOOL, AOFF(trust_srv_target), 0, 1 },
	{ "recipient", CONF_STRING, AOFF(recipient), 0, 0 },
	{ "envelope_sender", CONF_STRING, AOFF(envelope_sender), 0, 0 },
	{ "on_permanent_failure", CONF_STRING, AOFF(on_perm_fail), 0, 0 },
	{ "bounce_via", CONF_STRING, AOFF(bounce_via), 0, 0 },
	{ "delivery_timeout", CONF_UINT, AOFF(delivery_timeout), 1, 86400 },
	{ "received_header", CONF_BOOL, AOFF(received_header), 0, 1 },
	{ "filter", CONF_STRING, AOFF(filter), 0, 0 },
	CONF_KEY_END
};

/*
 * The global settings.  daemon: a poll at least a second apart, at most
 * a day (a longer wait is a timer's job, kpop(1)).
 */
#define GOFF(f)	offsetof(struct globals, f)
static const struct conf_key global_keys[] = {
	{ "daemon", CONF_DURATION, GOFF(daemon), 0, 86400 },
	CONF_KEY_END
};

int
account_set_global(struct globals *g, const char *key, const char *value,
    char *err, size_t errlen)
{
	return conf_set(global_keys, g, key, value, err, errlen);
}

/* Whether the account logs in by KPOP (sendauth before the greeting). */
int
account_is_kpop(const struct account *a)
{
	return strcasecmp(a->auth, "kpop") == 0 ||
	    strcasecmp(a->auth, "+KPOP") == 0;
}

/* ---- passwords ---- */

/* The first line a command prints (passwordeval). */
static int
pw_eval(const char *cmd, char *out, size_t outlen)
{
	FILE *f;
	size_t n;
	int st;

	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	if (fgets(out, (int)outlen, f) == NULL)
		out[0] = '\0';
	st = pclose(f);
	n = strcspn(out, "\r\n");
	out[n] = '\0';
	return st == 0 && n > 0 ? 0 : -1;
}

/* ~/.netrc: "machine HOST login USER password PW" (or default). */
static int
pw_netrc(const char *host, const char *user, char *out, size_t outlen)
{
	char path[PATH_MAX], tok[PASS_MAX], mach[256] = "", login[256] = "";
	const char *home = getenv("HOME");
	struct stat sb;
	FILE *f;
	int in = 0, found = -1, isdef = 0;

	if (home == NULL || util_snprintf(path, sizeof(path), "%s/.netrc",
	    home) == -1 || (f = fopen(path, "r")) == NULL)
		return -1;
	/* As ftp(1): a .netrc others can read is not used for passwords. */
	if (fstat(fileno(f), &sb) == -1 || (sb.st_mode & 077) != 0) {
		out_warn("%s is readable by others: not used", path);
		fclose(f);
		return -1;
	}
	while (found == -1 && fscanf(f, "%1023s", tok) == 1) {
		if (strcmp(tok, "machine") == 0 &&
		    fscanf(f, "%255s", mach) == 1) {
			in = strcasecmp(mach, host) == 0;
			isdef = 0;
			login[0] = '\0';
		} else if (strcmp(tok, "default") == 0) {
			in = isdef = 1;
			login[0] = '\0';
		} else if (strcmp(tok, "login") == 0)
			(void)fscanf(f, "%255s", login);
		else if (strcmp(tok, "password") == 0 &&
		    fscanf(f, "%1023s", tok) == 1 && in &&
		    (login[0] == '\0' || strcmp(login, user) == 0)) {
			util_strlcpy(out, tok, outlen);
			found = 0;
		}
	}
	(void)isdef;
	util_wipe(tok, sizeof(tok));
	fclose(f);
	return found;
}

/* Ask on the terminal, without echo. */
static int
pw_prompt(const struct account *a, char *out, size_t outlen)
{
	struct termios t, old;
	FILE *tty;
	size_t n;
	int ok;

	if ((tty = fopen("/dev/tty", "r+")) == NULL)
		return -1;
	fprintf(tty, "Password for %s@%s: ", a->user, a->host);
	fflush(tty);
	ok = tcgetattr(fileno(tty), &old) == 0;
	if (ok) {
		t = old;
		t.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fileno(tty), TCSAFLUSH, &t);
	}
	if (fgets(out, (int)outlen, tty) == NULL)
		out[0] = '\0';
	if (ok)
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	fclose(tty);
	n = strcspn(out, "\r\n");
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* The password, from the first source that has one; asked once. */
const char *
account_password(void *arg)
{
	struct pwsrc *s = arg;
	const struct account *a = s->a;

	if (s->have)
		return s->pw;
	if (s->tried)
		return NULL;
	s->tried = 1;
	if (a->passwordeval != NULL && a->passwordeval[0] != '\0') {
		if (pw_eval(a->passwordeval, s->pw, sizeof(s->pw)) == -1) {
			out_warn("passwordeval gave no password");
			return NULL;
		}
	} else if (pw_netrc(a->host, a->user, s->pw, sizeof(s->pw)) == -1 &&
	    pw_prompt(a, s->pw, sizeof(s->pw)) == -1)
		return NULL;
	s->have = 1;
	return s->pw;
}

/* ---- accounts ---- */

void
account_init(struct account *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->name = strdup(name);
	a->received_header = -1;	/* the target's kind decides */
}

/* "~/" at the start of *f (after a "maildir:" or "mbox:" prefix): $HOME. */
static void
expand_home(char **f)
{
	const char *home = getenv("HOME"), *rest;
	char buf[PATH_MAX];
	size_t pre;

	if (*f == NULL || home == NULL)
		return;
	pre = strncmp(*f, "maildir:", 8) == 0 ? 8 : strncmp(*f, "mbox:", 5) ==
	    0 ? 5 : 0;
	rest = *f + pre;
	if (strncmp(rest, "~/", 2) != 0 || util_snprintf(buf, sizeof(buf),
	    "%.*s%s%s", (int)pre, *f, home, rest + 1) == -1)
		return;
	free(*f);
	*f = strdup(buf);
}

/* Apply one command-line setting to a: 0, or -1 with a message in err. */
static int
apply_set(struct account *a, const struct account_set *set, char *err,
    size_t errlen)
{
	char msg[256];
	const char *m = msg;
	size_t kl = strlen(set->key);

	if (conf_set(account_keys, a, set->key, set->value, msg,
	    sizeof(msg)) == 0)
		return 0;
	/* "'max_size': '1Q' is not a size...": the flag names it here. */
	if (msg[0] == '\'' && strncmp(msg + 1, set->key, kl) == 0 &&
	    strncmp(msg + 1 + kl, "': ", 3) == 0)
		m = msg + kl + 4;
	util_snprintf(err, errlen, "%s: %s", set->flag, m);
	return -1;
}

int
account_check_set(const struct account_set *set, char *err, size_t errlen)
{
	struct account scratch;
	int r;

	memset(&scratch, 0, sizeof(scratch));
	r = apply_set(&scratch, set, err, errlen);
	conf_free(account_keys, &scratch);
	return r;
}

/*
 * The LMTP/SMTP settings' defaults: the recipient is the local user
 * (USER@localhost for SMTP, which MTAs take as local: Postfix's
 * mydestination and Debian's exim4 local_domains have it).
 */
static int
account_smtp(struct account *a, char *err, size_t errlen)
{
	struct passwd *pw;
	struct dlv_target t;
	char buf[512];

	if (a->on_perm_fail == NULL)
		a->on_perm_fail = strdup("keep");
	if (strcmp(a->on_perm_fail, "keep") != 0 &&
	    strcmp(a->on_perm_fail, "delete") != 0 &&
	    strcmp(a->on_perm_fail, "bounce") != 0) {
		util_snprintf(err, errlen, "on_permanent_failure: '%s' is not "
		    "keep, delete or bounce", a->on_perm_fail);
		return -1;
	}
	/* Bounces go to an smtp: target itself, else to the local MTA. */
	if (a->bounce_via == NULL)
		a->bounce_via = strdup(dlv_parse(a->deliver, &t, buf,
		    sizeof(buf)) == KP_OK && t.kind == DLV_SMTP ? a->deliver :
		    "smtp:localhost");
	if (a->bounce_via == NULL || dlv_parse(a->bounce_via, &t, buf,
	    sizeof(buf)) != KP_OK || t.kind != DLV_SMTP) {
		util_snprintf(err, errlen, "bounce_via: '%s' is not "
		    "smtp:HOST or smtp:HOST:PORT", a->bounce_via != NULL ?
		    a->bounce_via : "");
		return -1;
	}
	if (a->envelope_sender == NULL)
		a->envelope_sender = strdup("");
	if (!dlv_smtp_address_ok(a->envelope_sender)) {
		util_snprintf(err, errlen, "envelope_sender: '%s' cannot go in "
		    "MAIL FROM (a blank, '<', '>' or over %d bytes)",
		    a->envelope_sender, DLV_SENDER_MAX);
		return -1;
	}
	if (a->recipient == NULL) {
		pw = getpwuid(getuid());
		util_snprintf(buf, sizeof(buf), "%s%s", pw != NULL ?
		    pw->pw_name : "nobody", strncmp(a->deliver, "smtp:", 5) ==
		    0 ? "@localhost" : "");
		a->recipient = strdup(buf);
	}
	if (a->recipient[0] == '\0' || !dlv_smtp_address_ok(a->recipient)) {
		util_snprintf(err, errlen, "recipient: '%s' cannot go in RCPT "
		    "TO (empty, a blank, '<', '>' or over %d bytes)",
		    a->recipient, DLV_SENDER_MAX);
		return -1;
	}
	return 0;
}

/* Fill what the account leaves open from the flags, the URL, defaults. */
int
account_finish(struct account *a, const struct account_set *cli, size_t n,
    char *err, size_t errlen)
{
	struct pop_url u;
	struct passwd *pw;
	char buf[PATH_MAX];
	size_t i;

	for (i = 0; i < n; i++)
		if (apply_set(a, &cli[i], err, errlen) == -1)
			return -1;
	if (a->url != NULL) {
		if (url_parse(a->url, &u, err, errlen) == -1)
			return -1;
		free(a->host);
		a->host = strdup(u.host);
		if (u.port)
			a->port = a->port ? a->port : u.port;
		if (u.user[0] && a->user == NULL)
			a->user = strdup(u.user);
		if (u.auth[0] && a->auth == NULL)
			a->auth = strdup(u.auth);
		if (u.tls && a->tls == NULL)
			a->tls = strdup("implicit");
	}
	if (a->user == NULL) {
		pw = getpwuid(getuid());
		a->user = strdup(pw != NULL ? pw->pw_name : "nobody");
	}
	if (a->host == NULL || a->host[0] == '\0') {
		struct locate_po po;

		if (locate_pobox(a->user, a->trust_srv_target, &po, err,
		    errlen) == -1)
			return -1;
		free(a->host);
		a->host = strdup(po.host);
		if (a->port == 0)
			a->port = po.port;
		if (po.implicit_tls && a->tls == NULL)
			a->tls = strdup("implicit");
		if (strcmp(po.tls_name, po.host) != 0)
			a->tls_name = strdup(po.tls_name);
		util_snprintf(buf, sizeof(buf), "%s%s", po.implicit_tls ?
		    "pops://" : "", po.host);
		if (po.port != 0)
			util_snprintf(buf + strlen(buf), sizeof(buf) -
			    strlen(buf), ":%u", po.port);
		if (po.user[0] != '\0' && strcmp(po.user, a->user) != 0)
			util_snprintf(buf + strlen(buf), sizeof(buf) -
			    strlen(buf), " (account %s)", po.user);
		if (!out_opts.quiet)
			fprintf(stderr, "kpop: %s's post office is %s\n",
			    a->user, buf);
		if (!out_opts.quiet && a->tls_name != NULL)
			fprintf(stderr, "kpop: found by SRV %s: its certificate "
			    "must name %s (RFC 6186; trust_srv_target = yes "
			    "takes %s)\n", po.source, a->tls_name, po.host);
		/* Hesiod's pobox names the account to log in to. */
		if (po.user[0] != '\0') {
			free(a->user);
			a->user = strdup(po.user);
		}
	}
	if (a->auth == NULL)
		a->auth = strdup("");
	if (a->tls == NULL)
		a->tls = strdup("auto");
	if (strcmp(a->tls, "auto") != 0 && strcmp(a->tls, "stls") != 0 &&
	    strcmp(a->tls, "implicit") != 0 && strcmp(a->tls, "none") != 0) {
		util_snprintf(err, errlen, "tls: '%s' is not auto, stls, "
		    "implicit or none", a->tls);
		return -1;
	}
	expand_home(&a->deliver);
	expand_home(&a->cafile);
	if (a->service == NULL)
		a->service = strdup("pop");
	if (a->sasl_mechanisms == NULL)
		a->sasl_mechanisms = strdup("GSSAPI SCRAM-SHA-256-PLUS "
		    "SCRAM-SHA-256 PLAIN");
	if (a->port == 0)
		a->port = strcmp(a->tls, "implicit") == 0 ? 995 :
		    account_is_kpop(a) ? 1109 : 110;
	if (a->deliver == NULL) {
		const char *md = getenv("MAILDIR");
		const char *home = getenv("HOME");

		if (md != NULL && md[0] != '\0')
			util_snprintf(buf, sizeof(buf), "maildir:%s", md);
		else
			util_snprintf(buf, sizeof(buf), "maildir:%s/Maildir",
			    home != NULL ? home : ".");
		a->deliver = strdup(buf);
	}
	return account_smtp(a, err, errlen);
}

void
account_free(struct account *a)
{
	conf_free(account_keys, a);
	free(a->name);
	free(a->tls_name);
}

/*
 * Read the accounts of a config file: "[name]" starts one, "key = value"
 * lines (kpop(1)) follow.  Each section is read by conf_read_buf with the
 * other lines blanked, so messages keep the file's line numbers.
 */
int
account_read(const char *path, struct globals *g, struct account *acc,
    size_t *nacc, char *err, size_t errlen)
{
	char *buf = NULL, *sec = NULL, name[128];
	FILE *f;
	long size;
	size_t n = 0, i, start, end;
	int rc = -1;

	*nacc = 0;
	memset(g, 0, sizeof(*g));
	if ((f = fopen(path, "r")) == NULL)
		return 1;	/* no file: no accounts */
	if (fseek(f, 0, SEEK_END) == -1 || (size = ftell(f)) < 0 ||
	    size > CONF_FILE_MAX || fseek(f, 0, SEEK_SET) == -1 ||
	    (buf = calloc((size_t)size + 1, 1)) == NULL ||
	    (sec = calloc((size_t)size + 1, 1)) == NULL ||
	    fread(buf, 1, (size_t)size, f) != (size_t)size) {
		util_snprintf(err, errlen, "%s: cannot read", path);
		goto out;
	}
	/* The global settings: the lines before the first section. */
	for (end = 0; end < (size_t)size; end += strcspn(buf + end, "\n") + 1)
		if (buf[end + strspn(buf + end, " \t")] == '[')
			break;
	for (i = 0; i < (size_t)size; i++)
		sec[i] = i < end || buf[i] == '\n' ? buf[i] : ' ';
	if (conf_read_buf(path, sec, (size_t)size, global_keys, g, err,
	    errlen) == -1)
		goto out;
	for (i = 0; i < (size_t)size;) {
		size_t eol = i + strcspn(buf + i, "\n");
		const char *l = buf + i + strspn(buf + i, " \t");

		if (*l == '[') {
			const char *close = memchr(l, ']', buf + eol - l);

			if (close == NULL || close - l - 1 <= 0 ||
			    (size_t)(close - l - 1) >= sizeof(name)) {
				util_snprintf(err, errlen, "%s: a bad [section] "
				    "line", path);
				goto out;
			}
			if (n == ACCOUNTS_MAX) {
				util_snprintf(err, errlen, "%s: more than %d "
				    "accounts", path, ACCOUNTS_MAX);
				goto out;
			}
			memcpy(name, l + 1, (size_t)(close - l - 1));
			name[close - l - 1] = '\0';
			/* This section: from after its line to the next. */
			start = eol < (size_t)size ? eol + 1 : eol;
			end = start;
			while (end < (size_t)size) {
				const char *m = buf + end + strspn(buf + end,
				    " \t");

				if (*m == '[')
					break;
				end += strcspn(buf + end, "\n");
				if (end < (size_t)size)
					end++;
			}
			memset(sec, 0, (size_t)size + 1);
			for (size_t j = 0; j < (size_t)size; j++)
				sec[j] = (j >= start && j < end) || buf[j] ==
				    '\n' ? buf[j] : ' ';
			account_init(&acc[n], name);
			if (conf_read_buf(path, sec, (size_t)size, account_keys,
			    &acc[n], err, errlen) == -1) {
				account_free(&acc[n]);
				goto out;
			}
			n++;
			i = end;
			continue;
		}
		i = eol + 1;
	}
	*nacc = n;
	rc = 0;
out:
	fclose(f);
	free(buf);
	free(sec);
	return rc;
}

const char *
account_default_config(void)
{
	static char path[PATH_MAX];
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (xdg != NULL && xdg[0] == '/')
		util_snprintf(path, sizeof(path), "%s/kpop/config", xdg);
	else
		util_snprintf(path, sizeof(path), "%s/.config/kpop/config",
		    home != NULL ? home : ".");
	if (access(path, F_OK) != 0 && home != NULL) {
		char rc[PATH_MAX];

		util_snprintf(rc, sizeof(rc), "%s/.kpoprc", home);
		if (access(rc, F_OK) == 0)
			util_strlcpy(path, rc, sizeof(path));
	}
	return path;
}
