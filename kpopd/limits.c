/* SPDX-License-Identifier: MIT */
/*
 * kpopd/limits.c: the master's NAT-safe limits (limits.h): the policy
 * behind the answers sessions.c gives to monitors, over penalty.c's
 * counts and pwcache.c's table, with trusted_networks (trusted.c)
 * exempt from every per-address rule; and whether max_sessions fits the
 * system's descriptor and process limits.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "kpopd/kpopd.h"
#include "kpopd/limits.h"
#include "kpopd/penalty.h"
#include "kpopd/pwcache.h"
#include "kpopd/stats.h"
#include "kpopd/trusted.h"

static const struct kpopd_conf *conf;

static void limits_procs(void);

void
limits_conf(const struct kpopd_conf *c)
{
	conf = c;
	pwcache_flush();
	if (c->auth_cache_ttl > 0 && pwcache_init() == -1)
		log_err("no random bytes for the password-check cache: it is "
		    "off");
	limits_nofile();
	limits_procs();
}

/*
 * The first line of a small file as a number: 0, or -1 (missing,
 * unreadable, or not a number, such as the cgroup's "max").
 */
static int
file_number(const char *path, unsigned long long *v)
{
	char buf[64];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return util_parse_uint(buf, strcspn(buf, "\n"), ULLONG_MAX, v);
}

/* The pids.max of kpopd's own cgroup (cgroup v2: systemd's TasksMax=). */
static int
cgroup_pids_max(unsigned long long *v)
{
	char line[PATH_MAX], path[PATH_MAX + 64];
	FILE *f;
	int r = -1;

	if ((f = fopen("/proc/self/cgroup", "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "0::/", 4) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		util_snprintf(path, sizeof(path), "/sys/fs/cgroup%s/pids.max",
		    line + 3);
		r = file_number(path, v);
		break;
	}
	fclose(f);
	return r;
}

/*
 * Each session is two processes: warn when max_sessions of them would
 * not fit under the kernel's pid_max, the cgroup's pids.max or (not as
 * root) RLIMIT_NPROC.  Nothing here can raise them; the admin can.
 */
static void
limits_procs(void)
{
	unsigned long long want, have;
	struct rlimit rl;

	if (conf == NULL)
		return;
	want = 2ULL * conf->max_sessions + MASTER_PROC_SPARE;
	if (file_number("/proc/sys/kernel/pid_max", &have) == 0 &&
	    have < want)
		log_warn("max_sessions = %u needs up to %llu processes (two a "
		    "session), and kernel.pid_max is %llu: raise it (sysctl "
		    "kernel.pid_max)", conf->max_sessions, want, have);
	if (cgroup_pids_max(&have) == 0 && have < want)
		log_warn("max_sessions = %u needs up to %llu processes (two a "
		    "session), and this cgroup's pids.max is %llu: raise it "
		    "(TasksMax= in systemd)", conf->max_sessions, want, have);
	if (geteuid() != 0 && getrlimit(RLIMIT_NPROC, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
		log_warn("max_sessions = %u needs up to %llu processes (two a "
		    "session), and the process limit is %llu: raise it "
		    "(LimitNPROC= in systemd, ulimit -u)", conf->max_sessions,
		    want, (unsigned long long)rl.rlim_cur);
}

void
limits_nofile(void)
{
	struct rlimit rl;
	rlim_t want;

	if (conf == NULL || getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	want = (rlim_t)MASTER_FD_HIGH + conf->max_sessions +
	    MASTER_NOFILE_SPARE;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= want)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		log_warn("max_sessions = %u needs %llu descriptors, and the "
		    "hard limit is %llu: raise it (LimitNOFILE= in systemd, "
		    "ulimit -Hn)", conf->max_sessions,
		    (unsigned long long)want,
		    (unsigned long long)rl.rlim_max);
		want = rl.rlim_max;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("cannot raise the descriptor limit to %llu: %s",
		    (unsigned long long)want, strerror(errno));
}

unsigned int
limits_failed(const char *peer)
{
	unsigned int n, ms;

	if (conf == NULL)
		return 0;
	if (trusted_peer(conf, peer))
		return conf->auth_fail_delay * 1000;
	n = penalty_fail(peer, util_now_ms());
	ms = penalty_delay_ms(conf->auth_fail_delay, conf->auth_fail_delay_max,
	    n);
	if (ms > conf->auth_fail_delay * 1000) {
		stats_penalty();
		log_info("%s: %u failed logins in a row, answered after %u.%u "
		    "s", peer, n, ms / 1000, ms % 1000 / 100);
	}
	return ms;
}

void
limits_login_ok(const char *peer, const void *key, size_t keylen)
{
	int64_t now = util_now_ms();

	penalty_clear(peer);
	if (conf != NULL && conf->auth_cache_ttl > 0 &&
	    keylen == PWCACHE_KEY_LEN)
		pwcache_put(key, 1, (int64_t)conf->auth_cache_ttl * 1000, now);
}

int
limits_pw_lookup(const void *key, size_t keylen)
{
	int r;

	if (conf == NULL || conf->auth_cache_ttl == 0 ||
	    keylen != PWCACHE_KEY_LEN)
		return PWC_NONE;
	r = pwcache_lookup(key, util_now_ms());
	stats_pwcache(r);
	return r;
}

void
limits_pw_bad(const void *key, size_t keylen)
{
	unsigned int ttl;

	if (conf == NULL || conf->auth_cache_ttl == 0 ||
	    keylen != PWCACHE_KEY_LEN)
		return;
	ttl = conf->auth_cache_ttl < PWCACHE_FAIL_TTL ?
	    conf->auth_cache_ttl : PWCACHE_FAIL_TTL;
	pwcache_put(key, 0, (int64_t)ttl * 1000, util_now_ms());
}

int
limits_peer_ok(const char *peer, unsigned int others, unsigned int per_ip)
{
	return others < per_ip || (conf != NULL && trusted_peer(conf, peer));
}

int
limits_userip_ok(const char *peer, unsigned int others)
{
	if (conf == NULL || others < conf->max_sessions_per_user_ip ||
	    trusted_peer(conf, peer))
		return 1;
	stats_refused(STATS_MAX_USER_IP);
	return 0;
}
