/*
 * kpop/main.c: the kpop client: options and accounts, the choice of
 * transport and login, the modes (fetch, --list, --stat, --check,
 * --serverinfo), and the exactly-once fetch loop over kpop/client.c
 * (the protocol), kpop/deliver.c (where mail goes) and kpop/state.c (what
 * was delivered, journalled).  See kpop(1).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <krb5.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/mech.h"
#include "common/pop3.h"
#include "common/sasl.h"
#include "common/tls.h"
#include "kpop/client.h"
#include "kpop/deliver.h"
#include "kpop/locate.h"
#include "kpop/state.h"
#include "kpop/url.h"

/* Exit codes (kpop(1)); sysexits.h where one fits. */
#define KX_OK		0
#define KX_NOMAIL	1	/* nothing new (fetch, --check) */
#define KX_USAGE		64
#define KX_CHANGED	65	/* UIDLs changed wholesale: --force */
#define KX_UNAVAIL	69	/* server unavailable */
#define KX_SOFTWARE	70
#define KX_DELIVER	73	/* a message could not be delivered */
#define KX_TEMP		75	/* try later: in use, login delay, busy */
#define KX_PROTOCOL	76
#define KX_AUTH		77	/* login refused */
#define KX_CONFIG	78
#define KX_TLS		79	/* TLS failed or was not verified */
#define KX_KRB		80	/* no usable Kerberos ticket */

/* Bytes of a message's header kept for --list (From, Subject). */
#define LIST_HEAD_MAX	4096
/* A password (and a passwordeval line). */
#define PASS_MAX	1024
/* Accounts in a config file. */
#define ACCOUNTS_MAX	64
/* Lines of TOP asked for by --list: the header only. */
#define LIST_TOP_LINES	0
/* A header that TOP may send: far past any real one (RFC 5322 has no
   bound; a few hundred KiB is a lot), so that one never ending stops. */
#define LIST_TOP_MAX	(1024ULL * 1024)
/* Seconds to wait for an account another kpop is fetching. */
#define LOCK_WAIT_S	0
/* UIDLs listed more than once that get a line each; the rest a count. */
#define DUP_WARN_MAX	5

enum mode { M_FETCH, M_LIST, M_STAT, M_CHECK, M_SERVERINFO };

struct account {
	char		*name;		/* section, or the URL */
	char		*url;
	char		*host;
	unsigned int	 port;
	char		*user;
	char		*auth;		/* "", gssapi, kpop, apop, user, MECH */
	char		*tls;		/* auto, stls, implicit, none */
	char		*cafile;
	char		*pin;		/* sha256//BASE64 of the server key */
	char		*deliver;	/* a dlv_parse() target */
	char		*passwordeval;
	char		*service;	/* "pop" */
	int		 keep;
	unsigned long long max_size;
	int		 delete_too_large;
	unsigned int	 max_messages;
	char		*sasl_mechanisms;
	int		 trust_srv_target;	/* RFC 6186 s.6: see locate.h */
	char		*tls_name;	/* the certificate's name, if not host */
};

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
	CONF_KEY_END
};

struct opts {
	enum mode	 mode;
	int		 quiet, verbose, debug, json, force;
	const char	*config;
	const char	*account;	/* -a NAME */
	const char	*state_dir;
	struct account	 cli;		/* settings from flags */
};

static struct opts O;
static int progress_on;

/* ---- messages ---- */

static void
say(const char *fmt, ...) KP_PRINTF(1, 2);

static void
say(const char *fmt, ...)
{
	va_list ap;

	if (O.quiet)
		return;
	va_start(ap, fmt);
	fputs("kpop: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void
warn_(const char *fmt, ...) KP_PRINTF(1, 2);

/* Errors are shown even with -q. */
static void
warn_(const char *fmt, ...)
{
	va_list ap;

	if (progress_on)
		fputs("\r\033[K", stderr);
	va_start(ap, fmt);
	fputs("kpop: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static double
now_s(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/*
 * Text a server sent, made printable (log.h) before it reaches the
 * user's terminal: no escape sequence of the server's passes.
 */
#define SHOW(buf, s)	(log_printable((buf), sizeof(buf), (s), strlen(s)), \
	(const char *)(buf))

/* A JSON string, escaped. */
static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* ---- passwords ---- */

struct pwsrc {
	const struct account	*a;
	char			 pw[PASS_MAX];
	int			 have;
	int			 tried;
};

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
		warn_("%s is readable by others: not used", path);
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
static const char *
get_password(void *arg)
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
			warn_("passwordeval gave no password");
			return NULL;
		}
	} else if (pw_netrc(a->host, a->user, s->pw, sizeof(s->pw)) == -1 &&
	    pw_prompt(a, s->pw, sizeof(s->pw)) == -1)
		return NULL;
	s->have = 1;
	return s->pw;
}

/* ---- Kerberos ---- */

/* Whether the default ccache holds an unexpired ticket. */
static int
have_ticket(void)
{
	krb5_context ctx;
	krb5_ccache cc = NULL;
	krb5_cc_cursor cur;
	krb5_creds c;
	int ok = 0;

	if (krb5_init_context(&ctx) != 0)
		return 0;
	if (krb5_cc_default(ctx, &cc) == 0 &&
	    krb5_cc_start_seq_get(ctx, cc, &cur) == 0) {
		while (!ok && krb5_cc_next_cred(ctx, cc, &cur, &c) == 0) {
			ok = c.times.endtime > time(NULL);
			krb5_free_cred_contents(ctx, &c);
		}
		krb5_cc_end_seq_get(ctx, cc, &cur);
	}
	if (cc != NULL)
		krb5_cc_close(ctx, cc);
	krb5_free_context(ctx);
	return ok;
}

/* ---- TLS ---- */

/* "sha256//BASE64" of the server's public key, as curl's --pinnedpubkey. */
static int
key_pin(struct pop *p, char *out, size_t outlen)
{
	X509 *cert = SSL_get1_peer_certificate(tls_ssl(p->io));
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char b64[64];
	size_t n;
	int len;

	if (cert == NULL)
		return -1;
	len = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
	X509_free(cert);
	if (len <= 0 || EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(),
	    NULL) != 1) {
		OPENSSL_free(der);
		return -1;
	}
	OPENSSL_free(der);
	if (xsasl_b64_encode(md, mdlen, b64, sizeof(b64), &n) == -1)
		return -1;
	return util_snprintf(out, outlen, "sha256//%s", b64);
}

static int
check_pin(struct pop *p, const struct account *a)
{
	char pin[96];

	if (a->pin == NULL || a->pin[0] == '\0')
		return POP_OK;
	if (key_pin(p, pin, sizeof(pin)) == -1)
		return POP_TLS;
	if (strcmp(pin, a->pin) != 0) {
		util_snprintf(p->err, sizeof(p->err), "%s's key is %s, not "
		    "the pinned %s", p->host, pin, a->pin);
		return POP_TLS;
	}
	return POP_OK;
}

/* ---- connecting and logging in ---- */

static int
exit_for(int st)
{
	switch (st) {
	case POP_OK:
		return KX_OK;
	case POP_AUTH:
		return KX_AUTH;
	case POP_TLS:
		return KX_TLS;
	case POP_UNAVAIL:
		return KX_UNAVAIL;
	case POP_PROTO:
	case POP_ERR:
		return KX_PROTOCOL;
	case POP_KRB:
		return KX_KRB;
	case POP_TEMP:
		return KX_TEMP;
	default:
		return KX_SOFTWARE;
	}
}

static int
is_kpop(const struct account *a)
{
	return strcasecmp(a->auth, "kpop") == 0 ||
	    strcasecmp(a->auth, "+KPOP") == 0;
}

/* Mechanisms that send the password itself, or what stands for it. */
static int
auth_sends_password(const char *auth)
{
	return strcasecmp(auth, "user") == 0 ||
	    strcasecmp(auth, "+USER") == 0 || strcasecmp(auth, "PLAIN") == 0 ||
	    strcasecmp(auth, "LOGIN") == 0;
}

/* Whether the account dir says this server did STLS before. */
static int
stls_seen(const char *dir, int set)
{
	char path[PATH_MAX];
	int fd;

	if (dir == NULL || util_snprintf(path, sizeof(path), "%s/stls",
	    dir) == -1)
		return 0;
	if (!set)
		return access(path, F_OK) == 0;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) != -1)
		close(fd);
	return 1;
}

/*
 * Connect, TLS as the account says, greeting and CAPA.  KPOP runs its
 * sendauth before the greeting.
 */
static int
open_session(struct pop *p, const struct account *a, SSL_CTX *ctx,
    const char *statedir, char *principal, size_t plen)
{
	int st, implicit = strcasecmp(a->tls, "implicit") == 0;

	if ((st = pop_connect(p, a->host, a->port)) != POP_OK)
		return st;
	if (a->tls_name != NULL)
		util_strlcpy(p->tls_name, a->tls_name, sizeof(p->tls_name));
	if (implicit && ((st = pop_tls(p, ctx)) != POP_OK ||
	    (st = check_pin(p, a)) != POP_OK))
		return st;
	if (is_kpop(a) && (st = pop_kpop(p, a->service, principal, plen)) !=
	    POP_OK)
		return st;
	if ((st = pop_greeting(p)) != POP_OK || (st = pop_capa(p)) != POP_OK)
		return st;
	if (implicit || strcasecmp(a->tls, "none") == 0)
		return POP_OK;
	/*
	 * STLS when offered; required when asked for, when the login sends a
	 * password, and when this server did it before (no silent downgrade).
	 * fetchmail sends STLS to KPOP servers whose CAPA does not list it.
	 */
	if (p->capa.stls || is_kpop(a)) {
		if ((st = pop_stls(p, ctx)) != POP_OK ||
		    (st = check_pin(p, a)) != POP_OK)
			return st;
		stls_seen(statedir, 1);
		return POP_OK;
	}
	if (strcasecmp(a->tls, "stls") == 0 || auth_sends_password(a->auth) ||
	    stls_seen(statedir, 0)) {
		util_snprintf(p->err, sizeof(p->err), "%s does not offer STLS%s:"
		    " refusing to go on without TLS (tls = none allows it)",
		    a->host, stls_seen(statedir, 0) ? ", though it did before" :
		    "");
		return POP_TLS;
	}
	return POP_OK;
}

/* Keeps every mechanism but GSSAPI. */
static int
not_gssapi(const char *m, size_t n, void *arg)
{
	(void)arg;
	return !(n == 6 && strncasecmp(m, "GSSAPI", n) == 0);
}

/* Whether the two mechanism lists share one. */
static int
mech_common(const char *a, const char *b)
{
	const char *m;
	size_t n;

	while ((m = mech_next(&a, &n)) != NULL)
		if (mech_listed(b, m, n))
			return 1;
	return 0;
}

/* Log in by the account's method, or choose one (auth empty or "*"). */
static int
login(struct pop *p, const struct account *a, struct pwsrc *pw)
{
	struct pop_login l;
	const char *auth = a->auth;
	char mechs[POP_LINE_MAX];
	int tls = tls_active(p->io);

	memset(&l, 0, sizeof(l));
	l.user = a->user;
	l.service = a->service;
	l.password = get_password;
	l.password_arg = pw;
	l.max_ssf = 256;
	if (is_kpop(a))
		return pop_auth_kpop(p, &l);
	if (strcasecmp(auth, "+APOP") == 0 || strcasecmp(auth, "apop") == 0)
		return pop_auth_apop(p, &l);
	if (strcasecmp(auth, "+USER") == 0 || strcasecmp(auth, "user") == 0)
		return pop_auth_user(p, &l);
	if (auth[0] != '\0' && strcmp(auth, "*") != 0) {
		l.mechs = strcasecmp(auth, "sasl") == 0 ? a->sasl_mechanisms :
		    auth;
		return pop_auth_sasl(p, &l);
	}
	/* Any: a ticket first (no password), then what needs one. */
	if (mech_listed(p->capa.sasl, "GSSAPI", 6) && have_ticket()) {
		l.mechs = "GSSAPI";
		return pop_auth_sasl(p, &l);
	}
	/* Without a ticket, GSSAPI cannot work: the password ones. */
	mech_filter(a->sasl_mechanisms, not_gssapi, NULL, mechs, sizeof(mechs));
	if (p->capa.sasl[0] != '\0' && mech_common(p->capa.sasl, mechs)) {
		l.mechs = mechs;
		return pop_auth_sasl(p, &l);
	}
	if (p->apop_ts[0] != '\0' && !tls)
		return pop_auth_apop(p, &l);
	if (!tls) {
		util_snprintf(p->err, sizeof(p->err), "no way to log in to %s "
		    "without sending a password in the clear (no ticket, no "
		    "TLS)", a->host);
		return POP_AUTH;
	}
	return pop_auth_user(p, &l);
}

/* ---- fetching ---- */

struct fetch {
	const struct account	*a;
	struct st		*st;
	struct dlv_target	 target;
	struct pop_msg		*msgs;
	size_t			 count;
	/* The message being delivered. */
	struct dlv		*h;
	struct dlv_where	 w;
	char			 token[ST_TOKEN_LEN + 1];
	int			 failed;	/* exit code of a failure */
	char			 err[DLV_ERR_MAX];
	/* Progress and summary. */
	size_t			 done_msgs, want_msgs, skipped;
	unsigned long long	 done_bytes, want_bytes, cur_bytes;
	double			 t0, last_draw;
	FILE			*json;
	int			 json_first;
};

static void
draw_progress(struct fetch *f, int final)
{
	double el = now_s() - f->t0, rate;
	unsigned long long bytes = f->done_bytes + f->cur_bytes;

	if (!progress_on || (!final && now_s() - f->last_draw < 0.2))
		return;
	f->last_draw = now_s();
	rate = el > 0 ? (double)bytes / el : 0;
	fprintf(stderr, "\r\033[Kkpop: %zu/%zu messages, %.1f/%.1f MB, "
	    "%.1f MB/s", f->done_msgs, f->want_msgs, (double)bytes / 1e6,
	    (double)f->want_bytes / 1e6, rate / 1e6);
	if (rate > 0 && bytes < f->want_bytes)
		fprintf(stderr, ", %.0f s left",
		    (double)(f->want_bytes - bytes) / rate);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

static int
sink_begin(void *arg, size_t idx)
{
	struct fetch *f = arg;
	struct dlv_info info;
	const char *uidl = f->msgs[idx].uidl;

	memset(&f->w, 0, sizeof(f->w));
	if (st_token(f->token, sizeof(f->token)) != ST_OK)
		return -1;
	f->w.kind = f->target.kind;
	util_strlcpy(f->w.arg, f->target.arg, sizeof(f->w.arg));
	util_strlcpy(f->w.token, f->token, sizeof(f->w.token));
	/* 1: the intent is durable before a byte is delivered. */
	if (st_intent(f->st, uidl, &f->w, f->err, sizeof(f->err)) != ST_OK) {
		f->failed = KX_SOFTWARE;
		return -1;
	}
	memset(&info, 0, sizeof(info));
	info.uidl = uidl;
	info.token = f->token;
	info.account = f->a->name;
	if (dlv_open(&f->target, &info, &f->h, f->err, sizeof(f->err)) !=
	    DLV_OK) {
		f->failed = KX_DELIVER;
		return -1;
	}
	f->cur_bytes = 0;
	return 0;
}

static int
sink_data(void *arg, size_t idx, const void *buf, size_t len)
{
	struct fetch *f = arg;

	(void)idx;
	if (dlv_write(f->h, buf, len) != DLV_OK) {
		util_strlcpy(f->err, dlv_error(f->h), sizeof(f->err));
		f->failed = KX_DELIVER;
		return -1;
	}
	f->cur_bytes += len;
	draw_progress(f, 0);
	return 0;
}

static int
sink_end(void *arg, size_t idx)
{
	struct fetch *f = arg;
	const char *uidl = f->msgs[idx].uidl;
	struct dlv *h = f->h;

	f->h = NULL;
	if (dlv_prepare(h, &f->w, f->err, sizeof(f->err)) != DLV_OK) {
		dlv_abort(h);
		f->failed = KX_DELIVER;
		return -1;
	}
	/* An mbox append is placed now: journal where, before writing. */
	if (f->w.kind == DLV_MBOX && st_intent(f->st, uidl, &f->w, f->err,
	    sizeof(f->err)) != ST_OK) {
		dlv_abort(h);
		f->failed = KX_SOFTWARE;
		return -1;
	}
	/* 2: delivered durably; 3: recorded durably (then DELE). */
	if (dlv_commit(h, &f->w, f->err, sizeof(f->err)) != DLV_OK) {
		f->failed = KX_DELIVER;
		return -1;
	}
	if (st_delivered(f->st, uidl, &f->w, f->err, sizeof(f->err)) !=
	    ST_OK) {
		f->failed = KX_SOFTWARE;
		return -1;
	}
	if (f->a->keep && st_kept(f->st, uidl, f->err, sizeof(f->err)) !=
	    ST_OK) {
		f->failed = KX_SOFTWARE;
		return -1;
	}
	f->done_msgs++;
	f->done_bytes += f->cur_bytes;
	f->cur_bytes = 0;
	if (f->json != NULL) {
		fprintf(f->json, "%s\n    {\"uidl\": ", f->json_first ? "" :
		    ",");
		json_str(f->json, uidl);
		fprintf(f->json, ", \"number\": %zu, \"size\": %llu, "
		    "\"delivered_to\": ", idx + 1, f->w.size);
		json_str(f->json, f->w.kind == DLV_MAILDIR ? f->w.name :
		    f->w.arg);
		fputs("}", f->json);
		f->json_first = 0;
	}
	if (O.verbose)
		say("message %zu (%s, %llu bytes) delivered", idx + 1, uidl,
		    f->w.size);
	draw_progress(f, 0);
	return 0;
}

/* A message that turned out over max_size: nothing of it is kept. */
static void
sink_abandon(void *arg, size_t idx, const char *why)
{
	struct fetch *f = arg;

	if (f->h != NULL) {
		dlv_abort(f->h);
		f->h = NULL;
	}
	f->cur_bytes = 0;
	f->skipped++;
	warn_("%s", why);
	/* Its intent did not happen (dlv_abort undid the delivery). */
	if (st_forget(f->st, f->msgs[idx].uidl, f->err, sizeof(f->err)) !=
	    ST_OK)
		warn_("%s", f->err);
}

static void
recover_note(void *arg, const char *uidl, const char *msg)
{
	(void)arg;
	say("%s: %s", uidl, msg);
}

/* The server's UIDLs as an array of pointers (into msgs). */
static const char **
uidl_list(const struct pop_msg *msgs, size_t n)
{
	const char **u = calloc(n + 1, sizeof(*u));
	size_t i;

	if (u != NULL)
		for (i = 0; i < n; i++)
			u[i] = msgs[i].uidl;
	return u;
}

static const struct pop_msg *dup_msgs;

static int
dup_cmp(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(dup_msgs[i].uidl, dup_msgs[j].uidl);

	return c != 0 ? c : i < j ? -1 : i > j;
}

/*
 * Mark in dup[] every message whose UIDL another message of the listing
 * shares, and say which.  RFC 1939 s.7 wants UIDLs unique in a maildrop
 * (though it allows identical copies to share one); the journal knows a
 * message only by its UIDL, so for two messages under one it cannot
 * tell which was delivered: a DELE could remove the one that was not,
 * a crash could deliver one twice.  They are left on the server, neither
 * fetched nor deleted.  Returns how many messages that leaves, or -1 when
 * out of memory.
 */
static ssize_t
find_dups(const struct account *a, const struct pop_msg *msgs, size_t n,
    unsigned char *dup)
{
	size_t *ord, i, j, groups = 0, ndup = 0;

	if ((ord = calloc(n + 1, sizeof(*ord))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		ord[i] = i;
	dup_msgs = msgs;
	qsort(ord, n, sizeof(*ord), dup_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && strcmp(msgs[ord[i]].uidl,
		    msgs[ord[j]].uidl) == 0; j++)
			dup[ord[j]] = 1;
		if (j - i == 1)
			continue;
		dup[ord[i]] = 1;
		ndup += j - i;
		if (groups++ < DUP_WARN_MAX)
			warn_("%s lists messages %zu and %zu%s under one UIDL "
			    "%s: leaving them on the server, neither fetched "
			    "nor deleted", a->host, ord[i] + 1, ord[i + 1] + 1,
			    j - i > 2 ? " (and more)" : "", msgs[ord[i]].uidl);
	}
	if (groups > DUP_WARN_MAX)
		warn_("%s: %zu more UIDLs listed more than once", a->host,
		    groups - DUP_WARN_MAX);
	dup_msgs = NULL;
	free(ord);
	return (ssize_t)ndup;
}

struct summary {
	const char	*method;
	const char	*tls;
	size_t		 count, fetched, deleted, skipped;
	unsigned long long total, bytes;
	double		 t_connect, t_login, t_fetch;
};

/* The fetch: returns an exit code. */
static int
do_fetch(struct pop *p, const struct account *a, struct st *st,
    struct summary *sum)
{
	struct fetch f;
	/* max_size bounds what a message costs, whatever LIST said. */
	struct pop_sink sink = { sink_begin, sink_data, sink_end, &f,
	    a->max_size, sink_abandon };
	const char **uidls = NULL;
	size_t *want = NULL, *dele = NULL, nwant = 0, ndele = 0, i;
	unsigned long long total;
	const char **deleted = NULL;
	unsigned char *dup = NULL;
	ssize_t ndup = 0;
	int rc = KX_OK, r, out_of_step = 0;

	memset(&f, 0, sizeof(f));
	f.a = a;
	f.st = st;
	f.json_first = 1;
	if (dlv_parse(a->deliver, &f.target, f.err, sizeof(f.err)) != DLV_OK) {
		warn_("%s", f.err);
		return KX_CONFIG;
	}
	if (st_recover(st, recover_note, NULL, 0, f.err, sizeof(f.err)) !=
	    ST_OK) {
		warn_("cannot settle an interrupted delivery: %s", f.err);
		return KX_DELIVER;
	}
	if ((r = pop_scan(p, &f.msgs, &f.count, &total)) != POP_OK) {
		warn_("%s", p->err);
		return exit_for(r);
	}
	sum->count = f.count;
	sum->total = total;
	for (i = 0; i < f.count; i++)
		if (!pop3_uidl_ok(f.msgs[i].uidl, strlen(f.msgs[i].uidl))) {
			warn_("%s lists message %zu without a usable UIDL: "
			    "kpop needs UIDLs to fetch exactly once", a->host,
			    i + 1);
			rc = KX_PROTOCOL;
			goto out;
		}
	if ((uidls = uidl_list(f.msgs, f.count)) == NULL ||
	    (want = calloc(f.count + 1, sizeof(*want))) == NULL ||
	    (dele = calloc(f.count + 1, sizeof(*dele))) == NULL ||
	    (deleted = calloc(f.count + 1, sizeof(*deleted))) == NULL ||
	    (dup = calloc(f.count + 1, 1)) == NULL ||
	    (ndup = find_dups(a, f.msgs, f.count, dup)) == -1) {
		rc = KX_SOFTWARE;
		goto out;
	}
	if (st_changed(st, uidls, f.count) && !O.force) {
		warn_("%s's message ids (UIDLs) all changed since the last "
		    "run: refusing to fetch all %zu messages again; use --force "
		    "if that is what you want", a->host, f.count);
		rc = KX_CHANGED;
		goto out;
	}
	for (i = 0; i < f.count; i++) {
		enum st_status s = st_get(st, f.msgs[i].uidl, NULL);

		if (dup[i])
			continue;
		/* ST_DELETED listed again is new mail (st_intent). */
		if (s == ST_DELIVERED || s == ST_KEPT) {
			if (!a->keep)
				dele[ndele++] = i;
			continue;
		}
		if (a->max_size > 0 && f.msgs[i].size > a->max_size) {
			sum->skipped++;
			say("message %zu is %llu bytes, over max_size: %s", i + 1,
			    f.msgs[i].size, a->delete_too_large ? "deleted" :
			    "left on the server");
			if (a->delete_too_large)
				dele[ndele++] = i;
			continue;
		}
		if (a->max_messages > 0 && nwant >= a->max_messages)
			continue;
		want[nwant++] = i;
		f.want_bytes += f.msgs[i].size;
	}
	f.want_msgs = nwant;
	f.t0 = now_s();
	if (O.json) {
		f.json = tmpfile();
		if (f.json == NULL)
			O.json = 0;
	}
	if (nwant > 0) {
		r = pop_retr(p, want, nwant, -1, &sink);
		if (r != POP_OK || f.failed) {
			if (f.h != NULL)
				dlv_abort(f.h);
			warn_("%s", f.failed ? f.err : p->err);
			rc = f.failed ? f.failed : exit_for(r);
			/* Mid-response: any DELE would be answered by the
			   rest of it, so nothing more is asked. */
			out_of_step = !f.failed && r == POP_PROTO;
		}
	}
	draw_progress(&f, 1);
	sum->fetched = f.done_msgs;
	sum->bytes = f.done_bytes;
	sum->skipped += f.skipped;
	/*
	 * Delete only what is recorded delivered: not every message asked
	 * for, nor the first done_msgs of them (one over max_size may have
	 * been skipped on the way).
	 */
	if (!a->keep)
		for (i = 0; i < nwant; i++)
			if (st_get(st, f.msgs[want[i]].uidl, NULL) ==
			    ST_DELIVERED)
				dele[ndele++] = want[i];
	if (out_of_step) {
		warn_("nothing was deleted (the next run deletes what was "
		    "delivered)");
		ndele = 0;
	}
	if (ndele > 0 && (r = pop_dele(p, dele, ndele)) != POP_OK) {
		warn_("%s", p->err);
		if (rc == KX_OK)
			rc = exit_for(r);
		ndele = 0;
	}
	if (out_of_step)
		;	/* pop_close() hangs up */
	else if ((r = pop_quit(p)) != POP_OK) {
		warn_("QUIT: %s (nothing was deleted)", p->err);
		if (rc == KX_OK)
			rc = exit_for(r);
	} else {
		size_t nd = 0;

		for (i = 0; i < ndele; i++) {
			enum st_status s = st_get(st, f.msgs[dele[i]].uidl,
			    NULL);

			if (s == ST_DELIVERED || s == ST_KEPT ||
			    s == ST_DELETED)
				deleted[nd++] = f.msgs[dele[i]].uidl;
		}
		if (nd > 0 && st_deleted(st, deleted, nd, f.err,
		    sizeof(f.err)) != ST_OK)
			warn_("%s", f.err);
		sum->deleted = ndele;
	}
	if (st_compact(st, uidls, f.count, f.err, sizeof(f.err)) != ST_OK)
		warn_("%s", f.err);
	sum->t_fetch = now_s() - f.t0;
	if (f.json != NULL) {
		char buf[4096];
		size_t n;

		rewind(f.json);
		printf("  \"messages\": [");
		while ((n = fread(buf, 1, sizeof(buf), f.json)) > 0)
			fwrite(buf, 1, n, stdout);
		printf("%s],\n", f.json_first ? "" : "\n  ");
		fclose(f.json);
	}
	if (rc == KX_OK && f.done_msgs == 0)
		rc = KX_NOMAIL;
	if (ndup > 0 && (rc == KX_OK || rc == KX_NOMAIL))
		rc = KX_PROTOCOL;
out:
	free(dup);
	free(f.msgs);
	free(uidls);
	free(want);
	free(dele);
	free(deleted);
	return rc;
}

/* ---- the other modes ---- */

/* Whether a fetch would take the message: unknown, or a reused UIDL. */
static int
is_new(const struct st *st, const char *uidl)
{
	enum st_status s;

	if (st == NULL || uidl[0] == '\0')
		return 1;
	s = st_get(st, uidl, NULL);
	return s == ST_UNKNOWN || s == ST_DELETED;
}

struct head {
	char	buf[LIST_HEAD_MAX];
	size_t	len;
};

static int
head_begin(void *arg, size_t idx)
{
	(void)idx;
	((struct head *)arg)->len = 0;
	return 0;
}

static int
head_data(void *arg, size_t idx, const void *buf, size_t len)
{
	struct head *h = arg;

	(void)idx;
	if (len > sizeof(h->buf) - 1 - h->len)
		len = sizeof(h->buf) - 1 - h->len;
	memcpy(h->buf + h->len, buf, len);
	h->len += len;
	return 0;
}

/* The value of header field name in h, unfolded and cut, or "". */
static void
header_field(const struct head *h, const char *name, char *out, size_t len)
{
	const char *p = h->buf, *end = h->buf + h->len;
	size_t nl = strlen(name), o = 0;

	out[0] = '\0';
	while (p < end && *p != '\n') {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 &&
		    p[nl] == ':') {
			for (p += nl + 1; p < eol && o + 1 < len; p++)
				if (*p >= 0x20 && *p != 0x7f && !(o == 0 &&
				    *p == ' '))
					out[o++] = *p;
			out[o] = '\0';
			return;
		}
		p = eol + 1;
	}
}

static int
list_end(void *arg, size_t idx)
{
	(void)arg;
	(void)idx;
	return 0;
}

static int
do_list(struct pop *p, const struct account *a, struct st *st)
{
	struct pop_msg *msgs = NULL;
	struct head h;
	struct pop_sink sink = { head_begin, head_data, list_end, &h,
	    LIST_TOP_MAX, NULL };
	unsigned long long total;
	char from[80], subj[80];
	size_t count, i;
	int r;

	(void)a;
	if ((r = pop_scan(p, &msgs, &count, &total)) != POP_OK) {
		warn_("%s", p->err);
		return exit_for(r);
	}
	if (O.json)
		printf("  \"messages\": [");
	for (i = 0; i < count; i++) {
		int fresh = is_new(st, msgs[i].uidl);

		from[0] = subj[0] = '\0';
		if (p->capa.top || !p->capa.seen) {
			r = pop_retr(p, &i, 1, LIST_TOP_LINES, &sink);
			if (r == POP_OK) {
				header_field(&h, "From", from, sizeof(from));
				header_field(&h, "Subject", subj, sizeof(subj));
			} else if (r == POP_PROTO || r == POP_UNAVAIL) {
				/* Out of step, or gone: ask nothing more. */
				warn_("%s", p->err);
				free(msgs);
				return exit_for(r);
			}
		}
		if (O.json) {
			printf("%s\n    {\"number\": %zu, \"size\": %llu, "
			    "\"uidl\": ", i ? "," : "", i + 1, msgs[i].size);
			json_str(stdout, msgs[i].uidl);
			printf(", \"new\": %s, \"from\": ", fresh ?
			    "true" : "false");
			json_str(stdout, from);
			printf(", \"subject\": ");
			json_str(stdout, subj);
			printf("}");
		} else
			printf("%5zu %9llu %c %-24.24s %-28.28s %s\n", i + 1,
			    msgs[i].size, fresh ? 'N' : ' ',
			    msgs[i].uidl, from, subj);
	}
	if (O.json)
		printf("%s],\n", count ? "\n  " : "");
	free(msgs);
	(void)pop_quit(p);
	return KX_OK;
}

/* --check: exit 0 when there is mail not yet fetched, 1 when not. */
static int
do_check(struct pop *p, struct st *st)
{
	struct pop_msg *msgs = NULL;
	unsigned long long total;
	size_t count, i, fresh = 0;
	int r;

	if ((r = pop_scan(p, &msgs, &count, &total)) != POP_OK) {
		warn_("%s", p->err);
		return exit_for(r);
	}
	for (i = 0; i < count; i++)
		if (is_new(st, msgs[i].uidl))
			fresh++;
	free(msgs);
	(void)pop_quit(p);
	if (O.json)
		printf("  \"new\": %zu, \"count\": %zu,\n", fresh, count);
	else if (!O.quiet)
		printf("%zu new of %zu messages\n", fresh, count);
	return fresh > 0 ? KX_OK : KX_NOMAIL;
}

static void
print_serverinfo(struct pop *p, const struct account *a)
{
	X509 *cert;
	char pin[96], buf[256], shown[POP_LINE_MAX];
	size_t i;

	printf("server: %s port %u\n", a->host, a->port);
	printf("greeting: %s\n", SHOW(shown, p->greeting));
	printf("apop: %s\n", p->apop_ts[0] ? "offered (timestamp in "
	    "greeting)" : "no");
	if (tls_active(p->io)) {
		printf("tls: %s %s\n", tls_version(p->io), tls_cipher(p->io));
		if ((cert = SSL_get1_peer_certificate(tls_ssl(p->io))) !=
		    NULL) {
			X509_NAME_oneline(X509_get_subject_name(cert), buf,
			    sizeof(buf));
			printf("certificate: %s\n", buf);
			X509_NAME_oneline(X509_get_issuer_name(cert), buf,
			    sizeof(buf));
			printf("issuer: %s\n", buf);
			X509_free(cert);
		}
		if (key_pin(p, pin, sizeof(pin)) == 0)
			printf("key pin: %s\n", pin);
		printf("verified: yes, for %s\n", a->tls_name != NULL ?
		    a->tls_name : a->host);
	} else
		printf("tls: none%s\n", p->capa.stls ? " (STLS offered)" : "");
	if (!p->capa.seen)
		printf("capa: not supported\n");
	for (i = 0; i < p->capa.nlines; i++)
		printf("capa: %s\n", SHOW(shown, p->capa.lines[i]));
	printf("login methods: %s%s%s%s\n", p->capa.sasl[0] ? "SASL " : "",
	    SHOW(shown, p->capa.sasl), p->capa.user ? " USER" : "",
	    p->apop_ts[0] ? " APOP" : "");
	printf("login-delay: %s\n", p->capa.login_delay[0] ?
	    SHOW(shown, p->capa.login_delay) : "not announced");
	printf("expire: %s\n", p->capa.expire[0] ? SHOW(shown,
	    p->capa.expire) : "not announced");
}

/* ---- accounts ---- */

static void
acct_default(struct account *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->name = strdup(name);
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

/* Fill what the account leaves open from the flags, the URL, defaults. */
static int
acct_finish(struct account *a, const struct account *cli, char *err,
    size_t errlen)
{
	struct pop_url u;
	struct passwd *pw;
	char buf[PATH_MAX];

#define TAKE(f)	do { if (cli->f != NULL) { free(a->f); \
	a->f = strdup(cli->f); } } while (0)
	TAKE(user);
	TAKE(auth);
	TAKE(tls);
	TAKE(cafile);
	TAKE(pin);
	TAKE(deliver);
	TAKE(passwordeval);
	TAKE(sasl_mechanisms);
#undef TAKE
	if (cli->port)
		a->port = cli->port;
	if (cli->keep)
		a->keep = 1;
	if (cli->max_size)
		a->max_size = cli->max_size;
	if (cli->delete_too_large)
		a->delete_too_large = 1;
	if (cli->max_messages)
		a->max_messages = cli->max_messages;
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
	if (cli->trust_srv_target)
		a->trust_srv_target = 1;
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
		if (!O.quiet)
			fprintf(stderr, "kpop: %s's post office is %s\n",
			    a->user, buf);
		if (!O.quiet && a->tls_name != NULL)
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
		    is_kpop(a) ? 1109 : 110;
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
	return 0;
}

static void
acct_free(struct account *a)
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
static int
read_accounts(const char *path, struct account *acc, size_t *nacc, char *err,
    size_t errlen)
{
	char *buf = NULL, *sec = NULL, name[128];
	FILE *f;
	long size;
	size_t n = 0, i, start, end;
	int rc = -1;

	*nacc = 0;
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
			acct_default(&acc[n], name);
			if (conf_read_buf(path, sec, (size_t)size, account_keys,
			    &acc[n], err, errlen) == -1) {
				acct_free(&acc[n]);
				goto out;
			}
			n++;
			i = end;
			continue;
		}
		if (*l != '#' && *l != '\n' && *l != '\0' && *l != '\r') {
			util_snprintf(err, errlen, "%s: settings before the "
			    "first [account] line", path);
			goto out;
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

static const char *
default_config(void)
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

/* ---- one account, start to end ---- */

static int
run_account(struct account *a, SSL_CTX *ctx)
{
	struct pop p;
	struct pwsrc pw;
	struct st *st = NULL;
	struct summary sum;
	char id[ST_ID_MAX + 1], err[512], principal[512] = "";
	char shown[POP_LINE_MAX];
	double t0 = now_s();
	int r, rc;

	memset(&p, 0, sizeof(p));
	memset(&pw, 0, sizeof(pw));
	memset(&sum, 0, sizeof(sum));
	p.trace = O.debug;
	pw.a = a;
	if (st_account_id(a->user, a->host, a->port, id, sizeof(id)) !=
	    ST_OK) {
		warn_("%s: cannot name the account's state", a->name);
		return KX_CONFIG;
	}
	if (O.mode != M_SERVERINFO) {
		r = st_open(O.state_dir, id, LOCK_WAIT_S, &st, err,
		    sizeof(err));
		if (r == ST_BUSY) {
			warn_("%s", err);
			return KX_TEMP;
		}
		if (r != ST_OK) {
			warn_("%s", err);
			return KX_SOFTWARE;
		}
	}
	if (O.json) {
		printf("{\n  \"account\": ");
		json_str(stdout, a->name);
		printf(",\n  \"server\": ");
		json_str(stdout, a->host);
		printf(",\n  \"port\": %u,\n", a->port);
	}
	r = open_session(&p, a, ctx, st != NULL ? st_dir(st) : NULL,
	    principal, sizeof(principal));
	sum.t_connect = now_s() - t0;
	if (r != POP_OK) {
		warn_("%s", p.err);
		rc = exit_for(r);
		goto out;
	}
	if (O.mode == M_SERVERINFO) {
		print_serverinfo(&p, a);
		(void)pop_quit(&p);
		rc = KX_OK;
		goto out;
	}
	if ((r = login(&p, a, &pw)) != POP_OK) {
		warn_("login to %s as %s failed: %s%s%s", a->host, a->user,
		    p.err, principal[0] ? "; Kerberos principal " : "",
		    principal);
		rc = exit_for(r);
		goto out;
	}
	sum.t_login = now_s() - t0 - sum.t_connect;
	sum.method = p.auth_method;
	sum.tls = tls_active(p.io) ? tls_version(p.io) : "none";
	if (O.verbose)
		say("logged in to %s as %s (%s, TLS %s)", a->host, a->user,
		    sum.method, sum.tls);
	switch (O.mode) {
	case M_STAT:
		if ((r = pop_simple(&p, "STAT")) != POP_OK) {
			warn_("%s", p.err);
			rc = exit_for(r);
			break;
		}
		/* The server's words: printable, whatever it sent. */
		SHOW(shown, strlen(p.line) > 4 ? p.line + 4 : "");
		if (O.json) {
			printf("  \"stat\": ");
			json_str(stdout, shown);
			printf(",\n");
		} else
			printf("%s\n", shown);
		(void)pop_quit(&p);
		rc = KX_OK;
		break;
	case M_LIST:
		rc = do_list(&p, a, st);
		break;
	case M_CHECK:
		rc = do_check(&p, st);
		break;
	default:
		rc = do_fetch(&p, a, st, &sum);
		if (!O.json && (rc == KX_OK || rc == KX_NOMAIL))
			say("%s: %zu message%s fetched (%llu bytes), %zu "
			    "deleted, %zu left on the server", a->name,
			    sum.fetched, sum.fetched == 1 ? "" : "s",
			    sum.bytes, sum.deleted, sum.count - sum.deleted);
		break;
	}
out:
	if (O.json) {
		printf("  \"login\": ");
		json_str(stdout, sum.method != NULL ? sum.method : "");
		printf(",\n  \"tls\": ");
		json_str(stdout, sum.tls != NULL ? sum.tls : "");
		printf(",\n  \"totals\": {\"on_server\": %zu, \"fetched\": %zu, "
		    "\"bytes\": %llu, \"deleted\": %zu, \"skipped\": %zu},\n",
		    sum.count, sum.fetched, sum.bytes, sum.deleted,
		    sum.skipped);
		printf("  \"timings\": {\"connect_s\": %.3f, \"login_s\": "
		    "%.3f, \"fetch_s\": %.3f, \"total_s\": %.3f},\n",
		    sum.t_connect, sum.t_login, sum.t_fetch, now_s() - t0);
		printf("  \"exit\": %d\n}\n", rc);
	}
	pop_close(&p);
	st_close(st);
	util_wipe(pw.pw, sizeof(pw.pw));
	return rc;
}

/* ---- options ---- */

static void
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: kpop [options] [URL | host] ...\n"
	    "  URL: pop://[user][;AUTH=mech]@host[:port], pops://...\n"
	    "  -a, --account NAME   an account of the config file\n"
	    "  -c, --config FILE    (default ~/.config/kpop/config, ~/.kpoprc)\n"
	    "  -u, --user NAME      -p, --port N\n"
	    "      --auth METHOD    gssapi, kpop, apop, user, or a SASL "
	    "mechanism\n"
	    "      --tls MODE       auto (default), stls, implicit, none\n"
	    "      --cafile FILE    --pin sha256//BASE64\n"
	    "      --passwordeval CMD  (else ~/.netrc, else a prompt)\n"
	    "  -o, --deliver TARGET maildir:DIR, mbox:FILE, mda:CMD, -\n"
	    "  -k, --keep           leave mail on the server, fetch only new\n"
	    "      --max-size N     --delete-too-large  --max-messages N\n"
	    "      --force          fetch even if all UIDLs changed\n"
	    "      --trust-srv-target  a located server's certificate may "
	    "name the SRV target\n"
	    "      --list --stat --check --serverinfo\n"
	    "  -q -v -d --json --state-dir DIR  -V, --version\n");
	exit(code);
}

static void
parse_args(int argc, char **argv)
{
	enum { O_AUTH = 256, O_TLS, O_CAFILE, O_PIN, O_PWEVAL,
	    O_MAXSIZE, O_DELBIG, O_MAXMSG, O_FORCE, O_LIST, O_STAT, O_CHECK,
	    O_INFO, O_JSON, O_STATEDIR, O_MECHS, O_TRUSTSRV };
	static const struct option lo[] = {
		{ "account", required_argument, NULL, 'a' },
		{ "config", required_argument, NULL, 'c' },
		{ "user", required_argument, NULL, 'u' },
		{ "port", required_argument, NULL, 'p' },
		{ "auth", required_argument, NULL, O_AUTH },
		{ "tls", required_argument, NULL, O_TLS },
		{ "cafile", required_argument, NULL, O_CAFILE },
		{ "pin", required_argument, NULL, O_PIN },
		{ "passwordeval", required_argument, NULL, O_PWEVAL },
		{ "deliver", required_argument, NULL, 'o' },
		{ "keep", no_argument, NULL, 'k' },
		{ "max-size", required_argument, NULL, O_MAXSIZE },
		{ "delete-too-large", no_argument, NULL, O_DELBIG },
		{ "max-messages", required_argument, NULL, O_MAXMSG },
		{ "force", no_argument, NULL, O_FORCE },
		{ "list", no_argument, NULL, O_LIST },
		{ "stat", no_argument, NULL, O_STAT },
		{ "check", no_argument, NULL, O_CHECK },
		{ "serverinfo", no_argument, NULL, O_INFO },
		{ "json", no_argument, NULL, O_JSON },
		{ "state-dir", required_argument, NULL, O_STATEDIR },
		{ "sasl-mechanisms", required_argument, NULL, O_MECHS },
		{ "trust-srv-target", no_argument, NULL, O_TRUSTSRV },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "debug", no_argument, NULL, 'd' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long long v;
	int ch;

	while ((ch = getopt_long(argc, argv, "a:c:u:p:o:kqvdVh", lo, NULL)) !=
	    -1) {
		switch (ch) {
		case 'a':
			O.account = optarg;
			break;
		case 'c':
			O.config = optarg;
			break;
		case 'u':
			O.cli.user = optarg;
			break;
		case 'p':
			if (util_parse_uint(optarg, strlen(optarg), 65535,
			    &v) == -1 || v == 0) {
				warn_("--port: '%s' is not a port", optarg);
				exit(KX_USAGE);
			}
			O.cli.port = (unsigned int)v;
			break;
		case O_AUTH:
			O.cli.auth = optarg;
			break;
		case O_TLS:
			O.cli.tls = optarg;
			break;
		case O_CAFILE:
			O.cli.cafile = optarg;
			break;
		case O_PIN:
			O.cli.pin = optarg;
			break;
		case O_PWEVAL:
			O.cli.passwordeval = optarg;
			break;
		case 'o':
			O.cli.deliver = optarg;
			break;
		case 'k':
			O.cli.keep = 1;
			break;
		case O_MAXSIZE:
		case O_MAXMSG:
			if (util_parse_uint(optarg, strlen(optarg),
			    ch == O_MAXMSG ? UINT_MAX : ULLONG_MAX, &v) ==
			    -1) {
				warn_("'%s' is not a number", optarg);
				exit(KX_USAGE);
			}
			if (ch == O_MAXSIZE)
				O.cli.max_size = v;
			else
				O.cli.max_messages = (unsigned int)v;
			break;
		case O_DELBIG:
			O.cli.delete_too_large = 1;
			break;
		case O_FORCE:
			O.force = 1;
			break;
		case O_LIST:
			O.mode = M_LIST;
			break;
		case O_STAT:
			O.mode = M_STAT;
			break;
		case O_CHECK:
			O.mode = M_CHECK;
			break;
		case O_INFO:
			O.mode = M_SERVERINFO;
			break;
		case O_JSON:
			O.json = 1;
			break;
		case O_STATEDIR:
			O.state_dir = optarg;
			break;
		case O_MECHS:
			O.cli.sasl_mechanisms = optarg;
			break;
		case O_TRUSTSRV:
			O.cli.trust_srv_target = 1;
			break;
		case 'q':
			O.quiet = 1;
			break;
		case 'v':
			O.verbose = 1;
			break;
		case 'd':
			O.debug = O.verbose = 1;
			break;
		case 'V':
			printf("kpop %s (OpenSSL %s)\n", PACKAGE_VERSION,
			    OpenSSL_version(OPENSSL_VERSION_STRING));
			exit(0);
		case 'h':
			usage(0);
			break;
		default:
			usage(KX_USAGE);
		}
	}
}

int
main(int argc, char **argv)
{
	static struct account acc[ACCOUNTS_MAX];
	SSL_CTX *ctx = NULL;
	const char *cafile = NULL;
	char err[512];
	size_t nacc = 0, i, ran = 0;
	int rc = KX_OK, r, worst = -1;

	signal(SIGPIPE, SIG_IGN);
	parse_args(argc, argv);
	if (!O.config)
		O.config = default_config();
	r = read_accounts(O.config, acc, &nacc, err, sizeof(err));
	if (r == -1) {
		warn_("%s", err);
		return KX_CONFIG;
	}
	progress_on = isatty(2) && !O.quiet && !O.debug && !O.json;
	/* Targets on the command line, else the config's accounts, else
	   the user's post office found in Hesiod or DNS. */
	if (optind < argc) {
		for (i = 0; i < nacc; i++)
			acct_free(&acc[i]);
		nacc = 0;
		for (int ai = optind; ai < argc && nacc < ACCOUNTS_MAX; ai++) {
			acct_default(&acc[nacc], argv[ai]);
			acc[nacc++].url = strdup(argv[ai]);
		}
	} else if (nacc == 0)
		acct_default(&acc[nacc++], "default");
	for (i = 0; i < nacc; i++) {
		struct account *a = &acc[i];

		if (O.account != NULL && strcmp(a->name, O.account) != 0)
			continue;
		if (acct_finish(a, &O.cli, err, sizeof(err)) == -1) {
			warn_("%s: %s", a->name, err);
			rc = KX_CONFIG;
			break;
		}
		cafile = a->cafile != NULL && a->cafile[0] ? a->cafile : NULL;
		if ((ctx = tls_client_ctx(cafile, err, sizeof(err))) == NULL) {
			warn_("%s", err);
			rc = KX_CONFIG;
			break;
		}
		r = run_account(a, ctx);
		SSL_CTX_free(ctx);
		ran++;
		/* Several accounts: the worst outcome wins. */
		if (worst == -1 || (r != KX_OK && r != KX_NOMAIL) ||
		    (r == KX_OK && worst == KX_NOMAIL))
			worst = r;
	}
	if (O.account != NULL && ran == 0 && rc == KX_OK) {
		warn_("no account '%s' in %s", O.account, O.config);
		rc = KX_CONFIG;
	}
	if (rc == KX_OK && worst != -1)
		rc = worst;
	for (i = 0; i < nacc; i++)
		acct_free(&acc[i]);
	return rc;
}
