/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz-mdcache.c: libFuzzer entry for kpopd's Maildir cache
 * reader (mdir-cache.c: kpopd.cache, formats 1 and 2), through the real
 * md_open() of a Maildir whose kpopd.cache is the input.
 *
 * The cache is checksummed, which a fuzzer would never get right, so the
 * first byte says what the harness does to the rest before writing it:
 * bit 0 "seal": append the trailer ("/end COUNT SHA256") that makes the
 * text a well-formed cache; bit 1 "stamp": replace each "@N" and "@C" by
 * the identity of new/ and cur/ as they are, so a sealed listing is taken
 * without reading the directories (the path where the cache's names are
 * opened as they stand).
 *
 * Checked: the open never fails (a cache only saves work); every message
 * it lists opens as one of the files put in new/ and cur/, or is gone,
 * never anything else (a directory, the cache, a file outside); the UIDLs
 * are valid and unique; a cache that was not sealed is ignored, so the
 * snapshot is then exactly the files, with their true sizes; one that was
 * sealed but not stamped cannot add or hide a message.
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

struct file {
	const char		*path;		/* under the Maildir */
	const char		*text;
	dev_t			 dev;
	ino_t			 ino;
	unsigned long long	 size;		/* POP3 octets */
};

/* ",W=" is trusted as Dovecot writes it: 29 is the CRLF size of its text. */
static struct file files[] = {
	{ "new/1700000000.M1P1.host,S=23", "Subject: a\n\nbody one\n" "x\n",
	    0, 0, 0 },
	{ "new/1700000001.M2P2.host", "Subject: b\n\n.dot\n", 0, 0, 0 },
	{ "cur/1699999999.M0P0.host:2,S", "Subject: c\r\n\r\nthree\r\n",
	    0, 0, 0 },
	{ "cur/1700000002.x,W=29:2,", "Subject: d\n\nfour\nlines\n\n",
	    0, 0, 0 },
};
#define NFILES	(sizeof(files) / sizeof(files[0]))

static char dir[PATH_MAX], cache[PATH_MAX + 16];

static void
setup(void)
{
	char p[PATH_MAX + 64];
	struct pop3_enc e;
	struct stat st;
	size_t i;
	int fd;

	fz_scratch(dir, sizeof(dir), "fuzz-mdcache");
	for (i = 0; i < 3; i++) {
		(void)util_snprintf(p, sizeof(p), "%s/%s", dir,
		    (const char *[]){ "new", "cur", "tmp" }[i]);
		if (mkdir(p, 0700) == -1)
			abort();
	}
	for (i = 0; i < NFILES; i++) {
		(void)util_snprintf(p, sizeof(p), "%s/%s", dir, files[i].path);
		fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd == -1 || util_write_all(fd, files[i].text,
		    strlen(files[i].text), -1) == -1 || fstat(fd, &st) == -1 ||
		    close(fd) == -1)
			abort();
		files[i].dev = st.st_dev;
		files[i].ino = st.st_ino;
		pop3_size_init(&e);
		pop3_size_feed(&e, files[i].text, strlen(files[i].text));
		files[i].size = pop3_size_end(&e);
	}
	(void)util_snprintf(cache, sizeof(cache), "%s/kpopd.cache", dir);
}

/* Append n bytes to a growing buffer. */
static void
add(char **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		if ((*buf = realloc(*buf, *cap)) == NULL)
			abort();
	}
	memcpy(*buf + *len, p, n);
	*len += n;
}

static void
stamp_of(const char *sub, char *out, size_t len)
{
	char p[PATH_MAX + 8];
	struct stat st;

	(void)util_snprintf(p, sizeof(p), "%s/%s", dir, sub);
	if (stat(p, &st) == -1)
		abort();
	(void)util_snprintf(out, len, "%llu.%llu.%llu.%llu.%llu.%llu",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
	    (unsigned long long)st.st_ctim.tv_sec,
	    (unsigned long long)st.st_ctim.tv_nsec,
	    (unsigned long long)st.st_mtim.tv_sec,
	    (unsigned long long)st.st_mtim.tv_nsec);
}

/* The cache text the input stands for (malloc'd, *lenp). */
static char *
make_text(const uint8_t *data, size_t len, int flags, size_t *lenp)
{
	char sn[128], sc[128], tr[128], hex[2 * 32 + 1];
	unsigned char dig[32];
	unsigned int dl;
	char *buf = NULL;
	size_t i, n = 0, cap = 0, lines = 0, hdr;

	if (flags & 2) {
		stamp_of("new", sn, sizeof(sn));
		stamp_of("cur", sc, sizeof(sc));
	}
	add(&buf, &n, &cap, "", 0);
	for (i = 0; i < len; i++) {
		if ((flags & 2) && data[i] == '@' && i + 1 < len &&
		    (data[i + 1] == 'N' || data[i + 1] == 'C')) {
			const char *s = data[i + 1] == 'N' ? sn : sc;

			add(&buf, &n, &cap, s, strlen(s));
			i++;
			continue;
		}
		add(&buf, &n, &cap, &data[i], 1);
		if (data[i] == '\n')
			lines++;
	}
	if (flags & 1) {
		hdr = n >= 14 && memcmp(buf, "kpopd-cache 1\n", 14) == 0 ?
		    1 : 2;
		if (EVP_Digest(buf, n, dig, &dl, EVP_sha256(), NULL) != 1 ||
		    dl != sizeof(dig))
			abort();
		util_hex(dig, sizeof(dig), hex);
		(void)util_snprintf(tr, sizeof(tr), "/end %zu %s\n",
		    lines >= hdr ? lines - hdr : 0, hex);
		add(&buf, &n, &cap, tr, strlen(tr));
	}
	*lenp = n;
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const struct md_opts opts = { .lock_timeout = 1 };
	struct maildrop *md;
	struct stat st;
	char err[256], *text;
	size_t i, j, k, n, tlen, seen[NFILES];
	off_t off, mlen;
	int fd, flags, rc;

	if (dir[0] == '\0')
		setup();
	if (len == 0)
		return 0;
	flags = data[0];
	text = make_text(data + 1, len - 1, flags, &tlen);
	fd = open(cache, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || util_write_all(fd, text, tlen, -1) == -1 ||
	    close(fd) == -1)
		abort();
	free(text);

	if ((rc = md_open(MD_MAILDIR, dir, &opts, &md, err,
	    sizeof(err))) != KP_OK) {
		fprintf(stderr, "md_open: %d %s\n", rc, err);
		__builtin_trap();
	}
	n = md_count(md);
	memset(seen, 0, sizeof(seen));
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
		rc = md_msg_fd(md, i, &fd, &off, &mlen, err, sizeof(err));
		if (rc == KP_GONE) {
			if (!(flags & 1))
				__builtin_trap();	/* a real file */
			continue;
		}
		if (rc != KP_OK || fstat(fd, &st) == -1)
			__builtin_trap();
		(void)close(fd);
		for (k = 0; k < NFILES; k++)
			if (st.st_dev == files[k].dev &&
			    st.st_ino == files[k].ino)
				break;
		if (k == NFILES || off != 0 || mlen != st.st_size)
			__builtin_trap();	/* not one of the messages */
		seen[k]++;
		if (!(flags & 1) && m->size != files[k].size)
			__builtin_trap();	/* an ignored cache's size */
	}
	/* Not sealed, or not stamped: the listing is the directories'. */
	if (!(flags & 1) || !(flags & 2)) {
		if (n != NFILES)
			__builtin_trap();
		for (k = 0; k < NFILES; k++)
			if (seen[k] != 1)
				__builtin_trap();
	}
	md_close(md);
	return 0;
}
