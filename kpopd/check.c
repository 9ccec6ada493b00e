/* SPDX-License-Identifier: MIT */
/*
 * kpopd/check.c: one set of checks for a configuration, run at start, on
 * SIGHUP and by kpopd -t (check.h): the file and its -o overrides, the
 * accounts it names, the TLS certificate and key, and where Kerberos is
 * used the keytab (diag.c).  What needs the network (the KDC, DNS) runs
 * only in kpopd -t or, for a running kpopd, in a process of its own that
 * logs what it finds, so neither a start nor a reload waits on a KDC.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/tls.h"
#include "kpopd/check.h"
#include "kpopd/kpopd.h"
#include "kpopd/title.h"

int
check_uses_kerberos(const struct kpopd_conf *c)
{
	return strcmp(c->password_check, "krb5") == 0 ||
	    c->listen_kpop[0] != '\0' ||
	    strcasestr(c->sasl_mechanisms, "GSSAPI") != NULL;
}

/* The server's TLS context, or NULL (none configured, or err set). */
static SSL_CTX *
load_tls(const struct kpopd_conf *c, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if (c->tls_cert == NULL)
		return NULL;
	if ((ctx = tls_server_ctx(c->tls_cert, c->tls_key, err, errlen)) ==
	    NULL)
		return NULL;
	/* Some SASL clients bind only to tls-unique, which 1.3 lacks. */
	if (strcmp(c->tls_max_version, "1.2") == 0 &&
	    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) != 1) {
		util_snprintf(err, errlen, "cannot limit TLS to 1.2");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int
check_load(struct kpopd_conf *c, const char *path, int path_given,
    char **ov, int nov, int flags, diag_say_fn *say, void *arg,
    SSL_CTX **tlsp, char *err, size_t errlen)
{
	int warnings = 0;

	*tlsp = NULL;
	if (kconf_load(c, path, path_given, ov, nov, err, errlen) == -1 ||
	    kconf_check_system(c, err, errlen) == -1)
		return -1;
	if (c->tls_cert != NULL &&
	    (*tlsp = load_tls(c, err, errlen)) == NULL)
		return -1;
	if (check_uses_kerberos(c) &&
	    diag_kerberos(c, flags, say, arg, &warnings, err, errlen) > 0) {
		SSL_CTX_free(*tlsp);
		*tlsp = NULL;
		return -1;
	}
	return warnings;
}

void
check_print_say(void *arg, enum diag_level level, const char *msg)
{
	(void)arg;
	printf("kpopd: %s%s\n", level == DIAG_ERROR ? "error: " :
	    level == DIAG_WARNING ? "warning: " : "", msg);
}

/* The background checks' process while it runs, else -1. */
static pid_t	check_pid = -1;
/* In that process: its lines say so. */
static const char *check_tag = "";

void
check_log_say(void *arg, enum diag_level level, const char *msg)
{
	switch (level) {
	case DIAG_ERROR:
		if (arg != NULL)
			log_err("%s%s", check_tag, msg);
		break;
	case DIAG_WARNING:
		log_warn("%s%s", check_tag, msg);
		break;
	case DIAG_NOTE:
		log_debug("%s%s", check_tag, msg);
		break;
	}
}

int
check_reaped(pid_t pid, int st)
{
	if (pid != check_pid)
		return 0;
	check_pid = -1;
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
		log_warn("the Kerberos checks did not finish within %d s",
		    CHECK_BG_TIMEOUT);
	else if (WIFSIGNALED(st))
		log_warn("the Kerberos checks ended by signal %d",
		    WTERMSIG(st));
	return 1;
}

void
check_background(const struct kpopd_conf *c, void (*release)(void))
{
	char err[ERR_MSG_MAX];
	int warnings, errors;
	pid_t pid;

	if (!check_uses_kerberos(c) || check_pid != -1)
		return;
	switch ((pid = fork())) {
	case -1:
		log_warn("cannot start the Kerberos checks: %s",
		    strerror(errno));
		return;
	case 0:
		break;
	default:
		check_pid = pid;
		return;
	}
	release();	/* no listener stays open here */
	alarm(CHECK_BG_TIMEOUT);
	check_tag = "Kerberos check: ";
	title_set("kpopd: checking Kerberos");
	errors = diag_kerberos(c, DIAG_F_NETWORK, check_log_say, err,
	    &warnings, err, sizeof(err));
	if (errors > 0 || warnings > 0)
		log_notice("the Kerberos checks found %d error(s) and %d "
		    "warning(s) (kpopd -t says more)", errors, warnings);
	_exit(0);
}
