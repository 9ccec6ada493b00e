/* SPDX-License-Identifier: MIT */
/*
 * tests/kpopd/md-test.c: the helpers the maildrop tests share
 * (tests/kpopd/md-test.h).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/pop3.h"
#include "common/util.h"
#include "kpopd/md-int.h"
#include "tap/basic.h"
#include "md-test.h"

const char *scratch;
const struct md_opts opts0 = { .lock_timeout = 5 };

/* Descriptors open at md_test_start(), or -1 without /proc. */
static int start_fds;

/* ---- the test program ---- */

void
md_test_start(const char *name)
{
	plan_lazy();
	signal(SIGPIPE, SIG_IGN);
	scratch = t_scratch(name);
	/* Children running as uid 65534 must get through it. */
	if (chmod(scratch, 0755) == -1)
		bail("chmod %s: %s", scratch, strerror(errno));
	start_fds = t_count_fds();
}

void
md_test_end(void)
{
	if (start_fds == -1)
		skip("no /proc/self/fd: descriptor leak check");
	else
		is_int(t_count_fds(), start_fds, "no descriptor leaked");
	t_scratch_done();
}

/* ---- files and users ---- */

static uid_t chown_uid;		/* for chown_one */
static gid_t chown_gid;

static int
chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (lchown(path, chown_uid, chown_gid) == -1)
		bail("lchown %s: %s", path, strerror(errno));
	return 0;
}

void
chown_nobody(const char *path)
{
	chown_uid = NOBODY;
	chown_gid = NOBODY;
	if (geteuid() == 0)
		(void)nftw(path, chown_one, 32, FTW_PHYS);
}

void
chown_self(const char *path)
{
	chown_uid = geteuid();
	chown_gid = getegid();
	if (geteuid() == 0)
		(void)nftw(path, chown_one, 32, FTW_PHYS);
}

int
become_nobody(void)
{
	if (geteuid() != 0)
		return 0;
	if (setgroups(0, NULL) == -1 || setgid(NOBODY) == -1 ||
	    setuid(NOBODY) == -1)
		return -1;
	return 0;
}

void
put_file(const char *path, const void *data, size_t len)
{
	char tmp[PATH_MAX];
	int fd;

	if (util_snprintf(tmp, sizeof(tmp), "%s.new", path) == -1)
		bail("path too long");
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		bail("open %s: %s", tmp, strerror(errno));
	if (util_write_all(fd, data, len, -1) == -1)
		bail("write %s: %s", tmp, strerror(errno));
	if (close(fd) == -1 || rename(tmp, path) == -1)
		bail("rename %s: %s", path, strerror(errno));
}

void
mkmaildir(const char *path)
{
	if (mkdir(path, 0700) == -1 ||
	    mkdir(t_path(path, "new"), 0700) == -1 ||
	    mkdir(t_path(path, "cur"), 0700) == -1 ||
	    mkdir(t_path(path, "tmp"), 0700) == -1)
		bail("mkdir %s: %s", path, strerror(errno));
}

void
rewrite_file(const char *path, const void *data, size_t len)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_TRUNC)) == -1)
		bail("open %s: %s", path, strerror(errno));
	if (util_write_all(fd, data, len, -1) == -1)
		bail("write %s: %s", path, strerror(errno));
	close(fd);
}

/* ---- children ---- */

pid_t
spawn(int (*fn)(void *), void *arg)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		bail("fork: %s", strerror(errno));
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- maildrops and messages ---- */

int
open_md(enum md_format fmt, const char *path, const struct md_opts *o,
    struct maildrop **mdp)
{
	char err[256];
	int rc;

	rc = md_open(fmt, path, o, mdp, err, sizeof(err));
	if (rc != KP_OK)
		diag("md_open %s: %d %s", path, rc, err);
	return rc;
}

char *
msg_bytes(struct maildrop *md, size_t i, size_t *lenp, int *status)
{
	char err[256], *buf;
	off_t off, len;
	int fd;

	*status = md_msg_fd(md, i, &fd, &off, &len, err, sizeof(err));
	if (*status != KP_OK)
		return NULL;
	if ((buf = malloc((size_t)len + 1)) == NULL)
		bail("malloc");
	if (util_pread_full(fd, buf, (size_t)len, off) != len)
		bail("read message %zu", i);
	close(fd);
	*lenp = (size_t)len;
	return buf;
}

struct counter {
	size_t	out;
};

static int
count_sink(void *arg, const void *p, size_t n)
{
	(void)p;
	((struct counter *)arg)->out += n;
	return 0;
}

/* Lines of buf that start with '.': what the encoder stuffs. */
static size_t
dot_lines(const char *buf, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (buf[i] == '.' && (i == 0 || buf[i - 1] == '\n'))
			n++;
	return n;
}

unsigned long long
enc_octets(const char *buf, size_t len)
{
	struct pop3_enc e;
	struct counter c = { 0 };

	pop3_enc_init(&e, -1);
	if (pop3_enc_feed(&e, buf, len, count_sink, &c) == -1 ||
	    pop3_enc_end(&e, count_sink, &c) == -1)
		bail("encoder failed");
	if (c.out - 3 - dot_lines(buf, len) != e.octets)
		bail("encoder output %zu does not match octets %llu", c.out,
		    e.octets);
	return e.octets;
}
