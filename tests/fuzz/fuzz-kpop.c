/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz-kpop.c: libFuzzer entry for kpop's side of a POP3
 * session (kpop/client.c) against a server whose every byte is the
 * input: greeting, CAPA, the login (USER/PASS, or APOP when the greeting
 * offers it and the first byte's bit 0 asks), STAT/UIDL/LIST, RETR of up
 * to FZ_RETR_MAX messages delivered to a scratch Maildir (kpop/deliver.c),
 * DELE of those delivered, QUIT.
 *
 * The server is a thread on the other end of a socketpair: it writes the
 * input, shuts its side down for writing, and reads whatever kpop sends
 * until kpop closes.  So kpop reads a fixed script, whatever it asks.
 *
 * Checked: kpop never delivers a message the server did not send whole:
 * every file in new/ is one whose end the sink saw, holds exactly the
 * bytes handed to the sink, and those bytes are what an independent
 * reference decoder (below) makes of a multi-line block of the input that
 * ends with its "." line; nothing is delivered twice, and nothing is left
 * in tmp/.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/io.h"
#include "common/util.h"
#include "fuzz/fuzz-scratch.h"
#include "kpop/client.h"
#include "kpop/deliver.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Messages fetched at most, and their bytes kept for the check. */
#define FZ_RETR_MAX	64

static char dir[PATH_MAX];
static struct dlv_target target;

struct server {
	int		 fd;
	const uint8_t	*data;
	size_t		 len;
};

struct got {
	char		*buf;
	size_t		 len, cap;
	int		 ended;
	char		 name[DLV_NAME_MAX];
};

struct fetch {
	struct dlv	*h;
	struct got	 got[FZ_RETR_MAX];
	size_t		 cur;
	int		 open;
	unsigned int	 seq;
};

static void
setup(void)
{
	char p[PATH_MAX + 16];
	size_t i;

	fz_scratch(dir, sizeof(dir), "fuzz-kpop");
	for (i = 0; i < 3; i++) {
		(void)util_snprintf(p, sizeof(p), "%s/%s", dir,
		    (const char *[]){ "new", "cur", "tmp" }[i]);
		if (mkdir(p, 0700) == -1)
			abort();
	}
	target.kind = DLV_MAILDIR;
	(void)util_strlcpy(target.arg, dir, sizeof(target.arg));
}

static void *
serve(void *arg)
{
	struct server *s = arg;
	char buf[4096];

	if (s->len > 0 && util_write_all(s->fd, s->data, s->len, -1) == -1)
		abort();
	(void)shutdown(s->fd, SHUT_WR);
	while (read(s->fd, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

static const char *
password(void *arg)
{
	(void)arg;
	return "secret";
}

static int
sink_begin(void *arg, size_t idx)
{
	struct fetch *f = arg;
	struct dlv_info info;
	char token[32], err[DLV_ERR_MAX];

	if (idx >= FZ_RETR_MAX || f->open || f->got[idx].ended)
		__builtin_trap();	/* out of order, or twice */
	(void)util_snprintf(token, sizeof(token), "fz%u", f->seq++);
	memset(&info, 0, sizeof(info));
	info.token = token;
	if (dlv_open(&target, &info, &f->h, err, sizeof(err)) != KP_OK) {
		fprintf(stderr, "fuzz-kpop: %s\n", err);
		abort();
	}
	f->cur = idx;
	f->open = 1;
	f->got[idx].len = 0;
	return 0;
}

static int
sink_data(void *arg, size_t idx, const void *buf, size_t len)
{
	struct fetch *f = arg;
	struct got *g = &f->got[idx];

	if (!f->open || idx != f->cur)
		__builtin_trap();
	if (g->len + len > g->cap) {
		g->cap = (g->len + len) * 2;
		if ((g->buf = realloc(g->buf, g->cap)) == NULL)
			abort();
	}
	memcpy(g->buf + g->len, buf, len);
	g->len += len;
	return dlv_write(f->h, buf, len) == KP_OK ? 0 : -1;
}

static int
sink_end(void *arg, size_t idx)
{
	struct fetch *f = arg;
	struct dlv_where w;
	char err[DLV_ERR_MAX];

	if (!f->open || idx != f->cur)
		__builtin_trap();
	f->open = 0;
	if (dlv_commit(f->h, &w, err, sizeof(err)) != KP_OK) {
		fprintf(stderr, "fuzz-kpop: %s\n", err);
		abort();
	}
	f->h = NULL;
	f->got[idx].ended = 1;
	(void)util_strlcpy(f->got[idx].name, w.name,
	    sizeof(f->got[idx].name));
	return 0;
}

/*
 * The reference: does a multi-line block of the server's bytes (from a
 * line start, through its "." line) decode to the n bytes at d?  Lines
 * end with LF or CRLF; a "." line ends the block; a leading dot is
 * dropped; each line is delivered with LF.
 */
static int
sent_whole(const uint8_t *in, size_t inlen, const char *d, size_t n)
{
	size_t s, i, o, e, l;

	for (s = 0; s < inlen; s++) {
		if (s > 0 && in[s - 1] != '\n')
			continue;
		for (i = s, o = 0;; i = e + 1) {
			const uint8_t *nl = memchr(in + i, '\n', inlen - i);

			if (nl == NULL)
				break;
			e = (size_t)(nl - in);
			l = e - i;
			if (l > 0 && in[e - 1] == '\r')
				l--;
			if (l == 1 && in[i] == '.') {
				if (o == n)
					return 1;
				break;
			}
			if (l > 0 && in[i] == '.') {
				i++;
				l--;
			}
			if (o + l + 1 > n || memcmp(d + o, in + i, l) != 0 ||
			    d[o + l] != '\n')
				break;
			o += l + 1;
		}
	}
	return 0;
}

/* Check new/ and tmp/ against what the sink saw, and empty them. */
static void
check(struct fetch *f, const uint8_t *in, size_t inlen)
{
	char p[PATH_MAX + 300], *buf;
	struct dirent *de;
	size_t i, files = 0, ended = 0;
	ssize_t r;
	DIR *d;
	int fd;

	(void)util_snprintf(p, sizeof(p), "%s/tmp", dir);
	if ((d = opendir(p)) == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			__builtin_trap();	/* a delivery left behind */
	(void)closedir(d);
	for (i = 0; i < FZ_RETR_MAX; i++) {
		struct got *g = &f->got[i];

		if (!g->ended)
			continue;
		ended++;
		if (!sent_whole(in, inlen, g->buf != NULL ? g->buf : "",
		    g->len))
			__builtin_trap();	/* not a block the server sent */
		(void)util_snprintf(p, sizeof(p), "%s/new/%s", dir, g->name);
		if ((fd = open(p, O_RDONLY)) == -1)
			__builtin_trap();	/* ended but not delivered */
		if ((buf = malloc(g->len + 1)) == NULL)
			abort();
		r = read(fd, buf, g->len + 1);
		if (r != (ssize_t)g->len || (g->len > 0 &&
		    memcmp(buf, g->buf, g->len) != 0))
			__builtin_trap();	/* not the bytes received */
		free(buf);
		(void)close(fd);
		(void)unlink(p);
	}
	(void)util_snprintf(p, sizeof(p), "%s/new", dir);
	if ((d = opendir(p)) == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			files++;
	(void)closedir(d);
	if (files != 0)
		__builtin_trap();	/* delivered without an end */
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "fuzz-kpop: %zu delivered\n", ended);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct fetch f;
	struct pop p;
	struct pop_login lg;
	struct pop_msg *msgs = NULL;
	struct server srv;
	pthread_t th;
	size_t count = 0, idx[FZ_RETR_MAX], n, i, ndel;
	unsigned long long total;
	int sv[2], flags, st;

	if (dir[0] == '\0')
		setup();
	if (len == 0)
		return 0;
	flags = data[0];
	data++;
	len--;
	for (i = 0; i < FZ_RETR_MAX; i++) {
		f.got[i].ended = 0;
		f.got[i].len = 0;
	}
	f.open = 0;
	f.h = NULL;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	srv.fd = sv[1];
	srv.data = data;
	srv.len = len;
	if (pthread_create(&th, NULL, serve, &srv) != 0)
		abort();
	memset(&p, 0, sizeof(p));
	(void)util_strlcpy(p.host, "pop.example.org", sizeof(p.host));
	if ((p.io = io_new(sv[0])) == NULL)
		abort();
	io_set_timeout(p.io, 10000);
	memset(&lg, 0, sizeof(lg));
	lg.user = "fuzz";
	lg.service = "pop";
	lg.password = password;

	if (pop_greeting(&p) != POP_OK)
		goto out;
	(void)pop_capa(&p);
	st = (flags & 1) && p.apop_ts[0] != '\0' ? pop_auth_apop(&p, &lg) :
	    pop_auth_user(&p, &lg);
	if (st != POP_OK || pop_scan(&p, &msgs, &count, &total) != POP_OK)
		goto out;
	n = count < FZ_RETR_MAX ? count : FZ_RETR_MAX;
	for (i = 0; i < n; i++)
		idx[i] = i;
	{
		struct pop_sink sink = { sink_begin, sink_data, sink_end, &f,
		    0, NULL };

		st = pop_retr(&p, idx, n, (flags & 2) ? 3 : -1, &sink);
	}
	if (f.open) {
		dlv_abort(f.h);
		f.h = NULL;
		f.open = 0;
	}
	for (i = ndel = 0; i < n; i++)
		if (f.got[i].ended)
			idx[ndel++] = i;
	if (st == POP_OK && ndel > 0 && pop_dele(&p, idx, ndel) != POP_OK)
		goto out;
	(void)pop_quit(&p);
out:
	if (f.open) {
		dlv_abort(f.h);
		f.h = NULL;
		f.open = 0;
	}
	free(msgs);
	pop_close(&p);		/* closes sv[0]: the server sees EOF */
	if (pthread_join(th, NULL) != 0)
		abort();
	(void)close(sv[1]);
	check(&f, data, len);
	return 0;
}
