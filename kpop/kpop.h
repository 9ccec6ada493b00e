/* SPDX-License-Identifier: MIT */
/*
 * kpop/kpop.h: what the parts of the kpop program share, private to
 * kpop/: the exit codes, an account's settings, the summary of a run,
 * and the entry points of out.c (messages and output), account.c
 * (accounts and passwords), session.c (connecting, TLS pinning, login),
 * fetch.c (the fetch), modes.c (--list, --stat, --check,
 * --serverinfo), import.c (--import-uidls) and poll.c (poll mode,
 * --daemon).  main.c drives them.
 */
#ifndef KPOP_KPOP_H
#define KPOP_KPOP_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "kpop/client.h"
#include "kpop/state.h"

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

/* A password (and a passwordeval line). */
#define PASS_MAX	1024
/* Accounts in a config file. */
#define ACCOUNTS_MAX	64
/*
 * A line of a file --import-uidls reads: fetchmail reads its .fetchids
 * lines into 512 bytes, mpop its UIDLs lines into 1024; more is neither.
 */
#define IMP_LINE_MAX	4096

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
	/* LMTP/SMTP delivery */
	char		*recipient;	/* RCPT TO; default the local user */
	char		*envelope_sender;	/* MAIL FROM without a
						   Return-Path; "": <> */
	char		*on_perm_fail;	/* keep, delete or bounce */
	char		*bounce_via;	/* smtp:HOST[:PORT] for bounces */
	unsigned int	 delivery_timeout;	/* seconds; 0: default */
	int		 received_header;	/* 1, 0, or -1: the target's
						   kind decides (deliver.h) */
	char		*filter;	/* a command on each header, or NULL
					   or "" (filter.c) */
};

/* The config file's global settings: the lines before its first [name]. */
struct globals {
	unsigned int	 daemon;	/* seconds between polls; 0: run once */
};

/* Where account_password() finds the password; asked once. */
struct pwsrc {
	const struct account	*a;
	char			 pw[PASS_MAX];
	int			 have;
	int			 tried;
};

/* What a run did, for the closing line and --json. */
struct summary {
	const char	*method;
	const char	*tls;
	size_t		 count, fetched, deleted, skipped;
	unsigned long long total, bytes;
	double		 t_connect, t_login, t_fetch;
};

/* out.c: messages, progress, JSON. */
struct out_opts {
	int	 quiet;		/* -q: no messages but errors */
	int	 verbose;	/* -v */
	int	 json;		/* --json on standard output */
	int	 progress;	/* a progress line on standard error */
	int	 log;		/* poll mode: through log.h (stderr, syslog) */
};
extern struct out_opts out_opts;

/*
 * Text a server sent, made printable (log.h) before it reaches the
 * user's terminal: no escape sequence of the server's passes.
 */
#define SHOW(buf, s)	(log_printable((buf), sizeof(buf), (s), strlen(s)), \
	(const char *)(buf))

/* "kpop: " and the message on standard error, unless -q. */
void	out_say(const char *fmt, ...) KP_PRINTF(1, 2) KP_NONNULL(1);
/* The same even with -q, clearing a progress line first: errors. */
void	out_warn(const char *fmt, ...) KP_PRINTF(1, 2) KP_NONNULL(1);
/* Seconds since the epoch, with microseconds, for the progress rate. */
double	out_now(void);
/* s as a JSON string (quoted, escaped) on f. */
void	out_json_str(FILE *, const char *) KP_NONNULL(1, 2);
/* The exit code (kpop(1), KX_*) for a client.h pop_status. */
int	out_exit(int pop_status);
/*
 * Poll mode: hold back the latest warning (on), so that the line ending
 * an account's poll can carry it; a newer warning logs the held one
 * first.  out_hold(0) logs what is held and stops holding.
 */
void	out_hold(int on);
/* The warning held back into buf ("" if none), no longer held. */
void	out_take_held(char *buf, size_t buflen) KP_NONNULL(1);

/* ---- account.c: accounts from the config file, flags, URLs ---- */

/* An empty account called name, with the defaults (account_free). */
void	account_init(struct account *, const char *name) KP_NONNULL(1, 2);
/*
 * One account setting from the command line: the config key it sets and
 * the value, read as the config file's "key = value" would be (the same
 * suffixes, the same booleans), and the flag, for messages.
 */
struct account_set {
	const char	*key;
	const char	*value;
	const char	*flag;
};
/* Whether a setting can be applied: 0, or -1 with a message in err. */
int	account_check_set(const struct account_set *, char *err,
	    size_t errlen) KP_NONNULL(1, 2) KP_WUR;
/*
 * Fill what the account leaves open: the command line's n settings first
 * (they win over the file), then its URL and the defaults; and check it.
 * 0, or -1 with a message in err.
 */
int	account_finish(struct account *, const struct account_set *cli,
	    size_t n, char *err, size_t errlen) KP_NONNULL(1, 4) KP_WUR;
/* Free what account_init and the readers allocated in it. */
void	account_free(struct account *) KP_NONNULL(1);
/*
 * Read the accounts of the config file path into acc (room for
 * ACCOUNTS_MAX), their count in *nacc, and the global settings into g
 * (zeroed first).  0, 1 if there is no such file (no accounts), or -1
 * with a message in err.
 */
int	account_read(const char *path, struct globals *g, struct account *acc,
	    size_t *nacc, char *err, size_t errlen) KP_NONNULL(1, 2, 3, 4, 5)
	    KP_WUR;
/*
 * A global setting from the command line (--daemon): key = value into g,
 * read as in the file.  0, or -1 with a message in err.
 */
int	account_set_global(struct globals *g, const char *key,
	    const char *value, char *err, size_t errlen)
	    KP_NONNULL(1, 2, 3, 4) KP_WUR;
/*
 * $XDG_CONFIG_HOME/kpop/config or ~/.config/kpop/config, or ~/.kpoprc
 * when only that exists; a static buffer.
 */
const char *account_default_config(void);
/* Whether the account logs in by KPOP (sendauth before the greeting). */
int	account_is_kpop(const struct account *) KP_NONNULL(1);
/*
 * The password of a struct pwsrc, from the first source that has one,
 * asked for once and kept there; NULL if none gives one.
 */
const char *account_password(void *pwsrc) KP_NONNULL(1);

/* ---- session.c: connecting, TLS and its pin, logging in ---- */

/*
 * Connect, do TLS as the account says (checking its pin), read the
 * greeting and CAPA; KPOP runs its sendauth before the greeting, with
 * the principal it used in principal.  Returns a pop_status.
 */
int	session_open(struct pop *, const struct account *, SSL_CTX *,
	    const char *statedir, char *principal, size_t plen)
	    KP_NONNULL(1, 2, 5) KP_WUR;
/*
 * Log in by the account's method, or choose one (auth empty or "*"):
 * a ticket first, then what needs a password, never a password in the
 * clear.  Returns a pop_status.
 */
int	session_login(struct pop *, const struct account *, struct pwsrc *)
	    KP_NONNULL(1, 2, 3) KP_WUR;
/*
 * "sha256//BASE64" of the server's public key (curl's --pinnedpubkey
 * form) into out.  0, or -1 (no TLS, or it does not fit).
 */
int	session_key_pin(struct pop *, char *out, size_t outlen)
	    KP_NONNULL(1, 2) KP_WUR;

/* ---- fetch.c: the exactly-once fetch of an account's new mail ---- */

/*
 * Settle interrupted deliveries, list, deliver what is new (intent,
 * delivery, record, then DELE), QUIT, compact the state; force fetches
 * even when every UIDL changed.  Adds to *sum; returns an exit code.
 */
int	fetch_run(struct pop *, const struct account *, struct st *,
	    int force, struct summary *) KP_NONNULL(1, 2, 3, 5) KP_WUR;
/*
 * Set (by a signal handler) to end a fetch once the message in hand is
 * delivered and recorded: no later message is begun, what was delivered
 * is deleted, and the session QUITs.
 */
extern volatile sig_atomic_t fetch_stop;

/* ---- filter.c: the filter setting ---- */

/*
 * Run the account's filter on the header (TOP n 0) of each of the
 * *nwant messages in want (indices into msgs, count of them): those it
 * says to deliver stay in want (*nwant becomes their number), those to
 * delete are added to dele (*ndele), those to skip counted in sum; a
 * filter that fails leaves its message out, and the result is KX_DELIVER.
 * No TOP: KX_PROTOCOL and nothing wanted.  *out_of_step is set when the
 * session cannot go on.  Returns an exit code.
 */
int	filter_messages(struct pop *, const struct account *,
	    const struct pop_msg *msgs, size_t count, size_t *want,
	    size_t *nwant, size_t *dele, size_t *ndele, struct summary *,
	    int *out_of_step) KP_NONNULL(1, 2, 3, 5, 6, 7, 8, 9, 10) KP_WUR;

/* ---- import.c: --import-uidls ---- */

/*
 * Read fetchmail's .fetchids or mpop's UIDLs file at path and record the
 * UIDLs of user at host in it as fetched and kept (st_import): *found
 * how many it lists, *added how many the state did not know.  Returns
 * KP_OK, KP_PERM (no such file, a format error) or KP_TEMP, with err set.
 */
int	imp_uidls(struct st *, const char *path, const char *user,
	    const char *host, size_t *found, size_t *added, char *err,
	    size_t errlen) KP_NONNULL(1, 2, 3, 4, 5, 6, 7) KP_WUR;

/* ---- modes.c: the modes other than fetching; each returns an exit code */

/* --stat: the server's STAT answer. */
int	modes_stat(struct pop *) KP_NONNULL(1) KP_WUR;
/* --list: each message with From and Subject, and whether it is new. */
int	modes_list(struct pop *, const struct account *, struct st *)
	    KP_NONNULL(1, 2, 3) KP_WUR;
/* --check: KX_OK when there is mail not yet fetched, KX_NOMAIL if not. */
int	modes_check(struct pop *, struct st *) KP_NONNULL(1, 2) KP_WUR;
/* --serverinfo: what the server offers, and its TLS. */
void	modes_serverinfo(struct pop *, const struct account *)
	    KP_NONNULL(1, 2);

/* ---- poll.c: poll mode (--daemon, daemon = SECONDS) ---- */

/* What poll mode asks of main.c, which knows the options. */
struct poll_ops {
	/*
	 * (Re)read the configuration: the accounts to poll into acc (room
	 * for ACCOUNTS_MAX; each finished, account_finish), their count in
	 * *nacc, the seconds between polls in *interval (0: none set).  0,
	 * or -1 with a message in err and nothing in acc.
	 */
	int	(*load)(struct account *acc, size_t *nacc,
		    unsigned int *interval, char *err, size_t errlen);
	/* Fetch one account now: an exit code (KX_*). */
	int	(*run)(struct account *);
};

/*
 * Poll every account, sleep, repeat, until SIGTERM or SIGINT (SIGHUP
 * rereads the configuration, SIGUSR1 polls now); in the background
 * unless foreground or started by systemd.  statedir holds the lock
 * (daemon.pid) that keeps one poller per state directory.  Returns the
 * exit code.
 */
int	poll_run(const struct poll_ops *, const char *statedir,
	    int foreground) KP_NONNULL(1) KP_WUR;
/* kpop --quit: stop the poller of statedir.  Returns the exit code. */
int	poll_quit(const char *statedir) KP_WUR;

#endif
