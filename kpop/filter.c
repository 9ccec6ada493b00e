/* SPDX-License-Identifier: MIT */
/*
 * kpop/filter.c: the filter setting (kpop.h), as mpop has it: before a
 * message is fetched its header (TOP n 0) is piped to /bin/sh -c CMD,
 * with %F (the envelope sender, made safe) and %S (the size) filled in,
 * and the command's exit code says deliver (0), delete unfetched (1),
 * or skip, leaving it on the server (2); 3 or more, or a signal, is an
 * error for that message, which stays on the server.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/util.h"
#include "kpop/client.h"
#include "kpop/hdr.h"
#include "kpop/kpop.h"

/* The exit codes of a filter (mpop's). */
#define FLT_DELIVER	0
#define FLT_DELETE	1
#define FLT_SKIP	2
#define FLT_ERROR	(-1)

/* The command with %F and %S replaced (malloc'd), or NULL. */
static char *
filter_expand(const char *cmd, const char *sender, unsigned long long size)
{
	char f[DLV_SENDER_MAX], s[32], *out;
	size_t n = 1, o = 0, i;

	hdr_filter_sender(sender, f, sizeof(f));
	(void)util_snprintf(s, sizeof(s), "%llu", size);
	for (i = 0; cmd[i] != '\0'; i++)
		n += cmd[i] == '%' && cmd[i + 1] == 'F' ? strlen(f) :
		    cmd[i] == '%' && cmd[i + 1] == 'S' ? strlen(s) : 1;
	if ((out = malloc(n)) == NULL)
		return NULL;
	for (i = 0; cmd[i] != '\0'; i++) {
		const char *v = NULL;

		if (cmd[i] == '%' && cmd[i + 1] == 'F')
			v = f;
		else if (cmd[i] == '%' && cmd[i + 1] == 'S')
			v = s;
		if (v == NULL) {
			out[o++] = cmd[i];
			continue;
		}
		memcpy(out + o, v, strlen(v));
		o += strlen(v);
		i++;
	}
	out[o] = '\0';
	return out;
}

/*
 * Run the filter on one header: its verdict (FLT_*), or FLT_ERROR with
 * err set.  The command's output goes to our standard error.
 */
static int
filter_run(const char *cmd, const char *hdr, size_t len,
    const char *sender, unsigned long long size, char *err, size_t errlen)
{
	char *line;
	size_t tail = 0;
	int fds[2], status, e;
	pid_t pid;

	if ((line = filter_expand(cmd, sender, size)) == NULL) {
		util_snprintf(err, errlen, "filter: out of memory");
		return FLT_ERROR;
	}
	if (pipe(fds) == -1 || (pid = fork()) == -1) {
		util_snprintf(err, errlen, "filter: %s", strerror(errno));
		free(line);
		return FLT_ERROR;
	}
	if (pid == 0) {
		(void)signal(SIGPIPE, SIG_DFL);
		if (dup2(fds[0], STDIN_FILENO) == -1 ||
		    dup2(STDERR_FILENO, STDOUT_FILENO) == -1)
			_exit(127);
		(void)close(fds[0]);
		(void)close(fds[1]);
		execl("/bin/sh", "sh", "-c", line, (char *)NULL);
		_exit(127);
	}
	free(line);
	(void)close(fds[0]);
	/*
	 * The header and the blank line after it (TOP sends it; a message
	 * that is all header has none).  A filter that decides without
	 * reading it all is no error: EPIPE (SIGPIPE is ignored) is not.
	 */
	if (len == 0)
		tail = 1;
	else if (hdr[len - 1] != '\n')
		tail = 2;
	else if (len < 2 || hdr[len - 2] != '\n')
		tail = 1;
	if (util_write_all(fds[1], hdr, len, -1) == 0 && tail > 0 &&
	    util_write_all(fds[1], "\n\n", tail, -1) == -1)
		tail = 0;	/* EPIPE: the filter has read enough */
	(void)close(fds[1]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			e = errno;
			util_snprintf(err, errlen, "filter: wait: %s",
			    strerror(e));
			return FLT_ERROR;
		}
	if (WIFSIGNALED(status)) {
		util_snprintf(err, errlen, "filter killed by signal %d",
		    WTERMSIG(status));
		return FLT_ERROR;
	}
	if (WEXITSTATUS(status) <= FLT_SKIP)
		return WEXITSTATUS(status);
	util_snprintf(err, errlen, "filter exited %d%s", WEXITSTATUS(status),
	    WEXITSTATUS(status) == 127 ? " (command not found?)" : "");
	return FLT_ERROR;
}

/* One run over the messages: the header of each, then its verdict. */
struct flt {
	const struct account	*a;
	const struct pop_msg	*msgs;
	char			*buf;
	size_t			 len;
	int			*verdict;	/* by message index */
};

static int
flt_begin(void *arg, size_t idx)
{
	struct flt *f = arg;

	f->len = 0;
	f->verdict[idx] = FLT_ERROR;
	return 0;
}

static int
flt_data(void *arg, size_t idx, const void *buf, size_t len)
{
	struct flt *f = arg;

	(void)idx;
	/* pop_sink.max (LIST_TOP_MAX) keeps it within the buffer. */
	if (len > LIST_TOP_MAX - f->len)
		len = (size_t)(LIST_TOP_MAX - f->len);
	memcpy(f->buf + f->len, buf, len);
	f->len += len;
	return 0;
}

static int
flt_end(void *arg, size_t idx)
{
	struct flt *f = arg;
	char sender[DLV_SENDER_MAX], err[256];
	int v;

	(void)hdr_return_path(f->buf, f->len, sender, sizeof(sender));
	v = filter_run(f->a->filter, f->buf, f->len, sender,
	    f->msgs[idx].size, err, sizeof(err));
	if (v == FLT_ERROR)
		out_warn("message %zu (%s): %s: left on the server", idx + 1,
		    f->msgs[idx].uidl, err);
	f->verdict[idx] = v;
	return 0;
}

static void
flt_abandon(void *arg, size_t idx, const char *why)
{
	struct flt *f = arg;

	f->verdict[idx] = FLT_ERROR;
	out_warn("message %zu: %s: not filtered, left on the server",
	    idx + 1, why);
}

int
filter_messages(struct pop *p, const struct account *a,
    const struct pop_msg *msgs, size_t count, size_t *want, size_t *nwant,
    size_t *dele, size_t *ndele, struct summary *sum, int *out_of_step)
{
	struct flt f;
	struct pop_sink sink = { flt_begin, flt_data, flt_end, &f,
	    LIST_TOP_MAX, flt_abandon };
	size_t i, o = 0;
	int r, rc = KX_OK;

	if (p->capa.seen && !p->capa.top) {
		out_warn("%s does not offer TOP (see --serverinfo): the filter "
		    "needs it to read headers; nothing fetched", a->host);
		*nwant = 0;
		return KX_PROTOCOL;
	}
	memset(&f, 0, sizeof(f));
	f.a = a;
	f.msgs = msgs;
	if ((f.buf = malloc(LIST_TOP_MAX)) == NULL ||
	    (f.verdict = calloc(count + 1, sizeof(*f.verdict))) == NULL) {
		free(f.buf);
		out_warn("out of memory");
		*nwant = 0;
		return KX_TEMP;
	}
	for (i = 0; i < *nwant; i++)
		f.verdict[want[i]] = FLT_ERROR;
	if ((r = pop_retr(p, want, *nwant, 0, &sink)) != POP_OK) {
		if (r == POP_ERR)
			out_warn("%s (TOP, which the filter needs); nothing "
			    "fetched", p->err);
		else
			out_warn("%s", p->err);
		*nwant = 0;
		*out_of_step = r == POP_PROTO;
		rc = r == POP_ERR ? KX_PROTOCOL : out_exit(r);
		goto out;
	}
	for (i = 0; i < *nwant; i++) {
		size_t m = want[i];

		switch (f.verdict[m]) {
		case FLT_DELIVER:
			want[o++] = m;
			break;
		case FLT_DELETE:
			dele[(*ndele)++] = m;
			out_say("message %zu (%s): the filter says delete",
			    m + 1, msgs[m].uidl);
			break;
		case FLT_SKIP:
			sum->skipped++;
			out_say("message %zu (%s): the filter says skip", m + 1,
			    msgs[m].uidl);
			break;
		default:
			rc = KX_DELIVER;
			break;
		}
	}
	*nwant = o;
out:
	free(f.buf);
	free(f.verdict);
	return rc;
}
