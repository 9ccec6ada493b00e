/* SPDX-License-Identifier: MIT */
/*
 * kpopd/pwcache.c: the password-check cache (pwcache.h): the secret and
 * the keys (HMAC-SHA-256 through OpenSSL), and the master's fixed table
 * of PWCACHE_MAX entries, an expired or soonest-expiring one reused
 * first.  Keys are compared in constant time.
 */
#include "config.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

#include "common/limits.h"
#include "kpopd/kpopd.h"
#include "kpopd/pwcache.h"

static unsigned char	secret[32];
static int		have_secret;

struct pwc {
	unsigned char	key[PWCACHE_KEY_LEN];
	int64_t		until_ms;	/* 0: a free slot */
	int		good;
};

static struct pwc	cache[PWCACHE_MAX];

int
pwcache_init(void)
{
	if (have_secret)
		return 0;
	if (RAND_bytes(secret, sizeof(secret)) != 1)
		return -1;
	have_secret = 1;
	return 0;
}

void
pwcache_forget(void)
{
	util_wipe(secret, sizeof(secret));
	have_secret = 0;
}

int
pwcache_key(const char *user, const char *pass,
    unsigned char key[PWCACHE_KEY_LEN])
{
	unsigned char buf[KPOPD_USER_MAX + KPOPD_PASS_MAX + 1];
	size_t ul = strlen(user), pl = strlen(pass);
	unsigned int len = PWCACHE_KEY_LEN;
	int r = -1;

	if (!have_secret || ul >= KPOPD_USER_MAX || pl >= KPOPD_PASS_MAX)
		return -1;
	/* The user, a NUL, the password: no two pairs give one string. */
	memcpy(buf, user, ul);
	buf[ul] = '\0';
	memcpy(buf + ul + 1, pass, pl);
	if (HMAC(EVP_sha256(), secret, sizeof(secret), buf, ul + 1 + pl, key,
	    &len) != NULL && len == PWCACHE_KEY_LEN)
		r = 0;
	util_wipe(buf, sizeof(buf));
	return r;
}

static struct pwc *
find(const unsigned char *key, int64_t now_ms)
{
	size_t i;

	for (i = 0; i < PWCACHE_MAX; i++)
		if (cache[i].until_ms > now_ms &&
		    CRYPTO_memcmp(cache[i].key, key, PWCACHE_KEY_LEN) == 0)
			return &cache[i];
	return NULL;
}

int
pwcache_lookup(const unsigned char *key, int64_t now_ms)
{
	const struct pwc *e = find(key, now_ms);

	if (e == NULL)
		return PWC_NONE;
	return e->good ? PWC_GOOD : PWC_BAD;
}

void
pwcache_put(const unsigned char *key, int good, int64_t ttl_ms,
    int64_t now_ms)
{
	struct pwc *e;
	size_t i, soon = 0;

	if (ttl_ms <= 0)
		return;
	if ((e = find(key, now_ms)) == NULL) {
		for (i = 0; i < PWCACHE_MAX; i++) {
			if (cache[i].until_ms <= now_ms) {
				soon = i;
				break;
			}
			if (cache[i].until_ms < cache[soon].until_ms)
				soon = i;
		}
		e = &cache[soon];
		memcpy(e->key, key, PWCACHE_KEY_LEN);
	}
	e->good = good;
	e->until_ms = now_ms + ttl_ms;
}

void
pwcache_flush(void)
{
	util_wipe(cache, sizeof(cache));
}
