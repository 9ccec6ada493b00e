/* SPDX-License-Identifier: MIT */
/*
 * kpopd/limits.c: the master's NAT-safe limits (limits.h): the policy
 * behind the answers sessions.c gives to monitors, over penalty.c's
 * counts and pwcache.c's table, with trusted_networks (trusted.c)
 * exempt from every per-address rule.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "common/log.h"
#include "kpopd/kpopd.h"
#include "kpopd/limits.h"
#include "kpopd/penalty.h"
#include "kpopd/pwcache.h"
#include "kpopd/stats.h"
#include "kpopd/trusted.h"

static const struct kpopd_conf *conf;

void
limits_conf(const struct kpopd_conf *c)
{
	conf = c;
	pwcache_flush();
	if (c->auth_cache_ttl > 0 && pwcache_init() == -1)
		log_err("no random bytes for the password-check cache: it is "
		    "off");
	limits_nofile();
}

void
limits_nofile(void)
{
	struct rlimit rl;
	rlim_t want;

	if (conf == NULL || getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	want = (rlim_t)conf->max_sessions + MASTER_NOFILE_SPARE;
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
