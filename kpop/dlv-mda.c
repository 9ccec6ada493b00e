/* SPDX-License-Identifier: MIT */
/*
 * kpop/dlv-mda.c: delivery through an MDA (deliver.h, dlv-int.h):
 * /bin/sh -c COMMAND in its own process group, reading a pipe, with
 * KPOP_UIDL, KPOP_TOKEN, KPOP_SENDER and KPOP_ACCOUNT in its
 * environment.  Its exit status decides; an abort kills it before it
 * sees the end of its input.
 */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "kpop/deliver.h"
#include "kpop/dlv-int.h"

extern char **environ;

/*
 * The MDA's environment: ours less any KPOP_* variable we set, plus
 * those info gives.  Returns a vector whose strings from index *own on
 * are ours to free, or NULL (no memory).
 */
static char **
dlv_mda_env(const struct dlv_info *info, size_t *own)
{
	const char *const names[] = { "KPOP_UIDL", "KPOP_TOKEN",
	    "KPOP_SENDER", "KPOP_ACCOUNT" };
	const char *const vals[] = { info->uidl, info->token, info->sender,
	    info->account };
	char **env;
	size_t n = 0, i, j, o = 0, len;

	while (environ != NULL && environ[n] != NULL)
		n++;
	if ((env = calloc(n + KP_NELEM(names) + 1, sizeof(*env))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		for (j = 0; j < KP_NELEM(names); j++) {
			len = strlen(names[j]);
			if (strncmp(environ[i], names[j], len) == 0 &&
			    environ[i][len] == '=')
				break;
		}
		if (j == KP_NELEM(names))
			env[o++] = environ[i];
	}
	*own = o;
	for (j = 0; j < KP_NELEM(names); j++) {
		if (vals[j] == NULL)
			continue;
		len = strlen(names[j]) + strlen(vals[j]) + 2;
		if ((env[o] = malloc(len)) == NULL)
			break;
		(void)util_snprintf(env[o++], len, "%s=%s", names[j], vals[j]);
	}
	if (j < KP_NELEM(names)) {
		while (o > *own)
			free(env[--o]);
		free(env);
		return NULL;
	}
	return env;
}

static void
dlv_mda_env_free(char **env, size_t own)
{
	size_t i;

	for (i = own; env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

/*
 * The child: stdin from the pipe, stdout to our stderr, no other
 * descriptor of ours (the server connection is none of its business),
 * then the shell.
 */
static void __attribute__((__noreturn__))
dlv_mda_child(int in, const char *cmd, char **env)
{
	char *const argv[] = { (char *)(uintptr_t)"sh",
	    (char *)(uintptr_t)"-c", (char *)(uintptr_t)cmd, NULL };
	sigset_t none;

	(void)setpgid(0, 0);
	if ((in != STDIN_FILENO && dup2(in, STDIN_FILENO) == -1) ||
	    (in == STDIN_FILENO && fcntl(in, F_SETFD, 0) == -1) ||
	    dup2(STDERR_FILENO, STDOUT_FILENO) == -1)
		_exit(DLV_EX_TEMPFAIL);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || \
    (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	closefrom(STDERR_FILENO + 1);
#endif
	(void)signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	execve("/bin/sh", argv, env);
	_exit(127);
}

/* Start the command with a pipe on its standard input. */
static int
dlv_mda_open(struct dlv *h, const struct dlv_info *info)
{
	char **env;
	size_t own;
	int p[2], e;

	h->pid = -1;
	if ((env = dlv_mda_env(info, &own)) == NULL)
		return dlv_io_fail(h, KP_TEMP, "mda %s: out of memory",
		    h->w.arg);
	if (pipe2(p, O_CLOEXEC) == -1) {
		e = errno;
		dlv_mda_env_free(env, own);
		return dlv_io_fail(h, KP_TEMP, "mda %s: cannot make a pipe "
		    "to it: %s", h->w.arg, strerror(e));
	}
	if ((h->pid = fork()) == -1) {
		e = errno;
		(void)close(p[0]);
		(void)close(p[1]);
		dlv_mda_env_free(env, own);
		return dlv_io_fail(h, KP_TEMP, "mda %s: fork: %s", h->w.arg,
		    strerror(e));
	}
	if (h->pid == 0)
		dlv_mda_child(p[0], h->w.arg, env);
	/* Both sides set the group, so a kill right away finds it. */
	(void)setpgid(h->pid, h->pid);
	(void)close(p[0]);
	h->fd = p[1];
	dlv_mda_env_free(env, own);
	return KP_OK;
}

/* Wait for the MDA; its wait status, or -1 (errno). */
static int
dlv_mda_reap(struct dlv *h)
{
	int ws;

	while (waitpid(h->pid, &ws, 0) == -1)
		if (errno != EINTR)
			return -1;
	h->pid = -1;
	return ws;
}

/*
 * Close the MDA's input and judge its exit: 0 delivered (unless it
 * stopped reading early), EX_TEMPFAIL or a signal temporary, anything
 * else permanent.
 */
static int
dlv_mda_finish(struct dlv *h)
{
	char was[DLV_ERR_MAX];
	int ws, e, code;

	(void)util_strlcpy(was, h->err, sizeof(was));
	if (h->fd != -1)
		(void)close(h->fd);
	h->fd = -1;
	if ((ws = dlv_mda_reap(h)) == -1) {
		e = errno;
		h->status = KP_OK;
		return dlv_io_fail(h, KP_TEMP, "mda %s: wait: %s", h->w.arg,
		    strerror(e));
	}
	h->status = KP_OK;
	if (WIFSIGNALED(ws))
		return dlv_io_fail(h, KP_TEMP, "mda %s: killed by signal "
		    "%d (%s)", h->w.arg, WTERMSIG(ws),
		    strsignal(WTERMSIG(ws)));
	code = WEXITSTATUS(ws);
	if (code == DLV_EX_TEMPFAIL)
		return dlv_io_fail(h, KP_TEMP, "mda %s: exited with status %d "
		    "(temporary failure)", h->w.arg, code);
	if (code != 0)
		return dlv_io_fail(h, KP_PERM, "mda %s: exited with status "
		    "%d%s", h->w.arg, code, code == 127 ?
		    " (command not found?)" : "");
	if (was[0] != '\0')
		return dlv_io_fail(h, KP_TEMP, "mda %s: exited 0 without "
		    "reading the whole message (%s)", h->w.arg, was);
	return KP_OK;
}

/* Kill the MDA's process group before it sees EOF, and reap it. */
static void
dlv_mda_kill(struct dlv *h)
{
	if (h->pid <= 0)
		return;
	if (kill(-h->pid, SIGKILL) == -1)
		(void)kill(h->pid, SIGKILL);
	(void)dlv_mda_reap(h);
}

/* The MDA decides, even after a failure (which it may not have seen). */
static int
dlv_mda_done(struct dlv *h, int status)
{
	(void)status;
	return dlv_mda_finish(h);
}

const struct dlv_ops dlv_mda_ops = {
	.kind = DLV_MDA,
	.label = "MDA pipe",
	.pipe = 1,
	.open = dlv_mda_open,
	.prepare = dlv_io_flush,
	.commit = dlv_mda_done,
	.release = dlv_mda_kill,
};
