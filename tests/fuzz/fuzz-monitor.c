/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz-monitor.c: libFuzzer entry for the session monitor's
 * request dispatch (kpopd/monitor.c: mon_cmds[]; the handlers there and
 * in mon-auth.c and mon-sasl.c), fed
 * requests as a compromised net process would send them.
 *
 * The monitor runs in-process (kpopd/mon-fuzz.h, built with -DKPOP_FUZZ)
 * and answers on one end of a SEQPACKET pair; the harness drains its
 * replies and closes the descriptors they carry.  Configuration: password
 * logins and SASL (PLAIN, CRAM-MD5) against a sasldb in a scratch
 * directory, holding user "fuzz" with a random password made at start (so
 * no input can know it), APOP on, virtual users served as the account
 * running the harness, Maildirs under the scratch directory, no delays.
 * No KDC: krb5.conf names a realm FUZZ.TEST that has none.
 *
 * The first byte picks the state the input starts in, reached through the
 * real requests:
 *	0  before any login;
 *	1  a SASL exchange in progress (M_SASL_START of CRAM-MD5, or of
 *	   PLAIN without an initial response, by bit 2);
 *	2  KPOP after a good AP-REQ for fuzz@FUZZ.TEST (the principal is
 *	   set through mon_fuzz_new: a real AP-REQ needs a KDC);
 *	3  logged in as fuzz by M_AUTH_PASS (or, by bit 2, SASL PLAIN), a
 *	   Maildir of three messages open (GET_MSG, TOUCH, QUIT; the layer
 *	   requests, with no layer).
 * The rest is requests, each a type byte, a 16-bit little-endian length
 * and that many body bytes (ipc.h encoding: u32, u64 native, strings
 * and bytes as u32 length + bytes), until the monitor ends the session.
 *
 * Checked: no input logs in from states 0 and 1 (nor as anyone but fuzz
 * from state 2); every reply is well-formed and no descriptor is left
 * open once the session is over.  Not reached: GSSAPI and KPOP AP-REQs
 * that verify (no KDC), a negotiated security layer (only GSSAPI has
 * one), the drop to another uid (the harness is not privilege-separated),
 * LOGIN-DELAY.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/ipc.h"
#include "common/log.h"
#include "common/util.h"
#include "fuzz/fuzz-scratch.h"
#include "kpopd/kpopd.h"
#include "kpopd/mon-fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char dir[PATH_MAX], pass[33], mdir[PATH_MAX + 16];
static struct kpopd_conf conf;
static struct session_start ss;
static int sv[2] = { -1, -1 };
static struct ipc_buf rb, wb;

static void
set(const char *key, const char *value)
{
	char line[PATH_MAX + 128], err[256];

	(void)util_snprintf(line, sizeof(line), "%s=%s", key, value);
	if (kconf_set(&conf, line, err, sizeof(err)) == -1) {
		fprintf(stderr, "fuzz-monitor: %s: %s\n", line, err);
		abort();
	}
}

static void
setup(void)
{
	char p[PATH_MAX + 64], cmd[3 * PATH_MAX], host[256];
	unsigned char rnd[16];
	struct passwd *pw;
	FILE *f;

	fz_scratch(dir, sizeof(dir), "fuzz-monitor");
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		abort();
	util_hex(rnd, sizeof(rnd), pass);
	if (gethostname(host, sizeof(host)) == -1)
		abort();
	host[sizeof(host) - 1] = '\0';

	/* A realm without a KDC: names map, nothing verifies. */
	(void)util_snprintf(p, sizeof(p), "%s/krb5.conf", dir);
	if ((f = fopen(p, "w")) == NULL ||
	    fputs("[libdefaults]\n\tdefault_realm = FUZZ.TEST\n", f) < 0 ||
	    fclose(f) != 0)
		abort();
	setenv("KRB5_CONFIG", p, 1);

	(void)util_snprintf(cmd, sizeof(cmd), "echo %s | saslpasswd2 -p -c "
	    "-f '%s/sasldb2' -u '%s' fuzz", pass, dir, host);
	if (system(cmd) != 0) {
		fprintf(stderr, "fuzz-monitor: saslpasswd2 failed\n");
		abort();
	}
	if ((pw = getpwuid(geteuid())) == NULL)
		abort();

	kconf_defaults(&conf);
	set("hostname", host);
	set("password_check", "sasl");
	/* No TLS here: PLAIN, a password login, needs this as USER does. */
	set("allow_plaintext_auth", "yes");
	(void)util_snprintf(p, sizeof(p), "%s/sasldb2", dir);
	set("sasldb", p);
	set("sasl_mechanisms", "PLAIN CRAM-MD5");
	set("apop", "yes");
	set("user_type", "virtual");
	set("virtual_user", pw->pw_name);
	(void)util_snprintf(p, sizeof(p), "maildir:%s/mail/%%u", dir);
	set("maildrop", p);
	(void)util_snprintf(p, sizeof(p), "%s/none.keytab", dir);
	set("keytab", p);
	(void)util_snprintf(p, sizeof(p), "%s/state", dir);
	set("state_dir", p);
	set("auth_fail_delay", "0");
	set("login_delay", "0");
	set("lock_timeout", "1");
	(void)util_snprintf(mdir, sizeof(mdir), "%s/mail/fuzz", dir);
	(void)util_snprintf(p, sizeof(p), "%s/mail", dir);
	if (mkdir(p, 0700) == -1)
		abort();

	ss.conf = &conf;
	ss.tls = NULL;
	ss.kind = LK_POP3;
	ss.fd = -1;
	(void)util_strlcpy(ss.peer, "fuzz", sizeof(ss.peer));
	ss.privsep = 0;
	ss.virt = NULL;
	if (ipc_pair(sv) == -1)
		abort();
	if (getenv("FUZZ_VERBOSE") == NULL)
		log_set_level(LOG_CRIT);
}

/* A fresh Maildir of three messages for fuzz. */
static void
fresh_maildir(void)
{
	static const char *const msgs[] = {
		"new/1700000000.M1P1.fuzz", "Subject: one\n\nbody\n",
		"new/1700000001.M2P2.fuzz", "Subject: two\n\n.\n..\n",
		"cur/1700000002.M3P3.fuzz:2,S", "Subject: three\r\n\r\nx",
	};
	char p[PATH_MAX + 64], cmd[PATH_MAX + 16];
	size_t i;
	int fd;

	(void)util_snprintf(cmd, sizeof(cmd), "rm -rf '%s'", mdir);
	if (system(cmd) != 0 || mkdir(mdir, 0700) == -1)
		abort();
	for (i = 0; i < 3; i++) {
		(void)util_snprintf(p, sizeof(p), "%s/%s", mdir,
		    (const char *[]){ "new", "cur", "tmp" }[i]);
		if (mkdir(p, 0700) == -1)
			abort();
	}
	for (i = 0; i < KP_NELEM(msgs); i += 2) {
		(void)util_snprintf(p, sizeof(p), "%s/%s", mdir, msgs[i]);
		if ((fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
		    util_write_all(fd, msgs[i + 1], strlen(msgs[i + 1]), -1) ==
		    -1 || close(fd) == -1)
			abort();
	}
}

static long
open_fds(void)
{
	struct dirent *de;
	DIR *d;
	long n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	(void)closedir(d);
	return n - 1;
}

/*
 * Take every reply waiting, close the descriptors they carry, and check
 * them.  Returns the type of the first (0 if none); *resultp gets an
 * M_AUTH_RESULT's result.
 */
static uint32_t
drain(uint32_t *resultp)
{
	int fds[IPC_FDS_MAX];
	uint32_t type, first = 0, n, u;
	uint64_t q;
	size_t nfds, i, ok;

	while (ipc_recv_fds(sv[1], &type, &rb, fds, &nfds, IPC_FDS_MAX, 0) ==
	    0) {
		if (first == 0)
			first = type;
		for (i = 0; i < nfds; i++)
			(void)close(fds[i]);
		switch (type) {
		case M_AUTH_RESULT:
			if (ipc_get_u32(&rb, &u) == -1)
				__builtin_trap();
			if (resultp != NULL)
				*resultp = u;
			break;
		case M_MSG:
			/* One descriptor per KP_OK (0) result. */
			if (ipc_get_u32(&rb, &n) == -1 || n > IPC_FDS_MAX)
				__builtin_trap();
			for (i = ok = 0; i < n; i++) {
				const char *s;
				size_t sl;

				if (ipc_get_u32(&rb, &u) == -1 ||
				    ipc_get_u64(&rb, &q) == -1 ||
				    ipc_get_u64(&rb, &q) == -1 ||
				    ipc_get_bytes(&rb, (const void **)&s,
				    &sl) == -1)
					__builtin_trap();
				ok += u == 0;
			}
			if (ok != nfds || ipc_end(&rb) == -1)
				__builtin_trap();
			break;
		default:
			if (nfds != 0)
				__builtin_trap();
			break;
		}
	}
	return first;
}

/* Send one well-formed request of the prologue; returns its verdict. */
static int
request(struct mon *m, uint32_t type)
{
	int r;

	if (wb.bad)
		abort();
	r = mon_fuzz_request(m, type, wb.data, wb.len);
	ipc_reset(&wb);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct mon *m;
	const char *user;
	uint32_t type, result;
	long before;
	size_t blen;
	int start, r = 0, s;

	if (dir[0] == '\0')
		setup();
	if (len == 0)
		return 0;
	start = data[0] & 3;
	before = open_fds();
	m = mon_fuzz_new(&ss, sv[0], start == 2 ? "fuzz@FUZZ.TEST" : NULL);
	if (m == NULL)
		abort();
	ipc_reset(&wb);
	switch (start) {
	case 1:
		ipc_put_str(&wb, data[0] & 4 ? "PLAIN" : "CRAM-MD5");
		ipc_put_u32(&wb, 0);
		ipc_put_bytes(&wb, "", 0);
		ipc_put_u32(&wb, 0);
		ipc_put_str(&wb, "");
		ipc_put_bytes(&wb, "", 0);
		if (request(m, M_SASL_START) == -1 ||
		    drain(NULL) != M_SASL_CONT)
			abort();
		break;
	case 3:
		fresh_maildir();
		if (data[0] & 4) {
			/* authzid "", authcid "fuzz", the password */
			char plain[6 + sizeof(pass)];
			size_t pl = 6 + strlen(pass);

			memcpy(plain, "\0fuzz\0", 6);
			memcpy(plain + 6, pass, strlen(pass));
			ipc_put_str(&wb, "PLAIN");
			ipc_put_u32(&wb, 1);
			ipc_put_bytes(&wb, plain, pl);
			ipc_put_u32(&wb, 0);
			ipc_put_str(&wb, "");
			ipc_put_bytes(&wb, "", 0);
			type = M_SASL_START;
		} else {
			ipc_put_str(&wb, "fuzz");
			ipc_put_str(&wb, pass);
			type = M_AUTH_PASS;
		}
		result = 99;
		if (request(m, type) == -1 ||
		    drain(&result) != M_AUTH_RESULT || result != KP_OK ||
		    mon_fuzz_state(m, &user) != 1) {
			fprintf(stderr, "fuzz-monitor: the login failed\n");
			abort();
		}
		break;
	default:
		break;
	}
	data++;
	len--;
	while (len >= 3 && r == 0) {
		type = data[0];
		blen = (size_t)data[1] | (size_t)data[2] << 8;
		data += 3;
		len -= 3;
		if (blen > len)
			blen = len;
		r = mon_fuzz_request(m, type, data, blen);
		data += blen;
		len -= blen;
		(void)drain(NULL);
		s = mon_fuzz_state(m, &user);
		if (s != 0 && (start < 2 || strcmp(user, "fuzz") != 0))
			__builtin_trap();	/* logged in without the password */
	}
	mon_fuzz_free(m);
	(void)drain(NULL);
	if (open_fds() != before)
		__builtin_trap();	/* a descriptor left open */
	return 0;
}
