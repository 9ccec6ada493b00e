/* SPDX-License-Identifier: MIT */
/*
 * kpopd/sandbox.c: the net process's last confinement.  After the chroot,
 * the change to unpriv_user and the set-up that needs files (the TLS
 * context, a POP3S handshake, KPOP's sendauth), the net process only
 * talks: to the client, to the monitor, to syslog.  sandbox_net() then
 * sets resource limits (no new files, no processes, no core, a bounded
 * address space) and loads a seccomp filter (libseccomp) that allows the
 * system calls a session makes and kills the process on any other; the
 * monitor reaps it and logs the kill (monitor.c).  kpopd.conf(5),
 * net_sandbox, says what an administrator sees.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/util.h"
#include "kpopd/kpopd.h"

/* AddressSanitizer reserves terabytes of address space: no RLIMIT_AS. */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ASAN	1
#endif
#endif

/*
 * What a session does after the greeting (traced through the end-to-end
 * tests: plain, STLS, POP3S, SASL security layers, KPOP, RETR and TOP,
 * timeouts): read and write its sockets (send and recv with flags,
 * descriptors from the monitor), wait in poll, read message files with
 * pread, allocate, tell the time, draw TLS randomness, log (getpid;
 * syslog's datagram socket), exit.  Not even abort()'s signal to itself
 * (tgkill): a rule naming our own pid would need a filter built per
 * process, so an abort shows up as a sandbox kill.  Names the running
 * architecture lacks (poll on arm64) are skipped.
 */
static const char *const sandbox_allow[] = {
	"read", "write", "pread64", "recvfrom", "recvmsg", "sendto",
	"sendmsg", "shutdown", "poll", "ppoll", "close",
	"brk", "mmap", "munmap", "mremap", "madvise",
	"clock_gettime", "clock_gettime64", "gettimeofday", "time",
	"getrandom", "getpid", "exit", "exit_group",
#ifdef SANDBOX_ASAN
	/* The sanitizers' runtime: its allocator, stacks and locks. */
	"sigaltstack", "mprotect", "sched_yield", "futex",
#endif
};

/*
 * Calls a library makes on a path that fails harmlessly in the empty
 * chroot: a lazy open of a time zone or configuration file, syslog(3)
 * reconnecting after syslogd restarted.  Refused with EACCES rather than
 * killed, so such a path costs a log line, not the session; none of them
 * reaches anything (there is nothing to open, no socket to make).
 */
static const char *const sandbox_refuse[] = {
	"open", "openat", "openat2", "socket", "readlink", "readlinkat",
	"access", "faccessat", "faccessat2", "stat", "lstat", "newfstatat",
	"statx",
#ifdef SANDBOX_ASAN
	/*
	 * A sanitizer's report reads /proc and runs llvm-symbolizer; refused,
	 * it prints raw addresses instead.
	 */
	"clone", "clone3", "fork", "vfork", "prctl", "sched_getaffinity",
	"getrlimit", "prlimit64",
#endif
};

/* Add one rule per name in names[0 .. n - 1]; 0 or -1 with err set. */
static int
sandbox_rules(scmp_filter_ctx f, uint32_t action, const char *const *names,
    size_t n, char *err, size_t errlen)
{
	size_t i;
	int nr, r;

	for (i = 0; i < n; i++) {
		if ((nr = seccomp_syscall_resolve_name(names[i])) < 0)
			continue;	/* not on this architecture */
		if ((r = seccomp_rule_add(f, action, nr, 0)) < 0) {
			util_snprintf(err, errlen, "seccomp rule for %s: %s",
			    names[i], strerror(-r));
			return -1;
		}
	}
	return 0;
}

/* Set both limits of resource to v; 0 or -1 with err set. */
static int
sandbox_limit(int resource, const char *name, rlim_t v, char *err,
    size_t errlen)
{
	struct rlimit rl;

	rl.rlim_cur = rl.rlim_max = v;
	if (setrlimit(resource, &rl) == -1) {
		util_snprintf(err, errlen, "cannot set the limit %s: %s", name,
		    strerror(errno));
		return -1;
	}
	return 0;
}

#ifdef KPOP_TEST_HOOKS
/*
 * Tests only (tests/kpopd/kpopd-hooks, never kpopd): SIGUSR1 makes the
 * net process call execve(), which the filter forbids.
 */
static void
sandbox_test_violate(int sig)
{
	static char *const argv[] = { NULL };

	(void)sig;
	(void)syscall(SYS_execve, "/nonexistent/kpopd-sandbox-test", argv,
	    argv);
	_exit(70);
}
#endif

/*
 * The filter as BPF, built once by sandbox_prepare().  Building it takes
 * libseccomp about a millisecond of CPU (rule tree, BPF generation), as
 * much as the rest of a short session; loading the ready program costs
 * the kernel a fraction of that.
 */
static struct sock_filter	sandbox_insns[BPF_MAXINSNS];
static unsigned short		sandbox_ninsns;

int
sandbox_prepare(char *err, size_t errlen)
{
	scmp_filter_ctx f;
	ssize_t got;
	int fd = -1, r, rc = -1;

	if (sandbox_ninsns > 0)
		return 0;
	if ((f = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
		util_snprintf(err, errlen, "cannot build the seccomp filter");
		return -1;
	}
	/* Another ABI (i386 system calls from x86-64) is no way around. */
	if ((r = seccomp_attr_set(f, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) < 0) {
		util_snprintf(err, errlen, "cannot build the seccomp filter: "
		    "%s", strerror(-r));
		goto out;
	}
	if (sandbox_rules(f, SCMP_ACT_ALLOW, sandbox_allow,
	    KP_NELEM(sandbox_allow), err, errlen) == -1 ||
	    sandbox_rules(f, SCMP_ACT_ERRNO(EACCES), sandbox_refuse,
	    KP_NELEM(sandbox_refuse), err, errlen) == -1)
		goto out;
	if ((fd = memfd_create("kpopd-seccomp", MFD_CLOEXEC)) == -1) {
		util_snprintf(err, errlen, "no file to build the seccomp "
		    "filter in: %s", strerror(errno));
		goto out;
	}
	if ((r = seccomp_export_bpf(f, fd)) < 0) {
		util_snprintf(err, errlen, "cannot write the seccomp filter: "
		    "%s", strerror(-r));
		goto out;
	}
	got = pread(fd, sandbox_insns, sizeof(sandbox_insns), 0);
	if (got <= 0 || (size_t)got % sizeof(sandbox_insns[0]) != 0 ||
	    (size_t)got == sizeof(sandbox_insns)) {
		util_snprintf(err, errlen, "the seccomp filter did not come "
		    "back whole (%zd bytes)", got);
		goto out;
	}
	sandbox_ninsns = (unsigned short)((size_t)got /
	    sizeof(sandbox_insns[0]));
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	seccomp_release(f);
	return rc;
}

int
sandbox_net(const struct kpopd_conf *c, char *err, size_t errlen)
{
	struct sock_fprog prog;
	struct stat st;

#ifdef KPOP_TEST_HOOKS
	signal(SIGUSR1, sandbox_test_violate);
#endif
	if (!c->net_sandbox)
		return 0;
	if (sandbox_prepare(err, errlen) == -1)
		return -1;
	if (sandbox_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", NET_NOFILE_MAX,
	    err, errlen) == -1 ||
	    sandbox_limit(RLIMIT_NPROC, "RLIMIT_NPROC", 0, err, errlen) == -1 ||
	    sandbox_limit(RLIMIT_CORE, "RLIMIT_CORE", 0, err, errlen) == -1)
		return -1;
#ifndef SANDBOX_ASAN
	if (sandbox_limit(RLIMIT_AS, "RLIMIT_AS", (rlim_t)NET_AS_MAX, err,
	    errlen) == -1)
		return -1;
#endif
	/*
	 * No file grows, except the log when it is a file we append to
	 * (kpopd -f 2>FILE): there the log line would cost SIGXFSZ.
	 */
	if ((fstat(STDERR_FILENO, &st) == -1 || !S_ISREG(st.st_mode)) &&
	    sandbox_limit(RLIMIT_FSIZE, "RLIMIT_FSIZE", 0, err, errlen) == -1)
		return -1;
	prog.len = sandbox_ninsns;
	prog.filter = sandbox_insns;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) == -1 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0L, 0L) == -1) {
		util_snprintf(err, errlen, "cannot load the seccomp filter: "
		    "%s", strerror(errno));
		return -1;
	}
	return 0;
}
