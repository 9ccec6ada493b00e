/*
 * tests/fuzz/fuzz-mbox.c: libFuzzer entry for kpopd's mbox parser (From_
 * lines, headers, X-UIDL) through the real md_open() on a file whose
 * content is the input.  Checked, not just run: every message's range from
 * md_msg_fd() must lie in the file and encode to exactly the size the
 * snapshot gives; the UIDLs must be valid and unique; the total must be
 * the sum; only a file that does not start with "From " is refused.  When
 * the first byte's low bit is set, the messages its other bits pick are
 * deleted with md_commit() and the mbox is opened again: the messages
 * kept must come back byte for byte, in order, and no others.
 *
 * The scratch directory is under /dev/shm when there is one (fsync is
 * free there), made once and removed at exit.
 */
#include "config.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/pop3.h"
#include "common/util.h"
#include "kpopd/maildrop.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char dir[PATH_MAX], mbox[PATH_MAX + 16];

static void
cleanup(void)
{
	char cmd[PATH_MAX + 16];

	if (dir[0] != '\0' && util_snprintf(cmd, sizeof(cmd), "rm -rf '%s'",
	    dir) == 0 && system(cmd) != 0)
		fprintf(stderr, "fuzz-mbox: could not remove %s\n", dir);
}

static void
setup(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" :
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";

	if (util_snprintf(dir, sizeof(dir), "%s/fuzz-mbox.XXXXXX", base) ==
	    -1 || mkdtemp(dir) == NULL)
		abort();
	(void)util_snprintf(mbox, sizeof(mbox), "%s/mbox", dir);
	atexit(cleanup);
}

static void
put(const uint8_t *data, size_t len)
{
	int fd;

	fd = open(mbox, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || util_write_all(fd, data, len, -1) == -1 ||
	    close(fd) == -1)
		abort();
}

/* Message i's bytes (malloc'd, *lenp), or NULL if it is gone. */
static char *
msg_bytes(struct maildrop *md, size_t i, size_t flen, size_t *lenp)
{
	char err[256], *buf;
	off_t off, len;
	int fd;

	if (md_msg_fd(md, i, &fd, &off, &len, err, sizeof(err)) != MD_OK)
		__builtin_trap();	/* nobody changed the file */
	if (off < 0 || len < 0 || (size_t)off > flen ||
	    (size_t)len > flen - (size_t)off)
		__builtin_trap();
	if ((buf = malloc((size_t)len + 1)) == NULL ||
	    util_pread_full(fd, buf, (size_t)len, off) != (ssize_t)len)
		abort();
	(void)close(fd);
	*lenp = (size_t)len;
	return buf;
}

/* Check the snapshot against the file; returns each message's bytes. */
static char **
check(struct maildrop *md, size_t flen, size_t **lensp)
{
	struct pop3_enc e;
	unsigned long long total = 0;
	size_t i, j, n = md_count(md), *lens;
	char **msgs;

	if ((msgs = calloc(n + 1, sizeof(*msgs))) == NULL ||
	    (lens = calloc(n + 1, sizeof(*lens))) == NULL)
		abort();
	for (i = 0; i < n; i++) {
		const struct md_msg *m = md_msg(md, i);
		size_t ul = strlen(m->uidl);

		if (ul == 0 || ul > POP3_UIDL_MAX)
			__builtin_trap();
		for (j = 0; j < ul; j++)
			if (m->uidl[j] < 0x21 || m->uidl[j] > 0x7e)
				__builtin_trap();
		for (j = 0; j < i; j++)
			if (strcmp(md_msg(md, j)->uidl, m->uidl) == 0)
				__builtin_trap();
		msgs[i] = msg_bytes(md, i, flen, &lens[i]);
		pop3_size_init(&e);
		pop3_size_feed(&e, msgs[i], lens[i]);
		if (pop3_size_end(&e) != m->size)
			__builtin_trap();
		total += m->size;
	}
	if (md_total(md) != total)
		__builtin_trap();
	*lensp = lens;
	return msgs;
}

static void
release(char **msgs, size_t *lens, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(msgs[i]);
	free(msgs);
	free(lens);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const struct md_opts opts = { 1, 0, 0 };
	struct maildrop *md;
	struct stat st;
	unsigned char *del = NULL;
	char err[256], **msgs, **again;
	size_t i, k, n, *lens, *lens2;
	int flags, rc;

	if (dir[0] == '\0')
		setup();
	if (len == 0)
		return 0;
	flags = data[0];
	put(data + 1, len - 1);
	if ((rc = md_open(MD_MBOX, mbox, &opts, &md, err, sizeof(err))) !=
	    MD_OK) {
		/* Only a file that does not start with a From_ line. */
		if (rc == MD_PERM && (len - 1 < 5 ||
		    memcmp(data + 1, "From ", 5) != 0))
			return 0;
		fprintf(stderr, "md_open: %s\n", err);
		__builtin_trap();
	}
	n = md_count(md);
	msgs = check(md, len - 1, &lens);
	if (!(flags & 1) || n == 0) {
		md_close(md);
		release(msgs, lens, n);
		return 0;
	}
	if ((del = calloc(n, 1)) == NULL)
		abort();
	for (i = 0; i < n; i++)
		del[i] = (flags >> (1 + i % 7)) & 1;
	if (md_commit(md, del, err, sizeof(err)) != MD_OK) {
		fprintf(stderr, "md_commit: %s\n", err);
		__builtin_trap();
	}
	md_close(md);
	if (stat(mbox, &st) == -1 ||
	    md_open(MD_MBOX, mbox, &opts, &md, err, sizeof(err)) != MD_OK)
		__builtin_trap();
	again = check(md, (size_t)st.st_size, &lens2);
	for (i = k = 0; i < n; i++) {
		if (del[i])
			continue;
		if (k >= md_count(md) || lens2[k] != lens[i] ||
		    memcmp(again[k], msgs[i], lens[i]) != 0)
			__builtin_trap();	/* a kept message changed */
		k++;
	}
	if (k != md_count(md))
		__builtin_trap();	/* a deleted one came back */
	release(again, lens2, md_count(md));
	md_close(md);
	release(msgs, lens, n);
	free(del);
	return 0;
}
