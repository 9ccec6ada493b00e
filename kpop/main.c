/* SPDX-License-Identifier: MIT */
/*
 * kpop/main.c: the kpop client: options, the accounts to run, and one
 * account from start to end: its state, the session (session.c), then
 * the mode: the fetch (fetch.c) or --list, --stat, --check,
 * --serverinfo (modes.c), and the --json frame around them.  Accounts
 * and passwords are account.c's, messages out.c's, poll mode (--daemon)
 * poll.c's.  See kpop(1).
 */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/tls.h"
#include "common/util.h"
#include "kpop/client.h"
#include "kpop/kpop.h"
#include "kpop/state.h"

enum mode { M_FETCH, M_LIST, M_STAT, M_CHECK, M_SERVERINFO };

/* The options; quiet, verbose and json are out.c's (out_opts). */
struct opts {
	enum mode	 mode;
	int		 debug, force;
	const char	*config;
	const char	*account;	/* -a NAME */
	const char	*state_dir;
	const char	*import;	/* --import-uidls FILE */
	const char	*daemon;	/* --daemon SECONDS */
	int		 foreground, quit;	/* -F, --quit */
	struct account_set *sets;	/* account settings from flags */
	size_t		 nsets;
	int		 argc;		/* the targets: argv[optind..] */
	char		**argv;
};

static struct opts O;

/* ---- one account, start to end ---- */

/* --import-uidls: the other client's UIDLs of account a.  An exit code. */
static int
import_uidls(const struct account *a, struct st *st)
{
	char err[512];
	size_t found, added;

	if (imp_uidls(st, O.import, a->user, a->host, &found, &added, err,
	    sizeof(err)) != KP_OK) {
		out_warn("--import-uidls %s", err);
		return KX_CONFIG;
	}
	if (found == 0) {
		out_warn("--import-uidls %s: no UIDLs of %s at %s", O.import,
		    a->user, a->host);
		return KX_CONFIG;
	}
	if (out_opts.verbose)
		out_say("%s: %zu UIDLs in %s, %zu of them new to kpop", a->name,
		    found, O.import, added);
	return KX_OK;
}

static int
run_account(struct account *a, SSL_CTX *ctx)
{
	struct pop p;
	struct pwsrc pw;
	struct st *st = NULL;
	struct summary sum;
	char id[ST_ID_MAX + 1], err[512], principal[512] = "";
	double t0 = out_now();
	int r, rc;

	memset(&p, 0, sizeof(p));
	memset(&pw, 0, sizeof(pw));
	memset(&sum, 0, sizeof(sum));
	p.trace = O.debug;
	pw.a = a;
	if (st_account_id(a->user, a->host, a->port, id, sizeof(id)) !=
	    KP_OK) {
		out_warn("%s: cannot name the account's state", a->name);
		return KX_CONFIG;
	}
	if (O.mode != M_SERVERINFO) {
		r = st_open(O.state_dir, id, LOCK_WAIT_S, &st, err,
		    sizeof(err));
		if (r == KP_INUSE) {
			out_warn("%s", err);
			return KX_TEMP;
		}
		if (r != KP_OK) {
			out_warn("%s", err);
			return KX_SOFTWARE;
		}
	}
	if (out_opts.json) {
		printf("{\n  \"account\": ");
		out_json_str(stdout, a->name);
		printf(",\n  \"server\": ");
		out_json_str(stdout, a->host);
		printf(",\n  \"port\": %u,\n", a->port);
	}
	if (O.import != NULL && O.mode == M_FETCH &&
	    (rc = import_uidls(a, st)) != KX_OK)
		goto out;
	r = session_open(&p, a, ctx, st != NULL ? st_dir(st) : NULL,
	    principal, sizeof(principal));
	sum.t_connect = out_now() - t0;
	if (r != POP_OK) {
		out_warn("%s", p.err);
		rc = out_exit(r);
		goto out;
	}
	if (O.mode == M_SERVERINFO) {
		modes_serverinfo(&p, a);
		(void)pop_quit(&p);
		rc = KX_OK;
		goto out;
	}
	if ((r = session_login(&p, a, &pw)) != POP_OK) {
		out_warn("login to %s as %s failed: %s%s%s", a->host, a->user,
		    p.err, principal[0] ? "; Kerberos principal " : "",
		    principal);
		rc = out_exit(r);
		goto out;
	}
	sum.t_login = out_now() - t0 - sum.t_connect;
	sum.method = p.auth_method;
	sum.tls = tls_active(p.io) ? tls_version(p.io) : "none";
	if (out_opts.verbose)
		out_say("logged in to %s as %s (%s, TLS %s)", a->host, a->user,
		    sum.method, sum.tls);
	switch (O.mode) {
	case M_STAT:
		rc = modes_stat(&p);
		break;
	case M_LIST:
		rc = modes_list(&p, a, st);
		break;
	case M_CHECK:
		rc = modes_check(&p, st);
		break;
	default:
		rc = fetch_run(&p, a, st, O.force, &sum);
		if (!out_opts.json && (rc == KX_OK || rc == KX_NOMAIL))
			out_say("%s: %zu message%s fetched (%llu bytes), %zu "
			    "deleted, %zu left on the server", a->name,
			    sum.fetched, sum.fetched == 1 ? "" : "s",
			    sum.bytes, sum.deleted, sum.count - sum.deleted);
		break;
	}
out:
	if (out_opts.json) {
		printf("  \"login\": ");
		out_json_str(stdout, sum.method != NULL ? sum.method : "");
		printf(",\n  \"tls\": ");
		out_json_str(stdout, sum.tls != NULL ? sum.tls : "");
		printf(",\n  \"totals\": {\"on_server\": %zu, \"fetched\": %zu, "
		    "\"bytes\": %llu, \"deleted\": %zu, \"skipped\": %zu},\n",
		    sum.count, sum.fetched, sum.bytes, sum.deleted,
		    sum.skipped);
		printf("  \"timings\": {\"connect_s\": %.3f, \"login_s\": "
		    "%.3f, \"fetch_s\": %.3f, \"total_s\": %.3f},\n",
		    sum.t_connect, sum.t_login, sum.t_fetch, out_now() - t0);
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
	    "  -o, --deliver TARGET maildir:DIR, mbox:FILE, mda:CMD, -,\n"
	    "                       lmtp:HOST:PORT, lmtp:/SOCKET, "
	    "smtp:HOST[:PORT]\n"
	    "      --recipient ADDR --envelope-sender ADDR "
	    "--delivery-timeout SECONDS\n"
	    "      --on-permanent-failure keep|delete|bounce "
	    "--bounce-via smtp:HOST[:PORT]\n"
	    "  -k, --keep           leave mail on the server, fetch only new\n"
	    "      --max-size SIZE  --delete-too-large  --max-messages N\n"
	    "      --no-keep --no-delete-too-large --no-trust-srv-target\n"
	    "      --received-header, --no-received-header  add kpop's "
	    "Received: line\n"
	    "      --filter CMD     decide on each header: 0 fetch, 1 delete, "
	    "2 skip\n      --no-filter\n"
	    "      --force          fetch even if all UIDLs changed\n"
	    "      --import-uidls FILE  count as fetched what fetchmail's "
	    ".fetchids or\n                       mpop's UIDLs file lists\n"
	    "      --trust-srv-target  a located server's certificate may "
	    "name the SRV target\n"
	    "      --list --stat --check --serverinfo\n"
	    "  -q -v -d --json --state-dir DIR  -V, --version\n"
	    "      --daemon SECONDS poll every SECONDS (-F: in the "
	    "foreground)\n"
	    "      --quit           stop the running kpop --daemon\n");
	exit(code);
}

/*
 * The flags that are account settings: each sets a config key, with the
 * flag's argument or a fixed value (the --no- forms of the booleans), so
 * that a flag takes exactly what the config file takes and wins over it.
 */
enum { O_AUTH = 256, O_TLS, O_CAFILE, O_PIN, O_PWEVAL, O_MAXSIZE, O_DELBIG,
	O_NODELBIG, O_MAXMSG, O_NOKEEP, O_MECHS, O_TRUSTSRV, O_NOTRUSTSRV,
	O_FORCE, O_LIST, O_STAT, O_CHECK, O_INFO, O_JSON, O_STATEDIR,
	O_IMPORT, O_DAEMON, O_QUIT, O_RCPT, O_SENDER, O_PERMFAIL,
	O_DLVTIMEOUT, O_RCVD, O_NORCVD, O_FILTER, O_NOFILTER, O_BOUNCEVIA };
static const struct {
	int		 opt;
	const char	*key, *fixed;
} set_flags[] = {
	{ 'u', "user", NULL },
	{ 'p', "port", NULL },
	{ O_AUTH, "auth", NULL },
	{ O_TLS, "tls", NULL },
	{ O_CAFILE, "cafile", NULL },
	{ O_PIN, "pin", NULL },
	{ O_PWEVAL, "passwordeval", NULL },
	{ 'o', "deliver", NULL },
	{ 'k', "keep", "yes" },
	{ O_NOKEEP, "keep", "no" },
	{ O_MAXSIZE, "max_size", NULL },
	{ O_DELBIG, "delete_too_large", "yes" },
	{ O_NODELBIG, "delete_too_large", "no" },
	{ O_MAXMSG, "max_messages", NULL },
	{ O_MECHS, "sasl_mechanisms", NULL },
	{ O_TRUSTSRV, "trust_srv_target", "yes" },
	{ O_NOTRUSTSRV, "trust_srv_target", "no" },
	{ O_RCPT, "recipient", NULL },
	{ O_SENDER, "envelope_sender", NULL },
	{ O_PERMFAIL, "on_permanent_failure", NULL },
	{ O_BOUNCEVIA, "bounce_via", NULL },
	{ O_DLVTIMEOUT, "delivery_timeout", NULL },
	{ O_RCVD, "received_header", "yes" },
	{ O_NORCVD, "received_header", "no" },
	{ O_FILTER, "filter", NULL },
	{ O_NOFILTER, "filter", "" },
};

static const struct option long_opts[] = {
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
	{ "no-keep", no_argument, NULL, O_NOKEEP },
	{ "max-size", required_argument, NULL, O_MAXSIZE },
	{ "delete-too-large", no_argument, NULL, O_DELBIG },
	{ "no-delete-too-large", no_argument, NULL, O_NODELBIG },
	{ "max-messages", required_argument, NULL, O_MAXMSG },
	{ "force", no_argument, NULL, O_FORCE },
	{ "import-uidls", required_argument, NULL, O_IMPORT },
	{ "list", no_argument, NULL, O_LIST },
	{ "stat", no_argument, NULL, O_STAT },
	{ "check", no_argument, NULL, O_CHECK },
	{ "serverinfo", no_argument, NULL, O_INFO },
	{ "json", no_argument, NULL, O_JSON },
	{ "state-dir", required_argument, NULL, O_STATEDIR },
	{ "sasl-mechanisms", required_argument, NULL, O_MECHS },
	{ "trust-srv-target", no_argument, NULL, O_TRUSTSRV },
	{ "no-trust-srv-target", no_argument, NULL, O_NOTRUSTSRV },
	{ "daemon", required_argument, NULL, O_DAEMON },
	{ "foreground", no_argument, NULL, 'F' },
	{ "quit", no_argument, NULL, O_QUIT },
	{ "recipient", required_argument, NULL, O_RCPT },
	{ "envelope-sender", required_argument, NULL, O_SENDER },
	{ "on-permanent-failure", required_argument, NULL, O_PERMFAIL },
	{ "bounce-via", required_argument, NULL, O_BOUNCEVIA },
	{ "delivery-timeout", required_argument, NULL, O_DLVTIMEOUT },
	{ "received-header", no_argument, NULL, O_RCVD },
	{ "no-received-header", no_argument, NULL, O_NORCVD },
	{ "filter", required_argument, NULL, O_FILTER },
	{ "no-filter", no_argument, NULL, O_NOFILTER },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "debug", no_argument, NULL, 'd' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* An account setting from a flag: checked now, applied to each account. */
static int
take_set(int opt, int longindex)
{
	struct account_set *set = &O.sets[O.nsets];
	char err[512], flag[64];
	size_t i, n = sizeof(set_flags) / sizeof(set_flags[0]);

	for (i = 0; i < n && set_flags[i].opt != opt; i++)
		continue;
	if (i == n)
		return 0;
	/* The flag as the user wrote it, for messages. */
	if (longindex >= 0)
		util_snprintf(flag, sizeof(flag), "--%s",
		    long_opts[longindex].name);
	else
		util_snprintf(flag, sizeof(flag), "-%c", opt);
	set->key = set_flags[i].key;
	set->value = set_flags[i].fixed != NULL ? set_flags[i].fixed : optarg;
	if ((set->flag = strdup(flag)) == NULL) {
		out_warn("out of memory");
		exit(KX_TEMP);
	}
	if (account_check_set(set, err, sizeof(err)) == -1) {
		out_warn("%s", err);
		exit(KX_USAGE);
	}
	O.nsets++;
	return 1;
}

static void
parse_args(int argc, char **argv)
{
	int ch, li;

	if ((O.sets = calloc((size_t)argc + 1, sizeof(*O.sets))) == NULL) {
		out_warn("out of memory");
		exit(KX_TEMP);
	}
	for (;;) {
		li = -1;
		ch = getopt_long(argc, argv, "a:c:u:p:o:kqvdFVh", long_opts,
		    &li);
		if (ch == -1)
			break;
		if (take_set(ch, li))
			continue;
		switch (ch) {
		case 'a':
			O.account = optarg;
			break;
		case 'c':
			O.config = optarg;
			break;
		case O_FORCE:
			O.force = 1;
			break;
		case O_IMPORT:
			O.import = optarg;
			break;
		case O_DAEMON:
			O.daemon = optarg;
			break;
		case 'F':
			O.foreground = 1;
			break;
		case O_QUIT:
			O.quit = 1;
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
			out_opts.json = 1;
			break;
		case O_STATEDIR:
			O.state_dir = optarg;
			break;
		case 'q':
			out_opts.quiet = 1;
			break;
		case 'v':
			out_opts.verbose = 1;
			break;
		case 'd':
			O.debug = out_opts.verbose = 1;
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

/*
 * The accounts to run into acc, their count in *nacc and the global
 * settings into g: the command line's targets, else the config's
 * accounts (only -a's, if given), else the user's post office; each
 * finished (account_finish) if finish.  0, or -1 with err, acc empty.
 */
static int
load_accounts(struct globals *g, struct account *acc, size_t *nacc,
    int finish, char *err, size_t errlen)
{
	size_t i, n = 0, keep = 0;

	if (account_read(O.config, g, acc, &n, err, errlen) == -1)
		return -1;
	if (O.daemon != NULL && account_set_global(g, "daemon", O.daemon, err,
	    errlen) == -1)
		goto fail;
	if (optind < O.argc) {
		for (i = 0; i < n; i++)
			account_free(&acc[i]);
		n = 0;
		for (int ai = optind; ai < O.argc && n < ACCOUNTS_MAX; ai++) {
			account_init(&acc[n], O.argv[ai]);
			acc[n++].url = strdup(O.argv[ai]);
		}
	} else if (n == 0)
		account_init(&acc[n++], "default");
	for (i = 0; i < n; i++) {
		if (O.account != NULL && strcmp(acc[i].name, O.account) != 0) {
			account_free(&acc[i]);
			continue;
		}
		if (keep != i)
			acc[keep] = acc[i];
		keep++;
	}
	n = keep;
	if (O.account != NULL && n == 0) {
		util_snprintf(err, errlen, "no account '%s' in %s", O.account,
		    O.config);
		return -1;
	}
	for (i = 0; finish && i < n; i++)
		if (account_finish(&acc[i], O.sets, O.nsets, err, errlen) ==
		    -1) {
			/* "NAME: message" */
			char m[512];

			util_strlcpy(m, err, sizeof(m));
			util_snprintf(err, errlen, "%s: %s", acc[i].name, m);
			goto fail;
		}
	*nacc = n;
	return 0;
fail:
	for (i = 0; i < n; i++)
		account_free(&acc[i]);
	*nacc = 0;
	return -1;
}

/* poll.c's load: the accounts, finished, and the interval. */
static int
poll_load(struct account *acc, size_t *nacc, unsigned int *interval,
    char *err, size_t errlen)
{
	struct globals g;

	if (load_accounts(&g, acc, nacc, 1, err, errlen) == -1)
		return -1;
	*interval = g.daemon;
	return 0;
}

/* One account, finished, with its TLS context: an exit code. */
static int
run_one(struct account *a)
{
	const char *cafile;
	char err[512];
	SSL_CTX *ctx;
	int r;

	cafile = a->cafile != NULL && a->cafile[0] ? a->cafile : NULL;
	if ((ctx = tls_client_ctx(cafile, err, sizeof(err))) == NULL) {
		out_warn("%s", err);
		return KX_CONFIG;
	}
	r = run_account(a, ctx);
	SSL_CTX_free(ctx);
	return r;
}

int
main(int argc, char **argv)
{
	static struct account acc[ACCOUNTS_MAX];
	static const struct poll_ops ops = { poll_load, run_one };
	struct globals g;
	char err[512];
	size_t nacc = 0, i;
	int rc = KX_OK, r, worst = -1;

	signal(SIGPIPE, SIG_IGN);
	parse_args(argc, argv);
	O.argc = argc;
	O.argv = argv;
	if (!O.config)
		O.config = account_default_config();
	if (O.quit)
		return poll_quit(O.state_dir);
	if (load_accounts(&g, acc, &nacc, 0, err, sizeof(err)) == -1) {
		out_warn("%s", err);
		return KX_CONFIG;
	}
	if (g.daemon > 0) {
		if (O.mode != M_FETCH || out_opts.json || O.import != NULL) {
			out_warn("--daemon only fetches: no --list, --stat, "
			    "--check, --serverinfo, --json or --import-uidls");
			return KX_USAGE;
		}
		for (i = 0; i < nacc; i++)
			account_free(&acc[i]);
		return poll_run(&ops, O.state_dir, O.foreground);
	}
	out_opts.progress = isatty(2) && !out_opts.quiet && !O.debug &&
	    !out_opts.json;
	for (i = 0; i < nacc; i++) {
		struct account *a = &acc[i];

		if (account_finish(a, O.sets, O.nsets, err, sizeof(err)) ==
		    -1) {
			out_warn("%s: %s", a->name, err);
			rc = KX_CONFIG;
			break;
		}
		r = run_one(a);
		/* Several accounts: the worst outcome wins. */
		if (worst == -1 || (r != KX_OK && r != KX_NOMAIL) ||
		    (r == KX_OK && worst == KX_NOMAIL))
			worst = r;
	}
	if (rc == KX_OK && worst != -1)
		rc = worst;
	for (i = 0; i < nacc; i++)
		account_free(&acc[i]);
	return rc;
}
