/* SPDX-License-Identifier: MIT */
/*
 * kpop/session.c: one account's session up to the transaction state
 * (kpop.h): connecting, TLS implicit or by STLS (required when a
 * password would be sent, and once a server has done it), the server's
 * key against the account's pin, KPOP's sendauth, and the login by the
 * account's method or the best one on offer (a Kerberos ticket first).
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <krb5.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/mech.h"
#include "common/sasl.h"
#include "common/tls.h"
#include "common/util.h"
#include "kpop/client.h"
#include "kpop/kpop.h"

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
int
session_key_pin(struct pop *p, char *out, size_t outlen)
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

/* The server's key against the account's pin, if it has one. */
static int
check_pin(struct pop *p, const struct account *a)
{
	char pin[96];

	if (a->pin == NULL || a->pin[0] == '\0')
		return POP_OK;
	if (session_key_pin(p, pin, sizeof(pin)) == -1)
		return POP_TLS;
	if (strcmp(pin, a->pin) != 0) {
		util_snprintf(p->err, sizeof(p->err), "%s's key is %s, not "
		    "the pinned %s", p->host, pin, a->pin);
		return POP_TLS;
	}
	return POP_OK;
}

/* ---- connecting and logging in ---- */

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
int
session_open(struct pop *p, const struct account *a, SSL_CTX *ctx,
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
	if (account_is_kpop(a) && (st = pop_kpop(p, a->service, principal,
	    plen)) != POP_OK)
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
	if (p->capa.stls || account_is_kpop(a)) {
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
int
session_login(struct pop *p, const struct account *a, struct pwsrc *pw)
{
	struct pop_login l;
	const char *auth = a->auth;
	char mechs[POP_LINE_MAX];
	int tls = tls_active(p->io);

	memset(&l, 0, sizeof(l));
	l.user = a->user;
	l.service = a->service;
	l.password = account_password;
	l.password_arg = pw;
	l.max_ssf = 256;
	if (account_is_kpop(a))
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
