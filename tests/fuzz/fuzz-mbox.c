/* SPDX-License-Identifier: MIT */
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
 * An input whose mbox part starts "KPOPJNL1" also makes the journal a
 * crashed commit leaves (.mbox.kpopd-journal): after the magic, W (8
 * bytes, little endian, taken modulo the mbox's size + 1), N (8, modulo
 * L), a 2-byte length L and L bytes of old data, then the mbox; the
 * harness fills in the mbox's device and inode and the SHA-256, so the
 * open's recovery applies it.  The journal must be gone after the open,
 * and the checks above hold for the file as it is then.
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

#include <openssl/evp.h>

#include "common/pop3.h"
#include "common/util.h"
#include "fuzz/fuzz-scratch.h"
#include "kpopd/maildrop.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char dir[PATH_MAX], mbox[PATH_MAX + 16], journal[PATH_MAX + 32];

/* The journal header (mbox-commit.c): magic, W, L, N, dev, ino, SHA-256. */
#define J_HDR		128
#define J_SUMOFF	48

static void
setup(void)
{
	fz_scratch(dir, sizeof(dir), "fuzz-mbox");
	(void)util_snprintf(mbox, sizeof(mbox), "%s/mbox", dir);
	(void)util_snprintf(journal, sizeof(journal),
	    "%s/.mbox.kpopd-journal", dir);
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

static void
put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/*
 * If the n bytes at *datap start with a journal (see the top), write the
 * mbox that follows it and the journal for it, and move *datap and *lenp
 * past the journal part.
 */
static void
put_with_journal(const uint8_t **datap, size_t *lenp)
{
	const uint8_t *d = *datap;
	unsigned char hdr[J_HDR];
	unsigned int dl;
	struct stat st;
	EVP_MD_CTX *ctx;
	uint64_t w, n, l;
	size_t len = *lenp;
	int fd;

	if (len < 26 || memcmp(d, "KPOPJNL1", 8) != 0 ||
	    (l = (uint64_t)d[24] | (uint64_t)d[25] << 8) > len - 26) {
		put(d, len);
		return;
	}
	w = get64(d + 8);
	n = l > 0 ? get64(d + 16) % l : 0;
	put(d + 26 + l, len - 26 - (size_t)l);
	if (stat(mbox, &st) == -1)
		abort();
	w %= (uint64_t)st.st_size + 1;
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, "KPOPJNL1", 8);
	put64(hdr + 8, w);
	put64(hdr + 16, l);
	put64(hdr + 24, n);
	put64(hdr + 32, (uint64_t)st.st_dev);
	put64(hdr + 40, (uint64_t)st.st_ino);
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, hdr, J_SUMOFF) != 1 ||
	    EVP_DigestUpdate(ctx, d + 26, (size_t)l) != 1 ||
	    EVP_DigestFinal_ex(ctx, hdr + J_SUMOFF, &dl) != 1)
		abort();
	EVP_MD_CTX_free(ctx);
	fd = open(journal, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || util_write_all(fd, hdr, sizeof(hdr), -1) == -1 ||
	    util_write_all(fd, d + 26, (size_t)l, -1) == -1 ||
	    close(fd) == -1)
		abort();
	*datap = d + 26 + l;
	*lenp = len - 26 - (size_t)l;
}

/* Message i's bytes (malloc'd, *lenp), or NULL if it is gone. */
static char *
msg_bytes(struct maildrop *md, size_t i, size_t flen, size_t *lenp)
{
	char err[256], *buf;
	off_t off, len;
	int fd;

	if (md_msg_fd(md, i, &fd, &off, &len, err, sizeof(err)) != KP_OK)
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
	static const struct md_opts opts = { .lock_timeout = 1 };
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
	data++;
	len--;
	put_with_journal(&data, &len);
	rc = md_open(MD_MBOX, mbox, &opts, &md, err, sizeof(err));
	if (access(journal, F_OK) == 0)
		__builtin_trap();	/* the journal was left */
	if (stat(mbox, &st) == -1)
		abort();
	if (rc != KP_OK) {
		char head[5];
		int fd;

		/* Only a file that does not start with a From_ line. */
		if ((fd = open(mbox, O_RDONLY)) == -1)
			abort();
		if (rc == KP_PERM && (read(fd, head, 5) != 5 ||
		    memcmp(head, "From ", 5) != 0)) {
			(void)close(fd);
			return 0;
		}
		fprintf(stderr, "md_open: %s\n", err);
		__builtin_trap();
	}
	n = md_count(md);
	msgs = check(md, (size_t)st.st_size, &lens);
	if (!(flags & 1) || n == 0) {
		md_close(md);
		release(msgs, lens, n);
		return 0;
	}
	if ((del = calloc(n, 1)) == NULL)
		abort();
	for (i = 0; i < n; i++)
		del[i] = (flags >> (1 + i % 7)) & 1;
	if (md_commit(md, del, err, sizeof(err)) != KP_OK) {
		fprintf(stderr, "md_commit: %s\n", err);
		__builtin_trap();
	}
	md_close(md);
	if (stat(mbox, &st) == -1 ||
	    md_open(MD_MBOX, mbox, &opts, &md, err, sizeof(err)) != KP_OK)
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
