/* SPDX-License-Identifier: MIT */
/*
 * tests/tap/files.c: scratch files and processes for the C tests.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "tap/basic.h"
#include "tap/files.h"

static char scratch[PATH_MAX];

const char *
t_scratch(const char *name)
{
	const char *base = getenv("KPOP_TEST_TMP");
	int n;

	if (base == NULL || *base == '\0')
		base = getenv("TMPDIR");
	if (base == NULL || *base == '\0')
		base = "/tmp";
	n = snprintf(scratch, sizeof(scratch), "%s/%s.XXXXXX", base, name);
	if (n < 0 || (size_t)n >= sizeof(scratch) || mkdtemp(scratch) == NULL)
		bail("mkdtemp in %s: %s", base, strerror(errno));
	return scratch;
}

void
t_scratch_done(void)
{
	if (scratch[0] != '\0')
		t_rm_tree(scratch);
	scratch[0] = '\0';
}

/*
 * A test may have taken a directory's rights: give them back, to
 * directories only.  chmod() follows a symbolic link, and tests plant
 * links to files such as /etc/passwd: chmod'ing every entry made root
 * change /etc/passwd to 0700.
 */
static int
rights_one(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_D || flag == FTW_DNR)
		(void)chmod(path, 0700);
	return 0;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(path) == -1)
		diag("remove %s: %s", path, strerror(errno));
	return 0;
}

void
t_rm_tree(const char *path)
{
	(void)nftw(path, rights_one, 32, FTW_PHYS);
	(void)nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

const char *
t_path(const char *dir, const char *name)
{
	static char buf[4][PATH_MAX];
	static int k;
	int n;

	k = (k + 1) % 4;
	n = snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(buf[k]))
		bail("path too long: %s/%s", dir, name);
	return buf[k];
}

static void
write_to(const char *path, int flags, const void *data, size_t len)
{
	int fd;

	if ((fd = open(path, flags | O_WRONLY | O_CLOEXEC, 0600)) == -1)
		bail("open %s: %s", path, strerror(errno));
	if (util_write_all(fd, data, len, -1) == -1)
		bail("write %s: %s", path, strerror(errno));
	if (close(fd) == -1)
		bail("close %s: %s", path, strerror(errno));
}

void
t_put_file(const char *path, const void *data, size_t len)
{
	write_to(path, O_CREAT | O_TRUNC, data, len);
}

void
t_append_file(const char *path, const void *data, size_t len)
{
	write_to(path, O_APPEND, data, len);
}

char *
t_slurp(const char *path, size_t *lenp)
{
	struct stat sb;
	char *buf;
	int fd;

	*lenp = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &sb) == -1 || (buf = malloc((size_t)sb.st_size + 1)) ==
	    NULL)
		bail("slurp %s", path);
	if (util_pread_full(fd, buf, (size_t)sb.st_size, 0) != sb.st_size)
		bail("read %s", path);
	(void)close(fd);
	buf[sb.st_size] = '\0';
	*lenp = (size_t)sb.st_size;
	return buf;
}

long long
t_file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == -1 ? -1 : (long long)sb.st_size;
}

int
t_wait_exit(pid_t pid)
{
	int ws;

	while (waitpid(pid, &ws, 0) == -1)
		if (errno != EINTR)
			bail("waitpid: %s", strerror(errno));
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 1000 + WTERMSIG(ws);
}

int
t_count_fds(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	(void)closedir(d);
	return n;
}

int
t_lowest_fd(void)
{
	int fd;

	if ((fd = dup(0)) == -1)
		bail("dup: %s", strerror(errno));
	(void)close(fd);
	return fd;
}

void
t_asan_allow_preload(void)
{
	char opts[1024];
	const char *was = getenv("ASAN_OPTIONS");

	(void)util_snprintf(opts, sizeof(opts), "%s%sverify_asan_link_order=0",
	    was != NULL ? was : "", was != NULL && *was != '\0' ? ":" : "");
	(void)setenv("ASAN_OPTIONS", opts, 1);
}
