/* SPDX-License-Identifier: MIT */
/*
 * kpopd/md-hash.c: the hashes of the maildrop code: SHA-256 over pieces
 * (OpenSSL's EVP), for the UIDLs of mbox messages, the Maildir cache's
 * checksum and the mbox journal's; and 64-bit FNV-1a, stable across
 * versions, for From_ lines and as the fallback of md_uidl_from().
 */
#include "config.h"

#include <openssl/evp.h>

#include "kpopd/md-int.h"

int
md_hash_init(struct md_hash *h)
{
	EVP_MD_CTX *ctx;

	h->ctx = NULL;
	h->failed = 0;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -1;
	}
	h->ctx = ctx;
	return 0;
}

void
md_hash_update(struct md_hash *h, const void *p, size_t n)
{
	if (h->failed || n == 0)
		return;
	if (EVP_DigestUpdate(h->ctx, p, n) != 1)
		h->failed = 1;
}

int
md_hash_final(struct md_hash *h, unsigned char *out)
{
	unsigned int len = 0;
	int rc = -1;

	if (!h->failed && EVP_DigestFinal_ex(h->ctx, out, &len) == 1 &&
	    len == MD_HASH_LEN)
		rc = 0;
	h->failed = 0;
	if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		h->failed = 1;
	return rc;
}

void
md_hash_free(struct md_hash *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

uint64_t
md_hash_fnv(uint64_t h, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
