/* SPDX-License-Identifier: MIT */
/*
 * common/limits.h: every bound kpop places on what a peer can make it read,
 * hold or wait for, each with its reason.  kpopd and kpop both use these;
 * configuration may lower the ones marked "default".
 */
#ifndef KPOP_LIMITS_H
#define KPOP_LIMITS_H

/* A command line, CRLF included (RFC 2449 section 4). */
#define POP3_CMD_MAX		255
/*
 * The most a server may be configured to accept as a command line
 * (kpopd's max_line_length), CRLF included: RFC 2449 sets 255 for
 * clients to respect; a server may be lenient with clients that are not.
 */
#define POP3_CMD_LIMIT		1024
/* A command argument (RFC 2449 section 4: up to 40 characters). */
#define POP3_ARG_MAX		40
/* Arguments per command: TOP has the most (two); allow slack for AUTH. */
#define POP3_ARGS_MAX		4
/* A keyword: 3 or 4 characters (RFC 1939 section 3); AUTH has 4. */
#define POP3_KEYWORD_MAX	4
/* A response status line, CRLF included (RFC 2449 section 4: 512). */
#define POP3_RESP_MAX		512
/*
 * A SASL response line (RFC 5034 section 4 sets no bound), and an AUTH
 * command line with an initial response (pop3_parse_auth_line).  A
 * GSSAPI token is about 1 KiB of base64, much more with a large Windows
 * PAC; 16 KiB decoded, as base64, is generous and still bounded.
 */
#define POP3_SASL_LINE_MAX	(22 * 1024)
/* A decoded SASL token, the same bound before base64. */
#define SASL_TOKEN_MAX		(16 * 1024)
/*
 * The fewest SCRAM iterations a client accepts from the server: RFC 7677
 * s.4 and RFC 5802 s.5.1 ask for at least 4096, and fewer make the proof
 * a client sends cheap to crack.
 */
#define SASL_SCRAM_ITER_MIN	4096
/*
 * A SASL security layer (RFC 4422 s.3.7): the largest packet we accept,
 * announced as maxbufsize; the socket bytes handed to one decode; and
 * the plaintext one encode takes at most, so that the encoded packet
 * (plus GSS-API wrap overhead) fits in one IPC message (ipc.h).
 */
#define SASL_LAYER_MAXBUF	(32 * 1024)
#define SASL_LAYER_READ		(16 * 1024)
#define SASL_LAYER_CHUNK	(32 * 1024)
/* Decoded bytes a layer holds back for the reader: one decode's worth. */
#define SASL_LAYER_HOLD		(SASL_LAYER_READ + SASL_LAYER_MAXBUF + 64)
/* A UIDL: 1 to 70 characters 0x21-0x7E (RFC 1939 section 7). */
#define POP3_UIDL_MAX		70
/* The I/O read buffer; also the largest line a read can return whole. */
#define IO_BUF_SIZE		(32 * 1024)
/* The write buffer: replies are batched up to this before a write. */
#define IO_WBUF_SIZE		(64 * 1024)
/* default: seconds to wait for a TLS handshake to finish. */
#define TLS_HANDSHAKE_TIMEOUT	30
/*
 * default: milliseconds an io waits for its peer when the caller sets no
 * timeout of its own (io_set_timeout).
 */
#define IO_DEFAULT_TIMEOUT_MS	60000
/* A configuration file line. */
#define CONF_LINE_MAX		1024
/* A configuration file: refuse anything larger (it is not a mail spool). */
#define CONF_FILE_MAX		(1024 * 1024)
/*
 * How much of a bad key or value a configuration message shows, escaped,
 * before "...": enough to recognise it, short enough that the message
 * keeps its point within ERR_MSG_MAX.
 */
#define CONF_QUOTE_MAX		48
/* One formatted log message, after escaping peer text. */
#define LOG_LINE_MAX		1024
/* A log ident: a program name, kept short so it cannot crowd the message. */
#define LOG_IDENT_MAX		32
/*
 * A session id as log lines carry it, NUL included: 12 hex digits (the
 * start second and a counter, log_session_new) with room to spare.
 */
#define LOG_SESSION_MAX		16
/* A krb5 sendauth version string (KPOP): both of KPOP's are far shorter. */
#define SA_VERSION_MAX		64
/* The error message a context keeps for its caller. */
#define ERR_MSG_MAX		256

/* ---- mbox dotlocks (common/dotlock.c), kpop's and kpopd's ---- */
/*
 * Seconds after which a dotlock nobody refreshes is stale and may be
 * removed, whoever made it (procmail waits 1024 s, Postfix 500 s;
 * 5 minutes is far longer than any delivery holds one).
 */
#define DOTLOCK_STALE		300
/*
 * Seconds an empty dotlock may sit unchanged, with no fcntl lock on its
 * file, before it is stale: a live locker writes its pid (or, writing
 * none, takes the fcntl lock) within moments of creating it; one killed
 * in between must not block mail for DOTLOCK_STALE.
 */
#define DOTLOCK_EMPTY_STALE	10
/*
 * Seconds between refreshes of our own dotlock's mtime during long work
 * (Dovecot overrides a dotlock left unchanged for 120 s).
 */
#define DOTLOCK_REFRESH		30
/* Milliseconds between tries for a busy dotlock. */
#define DOTLOCK_POLL_MS		50
/*
 * A dotlock's text: "<pid> <program> <host>
", a host name up to 255
 * bytes (POSIX); more than that is read as no pid.
 */
#define DOTLOCK_TEXT_MAX	320
/* A program's word in it ("kpop", "kpopd"). */
#define DOTLOCK_PROG_MAX	16
/* A host name as gethostname() gives it, NUL included (POSIX: 255). */
#define DOTLOCK_HOST_MAX	256
/* The part of the host name in a dotlock's temporary file's name. */
#define DOTLOCK_TMP_HOST	64
/*
 * Stale locks one dotlock_take() breaks and retries at once, before it
 * paces itself at DOTLOCK_POLL_MS: each one is a dead locker, so a few
 * are plenty; more means someone keeps planting them, and a loop that
 * honours no deadline must not follow.
 */
#define DOTLOCK_BREAKS_MAX	8

/* ---- kpopd maildrops (kpopd/maildrop.c, md-*.c, maildir.c, mdir-*.c,
   mbox*.c) ---- */
/*
 * Messages in one snapshot.  QUIT hands the deletions to the monitor as
 * one bitmap in one IPC message (ipc.h's IPC_MSG_MAX, 64 KiB: room for
 * 524,224 bits), so the bitmap stays one message and the monitor keeps
 * no partial state; monwrap.c asserts that they agree.  A snapshot costs
 * about 150 bytes a message (plus the file name for Maildir), so this
 * also caps a session near 100 MB.  Past it, the oldest MD_MSGS_MAX are
 * served; the rest (for mbox, the rest of the file, kept like mail
 * delivered during the session) show up once those are deleted.
 */
#define MD_MSGS_MAX		500000
/* Seconds an idle session sent SIGTERM by a takeover has to let go. */
#define MD_TAKEOVER_WAIT	5
/* Milliseconds between tries for a busy dotlock or fcntl lock. */
#define MD_LOCK_POLL_MS		50
/*
 * The session lock file's text, "<pid> <host>\n" of its holder (a pid
 * of up to 20 digits, a host name as DOTLOCK_HOST_MAX), so that a
 * takeover judges a pid only on the host it belongs to.
 */
#define MD_LOCK_TEXT_MAX	(20 + 1 + DOTLOCK_HOST_MAX + 1)
/*
 * Read and copy buffer for message files and the mbox; also the longest
 * start of a line the mbox parser sees whole (From_, X-UIDL), far more
 * than "X-UIDL:" and a 70-character UIDL need.
 */
#define MD_BUF_SIZE		(256 * 1024)
/*
 * Lines logged per md_open about message files left out (a symlink, a
 * FIFO, another account's file): enough to see the attack, not a log
 * flood from a directory of them; the rest are counted in one line.
 */
#define MD_NOTES_MAX		10
/*
 * On a filesystem with whole-second times: seconds a Maildir directory
 * must have been unchanged for kpopd.cache to record it (two, for FAT's
 * two-second times).
 */
#define MDIR_SETTLE		2
/* A kpopd.cache line: a file name (NAME_MAX 255) and two numbers. */
#define MD_CACHE_LINE_MAX	320
/*
 * A message or mbox size we accept from a file name (,S= ,W=) or the
 * cache: 2^62, beyond any file, so sums of sizes cannot overflow.
 */
#define MD_SIZE_MAX		(1ULL << 62)
/*
 * Dovecot's dovecot-uidlist (kpopd/mdir-uidlist.c), read when uidl_format
 * names Dovecot: at most this many bytes (Dovecot writes some 60 a
 * message, so 64 MiB is a hundred times MD_MSGS_MAX's worth), lines of at
 * most MD_UIDLIST_LINE_MAX (a file name of NAME_MAX 255 and a few fields
 * of Dovecot's: sizes, a GUID, a saved UIDL), and at most
 * MD_UIDLIST_RECS_MAX records (entries of expunged messages stay until
 * Dovecot rewrites the file, so more than MD_MSGS_MAX).
 */
#define MD_UIDLIST_MAX		(64 * 1024 * 1024)
#define MD_UIDLIST_LINE_MAX	4096
#define MD_UIDLIST_RECS_MAX	(2 * MD_MSGS_MAX)
/*
 * A Dovecot pop3_uidl_format (uidl_format = dovecot:FORMAT): its length,
 * the modifiers one variable may carry (Dovecot's MAX_MODIFIER_COUNT),
 * and the expansion kept before md_uidl_from makes a UIDL of it (longer
 * is no valid UIDL anyway, RFC 1939's 70 characters).
 */
#define MD_UIDFMT_MAX		256
#define MD_UIDFMT_MODS_MAX	10
#define MD_UIDFMT_OUT_MAX	1024
/*
 * Courier's courierpop3dsizelist (kpopd/mdir-courier.c, uidl_format =
 * courier): lines of at most this many bytes (Courier's pop3d keeps 2028
 * of each line; a file name is at most NAME_MAX 255), numbers (Courier's
 * unsigned long UIDs and UIDVALIDITYs) up to 2^64 - 1, whose UIDL
 * "UID<20 digits>-<20 digits>" still fits RFC 1939's 70 characters.  The
 * file's size and record count are bounded as dovecot-uidlist's.
 */
#define MD_COURIER_LINE_MAX	2048
#define MD_COURIER_NUM_MAX	0xffffffffffffffffULL
/*
 * X-UIDL headers (kpopd/mdir-xuidl.c, uidl_format = x-uidl:CUTOFF): the
 * bytes of a message's header read to find the field, in steps of
 * MD_XUIDL_STEP (most headers fit the first).
 */
#define MD_XUIDL_HDR_MAX	(64 * 1024)
#define MD_XUIDL_STEP		(8 * 1024)

/* ---- the kpopd master (kpopd/main.c) and kpopd -t (kpopd/diag.c) ---- */
/* Listening sockets: a few addresses per kind is plenty. */
#define LISTEN_MAX		16
/* Seconds SIGTERM gives sessions before the master stops waiting. */
#define STOP_GRACE		5
/* Clock skew that MIT's default (300 s) would refuse, with margin. */
#define DIAG_SKEW_WARN		60
/* MIT krb5's clockskew when krb5.conf sets none (seconds). */
#define DIAG_CLOCKSKEW		300
/* Host names kpopd -t checks besides the configured one. */
#define DIAG_NAMES_MAX		8
/* Seconds the background Kerberos checks may take (krb5 tries each KDC
   for about a second, a few times) before they are ended. */
#define CHECK_BG_TIMEOUT	60
/*
 * A connection over the session limits on the POP3S or KPOP port is
 * answered by a refusal process (kpopd/refuse.c) after the TLS handshake
 * or the sendauth exchange: at most REFUSE_PROCS_MAX at once (beyond, a
 * plain close), each given REFUSE_TIMEOUT seconds in all, enough for a
 * handshake across the world, short enough that a flood of slow clients
 * holds nothing.
 */
#define REFUSE_PROCS_MAX	4
#define REFUSE_TIMEOUT		5

/* ---- kpopd's control socket and its reports (kpopd/ctl.c, sessions.c) ---- */
/* A kpopctl request line ("kick TARGET"), LF included. */
#define CTL_LINE_MAX		512
/* A kick's target: a user name or an address. */
#define CTL_TARGET_MAX		256
/* kpopctl clients served at once; more are turned away at once. */
#define CTL_CLIENTS_MAX		8
/*
 * Milliseconds a kpopctl client has from connecting to reading its whole
 * reply; one that is slower is dropped (the master never waits on it).
 */
#define CTL_TIMEOUT_MS		10000
/* Reports the master reads from one session per wake-up (fairness). */
#define SESS_READ_BATCH		16
/* Reports read from a session that ended, before its record goes. */
#define SESS_DRAIN_MAX		64
/* A monitor tells the master a session's byte count at most this often. */
#define MON_REPORT_MS		1000
/*
 * Milliseconds a kicked session's monitor waits for the net process to
 * write its last log line and go (it lingers NET_LINGER_MS at most).
 */
#define MON_KICK_WAIT_MS	(NET_LINGER_MS + 2000)
/* Session methods stats keeps apart; others count as "other". */
#define STATS_METHODS_MAX	16

/* ---- kpopd's NAT-safe limits (kpopd/limits.c, penalty.c, pwcache.c) ---- */
/*
 * Client addresses whose failed logins the master remembers; past it the
 * one that failed longest ago is forgotten first.  An address is also
 * forgotten PENALTY_FORGET seconds after its last failure.
 */
#define PENALTY_MAX		4096
#define PENALTY_FORGET		900
/* Failures that still double the delay (2^PENALTY_SHIFT_MAX, no overflow). */
#define PENALTY_SHIFT_MAX	16
/*
 * Password-check cache entries the master keeps (auth_cache_ttl); past it
 * the one that expires first goes.  A key is an HMAC-SHA-256 of the user
 * and the password.  A refused password is kept no longer than
 * PWCACHE_FAIL_TTL seconds, whatever auth_cache_ttl says: a user who
 * just fixed a typo must not wait.
 */
#define PWCACHE_MAX		4096
#define PWCACHE_KEY_LEN		32
#define PWCACHE_FAIL_TTL	5
/*
 * Milliseconds a monitor waits for the master's answer to a question
 * (report.h: a penalty, a cache look-up, the user+address count) before
 * it goes on without one (the fixed auth_fail_delay, no cache, no
 * limit): the master answers within its loop, never blocking.
 */
#define MON_ASK_MS		2000
/* Descriptors the master keeps for itself besides one per session. */
#define MASTER_NOFILE_SPARE	256
/*
 * The master keeps its end of each session's report channel at or above
 * this descriptor, and everything else below it, so that a new session's
 * process lets go of the others' channels with one close_range() rather
 * than one close() per session (at 5,000 sessions, that loop was the
 * largest cost between accept and greeting).
 */
#define MASTER_FD_HIGH		1024
/*
 * Processes the master counts on besides two per session (its monitor
 * and net process): itself, refusal processes, kpopctl's, slack.
 */
#define MASTER_PROC_SPARE	64

/* ---- a kpopd session: the monitor and the net process ---- */
/* Login attempts a session may make before the monitor gives up. */
#define MON_AUTH_TRIES		10
/*
 * An [IN-USE] maildrop is tried again this often, this far apart (1 s in
 * all): the session holding it may be ending.
 */
#define MON_INUSE_TRIES		10
#define MON_INUSE_WAIT_US	100000
/* Snapshot entries per M_SNAP_PART: each at most 8 + 4 + 70 bytes. */
#define MON_SNAP_BATCH		700
/*
 * Milliseconds the net process waits for the monitor's answer: a password
 * check may go to the KDC, which has its own timeouts below this.
 */
#define MW_TIMEOUT		120000
/*
 * How long, and how much, a closing session reads of what the client
 * still sends, so that its last reply is not lost to a reset.
 */
#define NET_LINGER_MS		1000
#define NET_LINGER_BYTES	(64 * 1024)
/* Bytes read from a message per block while streaming RETR. */
#define NET_RETR_BLOCK		(128 * 1024)

/* ---- kpopd's net process sandbox (kpopd/sandbox.c) ---- */
/*
 * RLIMIT_NOFILE of the net process.  It holds stdio, the client socket,
 * the monitor socket and syslog's; the monitor passes it at most
 * IPC_FDS_MAX (32) message descriptors at a time, and it closes one
 * window before asking for the next.  64 leaves room for all of that
 * wherever the inherited descriptors sit.
 */
#define NET_NOFILE_MAX		64
/*
 * RLIMIT_AS of the net process: 256 MiB.  A greeted net process maps
 * about 15 MB (VmSize: the libraries kpopd links, the master's heap it
 * inherits); its largest need is the table of MD_MSGS_MAX sizes and UIDLs
 * (80 bytes each, 80 MB), then the TLS and io buffers: some 100 MB in
 * all, so 256 MiB leaves room to spare.  Not set when built with
 * AddressSanitizer, whose shadow memory alone reserves terabytes.
 */
#define NET_AS_MAX		(256ULL * 1024 * 1024)

/* ---- the PROXY protocol and trusted networks (common/proxy.c, cidr.c) ---- */
/* Networks in one CIDR list (proxy_trusted_networks, trusted_networks). */
#define CIDR_LIST_MAX		64
/* A v1 (text) header, "PROXY" to CRLF: the spec's own bound (s.2.1). */
#define PROXY_V1_MAX		107
/*
 * A v2 (binary) header, its 16 fixed bytes included.  The addresses take
 * at most 216 (AF_UNIX); HAProxy adds TLVs (ALPN, authority, unique id
 * up to 128, SSL details): 1 KiB holds what a send-proxy-v2 sends with
 * room to spare, and bounds what an impostor makes us read.
 */
#define PROXY_V2_MAX		1024
/*
 * How long a monitor waits for the master's word on its client's address
 * from a PROXY header (max_sessions_per_ip): the master answers from its
 * poll loop at once; past this the session is refused [SYS/TEMP].
 */
#define MON_PEER_WAIT_MS	5000

/* ---- the kpop client (kpop/) ---- */
/* A KPOP AP-REP or KRB-ERROR from the server. */
#define POP_KRB_REPLY_MAX	(16 * 1024)
/*
 * Room for the host part of a Maildir name kpop delivers, escaped: a
 * 255-byte name must still hold the time, the token and ",S=<size>".
 */
#define DLV_HOST_PART_MAX	100
/* UIDLs listed more than once that get a log line each; the rest a count. */
#define DUP_WARN_MAX		5
/* A DNS answer (RFC 1035 s.4.2.1 allows more over TCP; SRV sets fit). */
#define LOCATE_ANSWER_MAX	4096
/* default: seconds to wait for an account another kpop is fetching. */
#define LOCK_WAIT_S		0
/* Bytes of a message's header kept for --list (From, Subject). */
#define LIST_HEAD_MAX		4096
/*
 * A header that TOP may send for --list: far past any real one (RFC 5322
 * has no bound; a few hundred KiB is a lot), so that one never ending
 * stops.
 */
#define LIST_TOP_MAX		(1024ULL * 1024)

/*
 * kpop's LMTP/SMTP delivery (kpop/dlv-smtp.c): a reply line, CRLF
 * included (RFC 5321 4.5.3.1.5 says 512; some servers send more text,
 * so twice that), and the lines of one multi-line reply (an EHLO lists
 * a dozen extensions), so that a server cannot keep kpop reading.
 */
#define SMTP_REPLY_MAX		1024
#define SMTP_REPLY_LINES_MAX	100
/* The name kpop gives in LHLO/EHLO (a host name, RFC 1035: 255). */
#define SMTP_HELO_MAX		256

#endif
