/* SPDX-License-Identifier: MIT */
/*
 * kpopd/stats.c: the master's counters (stats.h) and their OpenMetrics
 * text (https://openmetrics.io: "# TYPE" lines, counters as _total
 * samples, a histogram as cumulative _bucket{le=...} samples with _sum and
 * _count, "# EOF" at the end).  Every name and label value written here
 * is either fixed or checked by stats_method_ok, so nothing a session
 * reports can break the format.
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include "common/limits.h"
#include "common/status.h"
#include "kpopd/stats.h"

/* The results a login is counted under, by enum kp_status. */
enum { R_OK, R_FAILED, R_INUSE, R_DELAY, R_ERROR, R_RESULTS };
static const char *const result_names[R_RESULTS] = {
	"ok", "failed", "in_use", "delay", "error"
};
static const char *const refusal_names[STATS_REFUSALS] = {
	"in_use", "max_sessions", "max_sessions_per_ip",
	"max_sessions_per_user_ip", "idle_dropped"
};
static const char *const cache_names[] = { "miss", "hit", "hit_failed" };

/* The histogram's upper bounds in seconds; +Inf follows. */
static const unsigned int bounds[] = {
	1, 5, 10, 30, 60, 300, 600, 1800, 3600, 14400
};
#define NBOUNDS	(sizeof(bounds) / sizeof(bounds[0]))

/* A method name: as RFC 4422 mechanism names, at most 20 characters. */
#define METHOD_MAX	21

static struct {
	uint64_t	started;
	uint64_t	bytes;
	uint64_t	refused[STATS_REFUSALS];
	uint64_t	penalties;
	uint64_t	cache[3];	/* by cache_names */
	size_t		nmethods;
	struct {
		char		name[METHOD_MAX];
		uint64_t	n[R_RESULTS];
	} methods[STATS_METHODS_MAX];
	uint64_t	ended;
	uint64_t	ended_ms;
	uint64_t	buckets[NBOUNDS];	/* not cumulative here */
} st;

void
stats_session_start(void)
{
	st.started++;
}

void
stats_session_end(int64_t ms)
{
	size_t i;

	if (ms < 0)
		ms = 0;
	st.ended++;
	st.ended_ms += (uint64_t)ms;
	for (i = 0; i < NBOUNDS; i++) {
		if ((uint64_t)ms <= (uint64_t)bounds[i] * 1000) {
			st.buckets[i]++;
			break;
		}
	}
}

int
stats_method_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i == METHOD_MAX - 1 || !((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		    s[i] == '-'))
			return 0;
	return i > 0;
}

void
stats_login(const char *method, int result)
{
	size_t i;
	int r;

	r = result == KP_OK ? R_OK : result == KP_AUTH ? R_FAILED :
	    result == KP_INUSE ? R_INUSE : result == KP_DELAY ? R_DELAY :
	    R_ERROR;
	if (!stats_method_ok(method))
		method = "other";
	for (i = 0; i < st.nmethods; i++)
		if (strcmp(st.methods[i].name, method) == 0)
			break;
	if (i == st.nmethods) {
		/* The last slot is kept for "other". */
		if (st.nmethods == STATS_METHODS_MAX - 1 &&
		    strcmp(method, "other") != 0)
			return stats_login("other", result);
		util_strlcpy(st.methods[i].name, method, METHOD_MAX);
		st.nmethods++;
	}
	st.methods[i].n[r]++;
	if (r == R_INUSE)
		stats_refused(STATS_INUSE);
}

void
stats_bytes(uint64_t n)
{
	st.bytes += n;
}

void
stats_refused(enum stats_refusal why)
{
	if (why < STATS_REFUSALS)
		st.refused[why]++;
}

void
stats_penalty(void)
{
	st.penalties++;
}

void
stats_pwcache(int result)
{
	if (result >= 0 && (size_t)result < KP_NELEM(st.cache))
		st.cache[result]++;
}

int
stats_print(FILE *f, size_t sessions)
{
	uint64_t cum = 0;
	size_t i, r;

	fprintf(f, "# TYPE kpopd_sessions gauge\n"
	    "# HELP kpopd_sessions Sessions running now.\n"
	    "kpopd_sessions %zu\n", sessions);
	fprintf(f, "# TYPE kpopd_sessions_started counter\n"
	    "# HELP kpopd_sessions_started Sessions started (connections "
	    "accepted within the limits).\n"
	    "kpopd_sessions_started_total %" PRIu64 "\n", st.started);
	fprintf(f, "# TYPE kpopd_logins counter\n"
	    "# HELP kpopd_logins Logins answered, by method and result.\n");
	for (i = 0; i < st.nmethods; i++)
		for (r = 0; r < R_RESULTS; r++)
			if (st.methods[i].n[r] > 0)
				fprintf(f, "kpopd_logins_total{method=\"%s\","
				    "result=\"%s\"} %" PRIu64 "\n",
				    st.methods[i].name, result_names[r],
				    st.methods[i].n[r]);
	fprintf(f, "# TYPE kpopd_sent_bytes counter\n"
	    "# UNIT kpopd_sent_bytes bytes\n"
	    "# HELP kpopd_sent_bytes Bytes sent to clients (POP3, inside "
	    "any TLS).\n"
	    "kpopd_sent_bytes_total %" PRIu64 "\n", st.bytes);
	fprintf(f, "# TYPE kpopd_refusals counter\n"
	    "# HELP kpopd_refusals Connections over a session limit (or "
	    "idle ones dropped for new ones), and logins refused "
	    "[IN-USE].\n");
	for (r = 0; r < STATS_REFUSALS; r++)
		fprintf(f, "kpopd_refusals_total{reason=\"%s\"} %" PRIu64
		    "\n", refusal_names[r], st.refused[r]);
	fprintf(f, "# TYPE kpopd_auth_penalties counter\n"
	    "# HELP kpopd_auth_penalties Refused logins answered after more "
	    "than auth_fail_delay (the failed-login penalty).\n"
	    "kpopd_auth_penalties_total %" PRIu64 "\n", st.penalties);
	fprintf(f, "# TYPE kpopd_auth_cache counter\n"
	    "# HELP kpopd_auth_cache Password-check cache look-ups "
	    "(auth_cache_ttl), by result.\n");
	for (r = 0; r < KP_NELEM(st.cache); r++)
		fprintf(f, "kpopd_auth_cache_total{result=\"%s\"} %" PRIu64
		    "\n", cache_names[r], st.cache[r]);
	fprintf(f, "# TYPE kpopd_session_duration_seconds histogram\n"
	    "# UNIT kpopd_session_duration_seconds seconds\n"
	    "# HELP kpopd_session_duration_seconds How long sessions "
	    "lasted, from the connection to the end of its processes.\n");
	for (i = 0; i < NBOUNDS; i++) {
		cum += st.buckets[i];
		fprintf(f, "kpopd_session_duration_seconds_bucket{le=\"%u.0\"} "
		    "%" PRIu64 "\n", bounds[i], cum);
	}
	fprintf(f, "kpopd_session_duration_seconds_bucket{le=\"+Inf\"} %"
	    PRIu64 "\n"
	    "kpopd_session_duration_seconds_sum %" PRIu64 ".%03" PRIu64 "\n"
	    "kpopd_session_duration_seconds_count %" PRIu64 "\n"
	    "# EOF\n", st.ended, st.ended_ms / 1000, st.ended_ms % 1000,
	    st.ended);
	return ferror(f) ? -1 : 0;
}
