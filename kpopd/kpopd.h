/* SPDX-License-Identifier: MIT */
/*
 * kpopd/kpopd.h: what kpopd's parts share: the configuration, the kinds of
 * listener, the messages between the session monitor and the net process,
 * and the entry points of each process.
 */
#ifndef KPOPD_KPOPD_H
#define KPOPD_KPOPD_H

#include <sys/socket.h>
#include <sys/types.h>

#include <stdio.h>

#include <openssl/ssl.h>

#include "common/cidr.h"
#include "common/limits.h"
#include "common/status.h"
#include "common/util.h"

/* What a listener speaks first. */
enum listen_kind {
	LK_POP3,	/* plain POP3, STLS offered (port 110) */
	LK_POP3S,	/* TLS first (port 995, RFC 8314) */
	LK_KPOP		/* krb5 sendauth first (port 1109) */
};

struct kpopd_conf {
	char		*listen_pop3;	/* "addr:port, ..." or "" */
	char		*listen_pop3s;
	char		*listen_kpop;	/* KPOP (krb5 sendauth), port 1109 */
	int		 kpop_require_tls;	/* STLS before USER on 1109 */
	char		*tls_cert;
	char		*tls_key;
	int		 allow_plaintext_auth;
	int		 apop;		/* APOP, checked against sasldb */
	char		*hostname;	/* for the greeting and pop/HOST */
	char		*keytab;
	char		*service;	/* "pop" */
	char		*password_check;	/* krb5, sasl or none */
	char		*sasldb;
	char		*sasl_mechanisms;	/* offered in CAPA SASL */
	unsigned int	 sasl_max_ssf;	/* strongest layer; 0: none */
	char		*tls_max_version;	/* "1.2" or "1.3" */
	char		*krb5_principal;	/* template: %u, %d */
	char		*maildrop;	/* "maildir:~/Maildir", "mbox:..." */
	int		 create_maildrop;	/* a missing one: made/empty */
	char		*uidl_format;	/* "filename", "dovecot:%08Xu%08Xv" */
	char		*user_type;	/* system or virtual */
	char		*virtual_user;	/* owner of virtual maildrops */
	char		*spool_group;	/* extra group for mbox spools */
	char		*unpriv_user;	/* the net process runs as this */
	char		*chroot_dir;	/* the net process's empty root */
	int		 net_sandbox;	/* seccomp filter and rlimits */
	char		*state_dir;	/* LOGIN-DELAY records */
	char		*pidfile;
	char		*control_socket;	/* kpopctl's; "" for none */
	char		*log;		/* syslog or stderr */
	char		*log_level;
	int		 syslog_facility;	/* LOG_MAIL, ... */
	char		*expire;	/* "never" or days */
	unsigned int	 max_sessions;
	unsigned int	 max_sessions_per_ip;
	unsigned int	 max_sessions_per_user_ip;
	unsigned int	 max_bad_commands;
	unsigned int	 max_line_length;	/* octets, CRLF included */
	unsigned int	 login_timeout;	/* seconds */
	unsigned int	 idle_timeout;	/* seconds */
	unsigned int	 auth_fail_delay;	/* seconds */
	unsigned int	 auth_fail_delay_max;	/* the penalty's cap, s */
	unsigned int	 auth_cache_ttl;	/* seconds; 0: no cache */
	unsigned int	 login_delay;	/* seconds between logins */
	unsigned int	 lock_timeout;	/* seconds */
	unsigned int	 takeover_idle;	/* seconds; 0: never */
	unsigned int	 tls_timeout;	/* seconds */
	/* Who may send a PROXY header on a "proxy" listener (CIDR list). */
	char		*proxy_trusted_networks;
	/* Exempt from per-address limits and penalties (CIDR list). */
	char		*trusted_networks;
	/* The two lists parsed, by kconf_load. */
	struct cidr_list proxy_trusted;
	struct cidr_list trusted;
};

/* conf.c: defaults, reading, checking. */
void	kconf_defaults(struct kpopd_conf *) KP_NONNULL(1);
int	kconf_read(struct kpopd_conf *, const char *path, char *err,
	    size_t errlen) KP_NONNULL(1, 2, 3) KP_WUR;
int	kconf_set(struct kpopd_conf *, const char *keyvalue, char *err,
	    size_t errlen) KP_NONNULL(1, 2, 3) KP_WUR;
int	kconf_check(const struct kpopd_conf *, char *err, size_t errlen)
	    KP_NONNULL(1, 2) KP_WUR;
void	kconf_free(struct kpopd_conf *);
/*
 * Load the configuration: defaults, the file at path (the default path
 * unless path_given, that is named with -c; missing, it is an error
 * that says so), the -o overrides, hostname filled in, the checks.
 * Returns 0 or -1 with err set.
 */
int	kconf_load(struct kpopd_conf *, const char *path, int path_given,
	    char **overrides, int noverrides, char *err, size_t errlen)
	    KP_NONNULL(1, 2, 6) KP_WUR;
/*
 * What the configuration needs from this system: the accounts it names
 * (unpriv_user, virtual_user), existing and not root.  Returns 0 or -1
 * with err set.
 */
int	kconf_check_system(const struct kpopd_conf *, char *err,
	    size_t errlen) KP_NONNULL(1, 2) KP_WUR;
/*
 * Print c to f as "key = value" lines a kpopd.conf could hold, in the
 * table's order: every key (all), or those whose value differs from the
 * default (kpopd -n, like doveconf -n).  0, or -1 if a value could not be
 * written.
 */
int	kconf_print(FILE *f, const struct kpopd_conf *c, int all)
	    KP_NONNULL(1, 2);
/* Whether the configured expire policy is "never". */
int	kconf_expire_never(const struct kpopd_conf *) KP_NONNULL(1);

/* Supplementary groups of a mail user (its own; never spool_group). */
#define KPOPD_GROUPS_MAX	256


/*
 * The account every virtual user is served as, with its groups and the
 * spool group, looked up once by the master at start and on reload
 * rather than by every session: the lookup walks every NSS module.
 */
struct kpopd_ident {
	int			 ok;		/* filled in */
	uid_t			 uid;
	gid_t			 gid;
	int			 ngroups;
	gid_t			 groups[KPOPD_GROUPS_MAX];
	int			 spool_ok;	/* spool_gid is set */
	gid_t			 spool_gid;
};

/* The per-connection context handed from the master to a session. */
struct session_start {
	const struct kpopd_conf	*conf;
	SSL_CTX			*tls;		/* NULL: no TLS configured */
	enum listen_kind	 kind;
	int			 fd;		/* the client socket */
	char			 peer[64];	/* printable address */
	char			 id[LOG_SESSION_MAX];	/* for log lines */
	int			 privsep;	/* started as root */
	const struct kpopd_ident *virt;		/* user_type virtual, or NULL */
	int			 report;	/* to the master (report.h), or
						   -1; never in the net process */
	int			 proxy;		/* a PROXY header comes first;
						   peer is the balancer's until
						   it is read */
};

/* monitor.c: runs the session; never returns. */
void	monitor_main(const struct session_start *) __attribute__((noreturn));

/*
 * sandbox.c: build the net process's seccomp filter once, in the master
 * before it forks (sandbox_net builds it itself otherwise).  Returns 0,
 * or -1 with err set.
 */
int	sandbox_prepare(char *err, size_t errlen) KP_NONNULL(1) KP_WUR;
/*
 * sandbox.c: confine the calling net process (after its chroot and
 * setuid, before the greeting) unless net_sandbox is off: resource limits
 * and a seccomp filter that kills it on a system call a session does not
 * make.  Returns 0, or -1 with err set (the caller must not go on).
 */
int	sandbox_net(const struct kpopd_conf *, char *err, size_t errlen)
	    KP_NONNULL(1, 2) KP_WUR;

/* net.c: the net process's POP3 loop; never returns. */
void	net_main(const struct session_start *, int mon)
	    __attribute__((noreturn));

/*
 * Messages between net (N) and monitor (M).  Each request has exactly one
 * reply except M_TOUCH.  Bodies are built with common/ipc.h.
 */
enum {
	/* N->M: user str, password str.  M->N: M_AUTH_RESULT. */
	M_AUTH_PASS = 1,
	/* M->N: result (ipc_put_status), user str, text str, layer
	   u32 (the most plaintext per packet when a SASL security layer
	   starts after the +OK, else 0); on KP_OK followed by M_SNAP_HEAD
	   and M_SNAP_PART messages. */
	M_AUTH_RESULT,
	/* M->N: count u64, total octets u64. */
	M_SNAP_HEAD,
	/* M->N: n u32, then n times: size u64, uidl str. */
	M_SNAP_PART,
	/* N->M: n u32 (1 to IPC_FDS_MAX), then n indexes u32: the message
	   wanted now and those net-trans.c expects next.  M->N: M_MSG. */
	M_GET_MSG,
	/* M->N: n u32, then for each index asked: result (ipc_put_status),
	   offset u64, length u64, text str; with one descriptor for each
	   KP_OK, in the same order. */
	M_MSG,
	/* N->M: bytes sent to the client u64.  Activity, so an idle
	   takeover spares us; the byte count goes on to the master. */
	M_TOUCH,
	/* N->M: count u32, then a byte string: a bitmap of the messages
	   to delete (bit i%8 of byte i/8).  M->N: M_QUIT_RESULT. */
	M_QUIT,
	/* M->N: result (ipc_put_status), text str. */
	M_QUIT_RESULT,
	/* N->M: mech str, has_initial u32, initial bytes, TLS SSF u32 (0
	   outside TLS), channel binding type str ("" outside TLS) and data.
	   M->N: M_SASL_CONT or M_AUTH_RESULT (then, on KP_OK, the
	   snapshot). */
	M_SASL_START,
	/* M->N: challenge bytes (decoded). */
	M_SASL_CONT,
	/* N->M: response bytes (decoded).  M->N: as M_SASL_START. */
	M_SASL_STEP,
	/* N->M: nothing; the client cancelled.  No reply. */
	M_SASL_ABORT,
	/* N->M: the KPOP AP-REQ.  M->N: M_KPOP_RESULT. */
	M_KPOP_APREQ,
	/* M->N: ok u32, the KRB-ERROR (on failure) or AP-REP (on success,
	   empty unless mutual authentication was asked for) bytes. */
	M_KPOP_RESULT,
	/* N->M: user str, after a good AP-REQ.  M->N: M_AUTH_RESULT. */
	M_KPOP_USER,
	/* N->M: nothing.  M->N: M_APOP_CHALLENGE with the timestamp str
	   for the greeting, made and kept by the monitor. */
	M_APOP_CHALLENGE,
	/* N->M: user str, digest str.  M->N: M_AUTH_RESULT. */
	M_AUTH_APOP,
	/* N->M: plaintext bytes (at most the layer's size) to send, or
	   bytes read from the client.  M->N: M_LAYER_DATA, encoded or
	   decoded (maybe none yet).  Only while a SASL layer runs. */
	M_LAYER_ENCODE,
	M_LAYER_DECODE,
	M_LAYER_DATA,
	/* M->N: nothing, in place of any reply or unasked: kpopctl kicked
	   the session; the monitor has let the maildrop go and shut the
	   client socket down.  The net process logs end=kicked. */
	M_KICKED,
	/* N->M: the client's address str from the PROXY header, on a
	   "proxy" listener only, once, before anything else the session
	   asks.  M->N: M_PROXY_RESULT. */
	M_PROXY,
	/* M->N: result (ipc_put_status): KP_OK, or KP_TEMP when the
	   master counts max_sessions_per_ip sessions from that address. */
	M_PROXY_RESULT
};

/* Where kpopctl finds the master (control_socket's default). */
#define KPOPD_CONTROL_SOCKET	"/run/kpopd/control"
/* A control socket's path, NUL included: sockaddr_un's sun_path. */
#define CTL_PATH_MAX		108

/* A KPOP AP-REQ: a ticket and authenticator; a large PAC stays under. */
#define KPOPD_APREQ_MAX	(16 * 1024)
/* A SASL mechanism name (RFC 4422: up to 20 characters), NUL included. */
#define KPOPD_MECH_MAX	21
/* A user name as kpopd accepts it, NUL included. */
#define KPOPD_USER_MAX	256
/* A path built from a template (a maildrop, a state file). */
#define KPOPD_PATH_MAX	4096
/* A password, NUL included. */
#define KPOPD_PASS_MAX	POP3_CMD_LIMIT

#endif
