/* SPDX-License-Identifier: MIT */
/*
 * kpopd/conf.c: kpopd.conf: the keys, their defaults and bounds, the
 * checks that tie them together, loading it (file, -o overrides) and
 * printing it (kpopd -n).  Documented in kpopd.conf(5); keep the
 * two in step.
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"
#include "kpopd/kpopd.h"
#include "kpopd/md-int.h"

#define OFF(f)	offsetof(struct kpopd_conf, f)
#define DAY	86400U

static const struct conf_key kconf_keys[] = {
	{ "listen_pop3", CONF_STRING, OFF(listen_pop3), 0, 0 },
	{ "listen_pop3s", CONF_STRING, OFF(listen_pop3s), 0, 0 },
	{ "listen_kpop", CONF_STRING, OFF(listen_kpop), 0, 0 },
	{ "kpop_require_tls", CONF_BOOL, OFF(kpop_require_tls), 0, 1 },
	{ "tls_cert", CONF_STRING, OFF(tls_cert), 0, 0 },
	{ "tls_key", CONF_STRING, OFF(tls_key), 0, 0 },
	{ "allow_plaintext_auth", CONF_BOOL, OFF(allow_plaintext_auth), 0, 1 },
	{ "apop", CONF_BOOL, OFF(apop), 0, 1 },
	{ "hostname", CONF_STRING, OFF(hostname), 0, 0 },
	{ "keytab", CONF_STRING, OFF(keytab), 0, 0 },
	{ "service", CONF_STRING, OFF(service), 0, 0 },
	{ "password_check", CONF_STRING, OFF(password_check), 0, 0 },
	{ "sasldb", CONF_STRING, OFF(sasldb), 0, 0 },
	{ "sasl_mechanisms", CONF_STRING, OFF(sasl_mechanisms), 0, 0 },
	{ "sasl_max_ssf", CONF_UINT, OFF(sasl_max_ssf), 0, 256 },
	{ "tls_max_version", CONF_STRING, OFF(tls_max_version), 0, 0 },
	{ "krb5_principal", CONF_STRING, OFF(krb5_principal), 0, 0 },
	{ "maildrop", CONF_STRING, OFF(maildrop), 0, 0 },
	{ "create_maildrop", CONF_BOOL, OFF(create_maildrop), 0, 1 },
	{ "uidl_format", CONF_STRING, OFF(uidl_format), 0, 0 },
	{ "user_type", CONF_STRING, OFF(user_type), 0, 0 },
	{ "virtual_user", CONF_STRING, OFF(virtual_user), 0, 0 },
	{ "spool_group", CONF_STRING, OFF(spool_group), 0, 0 },
	{ "unpriv_user", CONF_STRING, OFF(unpriv_user), 0, 0 },
	{ "chroot_dir", CONF_STRING, OFF(chroot_dir), 0, 0 },
	{ "net_sandbox", CONF_BOOL, OFF(net_sandbox), 0, 1 },
	{ "state_dir", CONF_STRING, OFF(state_dir), 0, 0 },
	{ "pidfile", CONF_STRING, OFF(pidfile), 0, 0 },
	{ "control_socket", CONF_STRING, OFF(control_socket), 0, 0 },
	{ "log_level", CONF_STRING, OFF(log_level), 0, 0 },
	{ "syslog_facility", CONF_FACILITY, OFF(syslog_facility), 0, 0 },
	{ "expire", CONF_STRING, OFF(expire), 0, 0 },
	{ "max_sessions", CONF_UINT, OFF(max_sessions), 1, 100000 },
	{ "max_sessions_per_ip", CONF_UINT, OFF(max_sessions_per_ip), 1,
	    100000 },
	{ "max_sessions_per_user_ip", CONF_UINT,
	    OFF(max_sessions_per_user_ip), 1, 100000 },
	{ "max_bad_commands", CONF_UINT, OFF(max_bad_commands), 1, 1000 },
	/* RFC 2449 s.4: 255; more only for clients that ignore it. */
	{ "max_line_length", CONF_UINT, OFF(max_line_length), POP3_CMD_MAX,
	    POP3_CMD_LIMIT },
	{ "login_timeout", CONF_DURATION, OFF(login_timeout), 1, DAY },
	/* RFC 1939 section 3: an autologout timer of at least 10 minutes. */
	{ "idle_timeout", CONF_DURATION, OFF(idle_timeout), 600, DAY },
	{ "auth_fail_delay", CONF_DURATION, OFF(auth_fail_delay), 0, 60 },
	{ "auth_fail_delay_max", CONF_DURATION, OFF(auth_fail_delay_max), 0,
	    300 },
	{ "auth_cache_ttl", CONF_DURATION, OFF(auth_cache_ttl), 0, 3600 },
	{ "login_delay", CONF_DURATION, OFF(login_delay), 0, DAY },
	{ "lock_timeout", CONF_DURATION, OFF(lock_timeout), 1, 600 },
	{ "takeover_idle", CONF_DURATION, OFF(takeover_idle), 0, DAY },
	{ "tls_timeout", CONF_DURATION, OFF(tls_timeout), 1, 600 },
	{ "proxy_trusted_networks", CONF_STRING, OFF(proxy_trusted_networks),
	    0, 0 },
	{ "trusted_networks", CONF_STRING, OFF(trusted_networks), 0, 0 },
	CONF_KEY_END
};

/* Set string field *f to a copy of s. */
static void
kconf_str(char **f, const char *s)
{
	free(*f);
	if ((*f = strdup(s)) == NULL)
		abort();	/* at start-up only: no memory, no server */
}

void
kconf_defaults(struct kpopd_conf *c)
{
	memset(c, 0, sizeof(*c));
	kconf_str(&c->listen_pop3, "*:110");
	kconf_str(&c->listen_pop3s, "");
	kconf_str(&c->listen_kpop, "");
	kconf_str(&c->service, "pop");
	kconf_str(&c->password_check, "krb5");
	kconf_str(&c->sasl_mechanisms, "GSSAPI PLAIN LOGIN");
	c->sasl_max_ssf = 256;
	kconf_str(&c->tls_max_version, "1.3");
	kconf_str(&c->krb5_principal, "%u");
	kconf_str(&c->maildrop, "mbox:/var/mail/%u");
	c->create_maildrop = 1;
	kconf_str(&c->uidl_format, "filename");
	kconf_str(&c->user_type, "system");
	kconf_str(&c->spool_group, "mail");
	kconf_str(&c->unpriv_user, "kpopd");
	kconf_str(&c->chroot_dir, "/var/lib/kpopd/empty");
	c->net_sandbox = 1;
	kconf_str(&c->state_dir, "/var/lib/kpopd");
	kconf_str(&c->control_socket, KPOPD_CONTROL_SOCKET);
	kconf_str(&c->log_level, "info");
	c->syslog_facility = LOG_MAIL;
	kconf_str(&c->expire, "never");
	c->max_sessions = 200;
	c->max_sessions_per_ip = 10;
	c->max_sessions_per_user_ip = 10;
	c->max_bad_commands = 10;
	c->max_line_length = POP3_CMD_MAX;
	c->login_timeout = 120;
	c->idle_timeout = 600;
	c->auth_fail_delay = 2;
	c->auth_fail_delay_max = 15;
	c->lock_timeout = 10;
	c->tls_timeout = 30;
	kconf_str(&c->proxy_trusted_networks, "");
	kconf_str(&c->trusted_networks, "");
}

int
kconf_read(struct kpopd_conf *c, const char *path, char *err, size_t errlen)
{
	return conf_read_file(path, kconf_keys, c, err, errlen);
}

int
kconf_set(struct kpopd_conf *c, const char *kv, char *err, size_t errlen)
{
	char key[64];
	const char *eq = strchr(kv, '=');
	size_t n;

	if (eq == NULL || (n = (size_t)(eq - kv)) == 0 || n >= sizeof(key)) {
		util_snprintf(err, errlen, "'%s': expected KEY=VALUE", kv);
		return -1;
	}
	memcpy(key, kv, n);
	key[n] = '\0';
	return conf_set(kconf_keys, c, key, eq + 1, err, errlen);
}

void
kconf_free(struct kpopd_conf *c)
{
	if (c != NULL)
		conf_free(kconf_keys, c);
}

static int
one_of(const char *v, const char *a, const char *b, const char *d)
{
	return strcmp(v, a) == 0 || strcmp(v, b) == 0 ||
	    (d != NULL && strcmp(v, d) == 0);
}

int
kconf_load(struct kpopd_conf *c, const char *path, int path_given,
    char **overrides, int noverrides, char *err, size_t errlen)
{
	char host[256];
	int i;

	kconf_defaults(c);
	if (!path_given && access(path, F_OK) == -1 && errno == ENOENT) {
		/* Built-in defaults would serve /var/mail on *:110 unasked. */
		util_snprintf(err, errlen, "%s: no such file: the default "
		    "configuration file is missing (write one, kpopd.conf(5), "
		    "or name another with -c)", path);
		return -1;
	}
	if (kconf_read(c, path, err, errlen) == -1)
		return -1;
	for (i = 0; i < noverrides; i++) {
		char e[256];

		if (kconf_set(c, overrides[i], e, sizeof(e)) == -1) {
			util_snprintf(err, errlen, "-o %s", e);
			return -1;
		}
	}
	if (c->hostname == NULL || c->hostname[0] == '\0') {
		if (gethostname(host, sizeof(host)) == -1)
			util_strlcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		free(c->hostname);
		if ((c->hostname = strdup(host)) == NULL)
			abort();
	}
	if (kconf_check(c, err, errlen) == -1)
		return -1;
	/* Checked: these parse. */
	if (cidr_parse_list(c->proxy_trusted_networks, &c->proxy_trusted,
	    err, errlen) == -1 || cidr_parse_list(c->trusted_networks,
	    &c->trusted, err, errlen) == -1)
		return -1;
	return 0;
}

int
kconf_check_system(const struct kpopd_conf *c, char *err, size_t errlen)
{
	struct passwd *pw;

	if ((pw = getpwnam(c->unpriv_user)) == NULL) {
		util_snprintf(err, errlen, "unpriv_user: no account named "
		    "'%s' (the net process runs as it); create it with: "
		    "useradd --system --no-create-home --home-dir /nonexistent "
		    "--shell /usr/sbin/nologin %s", c->unpriv_user,
		    c->unpriv_user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		util_snprintf(err, errlen, "unpriv_user: '%s' is root; the "
		    "net process must run without privileges", c->unpriv_user);
		return -1;
	}
	if (strcmp(c->user_type, "virtual") == 0) {
		if ((pw = getpwnam(c->virtual_user)) == NULL) {
			util_snprintf(err, errlen, "virtual_user: no account "
			    "named '%s'", c->virtual_user);
			return -1;
		}
		if (pw->pw_uid == 0) {
			util_snprintf(err, errlen, "virtual_user: '%s' is "
			    "root; maildrops must not be served as root",
			    c->virtual_user);
			return -1;
		}
	}
	return 0;
}

int
kconf_print(FILE *f, const struct kpopd_conf *c, int all)
{
	struct kpopd_conf d;
	const struct conf_key *k;
	char v[CONF_LINE_MAX], dv[CONF_LINE_MAX];
	int rc = 0;

	kconf_defaults(&d);
	for (k = kconf_keys; k->name != NULL; k++) {
		if (conf_format(k, c, v, sizeof(v)) == -1 ||
		    conf_format(k, &d, dv, sizeof(dv)) == -1) {
			rc = -1;
			continue;
		}
		if (all || strcmp(v, dv) != 0)
			fprintf(f, "%s = %s\n", k->name, v);
	}
	kconf_free(&d);
	return rc;
}

int
kconf_expire_never(const struct kpopd_conf *c)
{
	return strcmp(c->expire, "never") == 0;
}

/*
 * A listen_* value: comma-separated addresses, each maybe followed by
 * the word proxy.  *proxy is set if one is.  0, or -1 with err set for
 * a proxy that follows no address.
 */
static int
listen_check(const char *key, const char *v, int *proxy, char *err,
    size_t errlen)
{
	int addr = 0;	/* an address came since the last comma */
	size_t n;

	for (;;) {
		for (; *v == ',' || *v == ' ' || *v == '\t'; v++)
			if (*v == ',')
				addr = 0;
		if (*v == '\0')
			return 0;
		n = strcspn(v, ", \t");
		if (n == 5 && memcmp(v, "proxy", 5) == 0) {
			if (!addr) {
				util_snprintf(err, errlen, "%s: 'proxy' "
				    "follows no address (write "
				    "HOST:PORT proxy)", key);
				return -1;
			}
			*proxy = 1;
		} else {
			addr = 1;
		}
		v += n;
	}
}

/*
 * proxy_trusted_networks and trusted_networks parse, and a "proxy"
 * listener has someone to trust.  0, or -1 with err set.
 */
static int
kconf_check_networks(const struct kpopd_conf *c, char *err, size_t errlen)
{
	struct cidr_list l;
	char e[200];
	int proxy = 0;

	if (listen_check("listen_pop3", c->listen_pop3, &proxy, err,
	    errlen) == -1 || listen_check("listen_pop3s", c->listen_pop3s,
	    &proxy, err, errlen) == -1 || listen_check("listen_kpop",
	    c->listen_kpop, &proxy, err, errlen) == -1)
		return -1;

	if (cidr_parse_list(c->proxy_trusted_networks, &l, e,
	    sizeof(e)) == -1) {
		util_snprintf(err, errlen, "proxy_trusted_networks: %s", e);
		return -1;
	}
	if (l.n == 0 && proxy) {
		util_snprintf(err, errlen, "a listen address is flagged "
		    "proxy but proxy_trusted_networks is empty: name the "
		    "load balancers' networks (e.g. 10.0.0.0/8)");
		return -1;
	}
	if (cidr_parse_list(c->trusted_networks, &l, e, sizeof(e)) == -1) {
		util_snprintf(err, errlen, "trusted_networks: %s", e);
		return -1;
	}
	return 0;
}

int
kconf_check(const struct kpopd_conf *c, char *err, size_t errlen)
{
	unsigned long long days;
	const char *fmt;
	char msg[256];
	int fmtkind;

	if (!one_of(c->password_check, "krb5", "sasl", "none")) {
		util_snprintf(err, errlen, "password_check: '%s' is not "
		    "krb5, sasl or none", c->password_check);
		return -1;
	}
	if (!one_of(c->user_type, "system", "virtual", NULL)) {
		util_snprintf(err, errlen, "user_type: '%s' is not system or "
		    "virtual", c->user_type);
		return -1;
	}
	if (strcmp(c->user_type, "virtual") == 0 &&
	    (c->virtual_user == NULL || c->virtual_user[0] == '\0')) {
		util_snprintf(err, errlen, "user_type = virtual needs "
		    "virtual_user (the account that owns the maildrops)");
		return -1;
	}
	if (strncmp(c->maildrop, "maildir:", 8) != 0 &&
	    strncmp(c->maildrop, "mbox:", 5) != 0) {
		util_snprintf(err, errlen, "maildrop: '%s' does not start "
		    "with maildir: or mbox:", c->maildrop);
		return -1;
	}
	if ((fmtkind = md_uidfmt_setting(c->uidl_format, &fmt, msg,
	    sizeof(msg))) == -1) {
		util_snprintf(err, errlen, "uidl_format: %s", msg);
		return -1;
	}
	if (fmtkind != MD_UIDL_FILENAME &&
	    strncmp(c->maildrop, "maildir:", 8) != 0) {
		util_snprintf(err, errlen, "uidl_format = %s: only for "
		    "Maildirs (Dovecot's and Courier's files are read from "
		    "the Maildir, an mbox's X-UIDL is its UIDL already); "
		    "maildrop is not a maildir:", c->uidl_format);
		return -1;
	}
	if (!one_of(c->log_level, "err", "warning", "notice") &&
	    !one_of(c->log_level, "info", "debug", NULL)) {
		util_snprintf(err, errlen, "log_level: '%s' is not err, "
		    "warning, notice, info or debug", c->log_level);
		return -1;
	}
	if (!kconf_expire_never(c) && util_parse_uint(c->expire,
	    strlen(c->expire), 100000, &days) == -1) {
		util_snprintf(err, errlen, "expire: '%s' is not 'never' or a "
		    "number of days", c->expire);
		return -1;
	}
	if (!one_of(c->tls_max_version, "1.2", "1.3", NULL)) {
		util_snprintf(err, errlen, "tls_max_version: '%s' is not 1.2 "
		    "or 1.3", c->tls_max_version);
		return -1;
	}
	if ((c->tls_cert == NULL) != (c->tls_key == NULL)) {
		util_snprintf(err, errlen, "tls_cert and tls_key go together");
		return -1;
	}
	if (c->listen_pop3s[0] != '\0' && c->tls_cert == NULL) {
		util_snprintf(err, errlen, "listen_pop3s needs tls_cert and "
		    "tls_key");
		return -1;
	}
	if (c->apop && (c->sasldb == NULL || c->sasldb[0] == '\0')) {
		util_snprintf(err, errlen, "apop needs sasldb (APOP needs "
		    "the plaintext secret it keeps)");
		return -1;
	}
	if (c->kpop_require_tls && c->listen_kpop[0] != '\0' &&
	    c->tls_cert == NULL) {
		util_snprintf(err, errlen, "kpop_require_tls needs tls_cert "
		    "and tls_key");
		return -1;
	}
	if (c->control_socket[0] != '\0' && (c->control_socket[0] != '/' ||
	    strlen(c->control_socket) >= CTL_PATH_MAX)) {
		util_snprintf(err, errlen, "control_socket: '%s' is not an "
		    "absolute path of at most %d characters (or \"\" for "
		    "none)", c->control_socket, CTL_PATH_MAX - 1);
		return -1;
	}
	if (kconf_check_networks(c, err, errlen) == -1)
		return -1;
	if (c->listen_pop3[0] == '\0' && c->listen_pop3s[0] == '\0' &&
	    c->listen_kpop[0] == '\0') {
		util_snprintf(err, errlen, "nothing to listen on: "
		    "listen_pop3, listen_pop3s and listen_kpop are all empty");
		return -1;
	}
	return 0;
}
