/* SPDX-License-Identifier: MIT */
/*
 * tests/common/krb5tok-t.c: tests for common/krb5tok.c, the service
 * principal read from a client's Kerberos token.  Tokens are built here,
 * DER element by element: a raw AP-REQ and the same as a GSS-API token,
 * three components, escaped bytes, long-form lengths; then every way of
 * being wrong (each truncation, in a buffer of exactly that size so that
 * ASan sees any over-read; a wrong OID, TOK_ID, pvno, msg-type or
 * tkt-vno; indefinite, non-minimal, overrunning, short and 64-bit
 * wrapping lengths; fields inside or after where they belong; too many
 * components; an output buffer too small).  Last, two real tokens MIT
 * krb5 1.20 made for pop/localhost@KPOP.TEST in a kdc-test realm: one
 * from krb5_mk_req, one from gss_init_sec_context.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/krb5tok.h"
#include "tap/basic.h"

/* Large enough for an enc-part past 65535 bytes (a 3-byte length). */
#define TOK_MAX		(80 * 1024)

/* A token under construction: elements are closed around their content. */
struct der {
	unsigned char	b[TOK_MAX];
	size_t		n;
};

/* How close_as() writes a length: right, or one of the wrong ways. */
enum len_mode {
	LEN_DER,		/* short or minimal long form */
	LEN_INDEF,		/* 0x80, BER's indefinite form */
	LEN_PLUS1,		/* one more than the content: overruns */
	LEN_LONG1,		/* 0x81 nn for a short length: not minimal */
	LEN_FIVE,		/* five length bytes */
	LEN_MINUS1,		/* one less than the content: bytes left over */
	LEN_LEAD0,		/* long form with a leading 0 byte */
	LEN_WRAP		/* nine bytes, 01 first, wrapping 64 bits */
};

/* Ways to put something where it does not belong. */
enum extra {
	X_PVNO = 1,		/* pvno as a 2-byte INTEGER, 05 00 */
	X_FIELD = 2,		/* name-string inside name-type's [0] */
	X_PN = 4,		/* a field after name-string */
	X_TKT = 8,		/* the authenticator inside the ticket */
	X_REQ = 16		/* a field after the authenticator */
};

static void
add(struct der *d, const void *p, size_t n)
{
	if (n > sizeof(d->b) - d->n)
		bail("token too large");
	memcpy(d->b + d->n, p, n);
	d->n += n;
}

/* Wrap everything added since mark m in tag and a length written as lm. */
static void
close_as(struct der *d, size_t m, unsigned char tag, enum len_mode lm)
{
	unsigned char h[16];
	size_t n = d->n - m, len = n, hl = 2, i;

	h[0] = tag;
	if (lm == LEN_PLUS1)
		len++;
	if (lm == LEN_MINUS1)
		len--;
	if (lm == LEN_INDEF)
		h[1] = 0x80;
	else if (lm == LEN_LONG1) {
		h[1] = 0x81;
		h[hl++] = (unsigned char)len;
	} else if (lm == LEN_FIVE) {
		h[1] = 0x85;
		for (i = 5; i > 0; i--)
			h[hl++] = (unsigned char)(len >> (8 * (i - 1)));
	} else if (lm == LEN_WRAP) {
		h[1] = 0x89;
		h[hl++] = 1;
		for (i = 8; i > 0; i--)
			h[hl++] = (unsigned char)((unsigned long long)len >>
			    (8 * (i - 1)));
	} else if (len < 0x80 && lm != LEN_LEAD0)
		h[1] = (unsigned char)len;
	else {
		for (i = 0; len >> (8 * i) != 0; i++)
			;
		if (lm == LEN_LEAD0)
			h[hl++] = 0;
		h[1] = (unsigned char)(0x80 | (hl - 2 + i));
		for (; i > 0; i--)
			h[hl++] = (unsigned char)(len >> (8 * (i - 1)));
	}
	if (hl > sizeof(d->b) - d->n)
		bail("token too large");
	memmove(d->b + m + hl, d->b + m, n);
	memcpy(d->b + m, h, hl);
	d->n += hl;
}

static void
close_(struct der *d, size_t m, unsigned char tag)
{
	close_as(d, m, tag, LEN_DER);
}

/* A whole element: tag, length, the n bytes at p. */
static void
tlv(struct der *d, unsigned char tag, const void *p, size_t n)
{
	size_t m = d->n;

	add(d, p, n);
	close_(d, m, tag);
}

/* [ctx] INTEGER v, v in 0-127. */
static void
ctx_int(struct der *d, unsigned char ctx, unsigned char v)
{
	size_t m = d->n;

	tlv(d, 0x02, &v, 1);
	close_(d, m, ctx);
}

/* What to build; tok_default() gives pop/localhost@KPOP.TEST, raw. */
struct tok {
	int		 gss;		/* wrap as a GSS-API token */
	const void	*oid;		/* its mechanism OID */
	size_t		 oidlen;
	const char	*tok_id;	/* its two TOK_ID bytes */
	unsigned char	 pvno, msg_type, tkt_vno;
	const char	*realm;
	size_t		 realmlen;
	const char	*comp[16];
	size_t		 ncomp;
	unsigned char	 str_tag;	/* of the name components */
	size_t		 encpart;	/* bytes of ticket ciphertext */
	enum len_mode	 realm_len;	/* how the realm string's length is */
	enum len_mode	 comp_len;	/* ... the last component's */
	enum len_mode	 apreq_len;	/* ... the AP-REQ's [APPLICATION 14] */
	enum len_mode	 gss_len;	/* ... the GSS-API [APPLICATION 0] */
	int		 extra;		/* enum extra bits */
};

static const unsigned char krb5_oid[] = {
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02
};
/* 1.2.840.48018.1.2.2, Microsoft's misencoding of it (SPNEGO only). */
static const unsigned char ms_oid[] = {
	0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02
};

static struct tok
tok_default(void)
{
	struct tok t = {
		.oid = krb5_oid, .oidlen = sizeof(krb5_oid), .tok_id = "\1\0",
		.pvno = 5, .msg_type = 14, .tkt_vno = 5,
		.realm = "KPOP.TEST", .realmlen = 9,
		.comp = { "pop", "localhost" }, .ncomp = 2, .str_tag = 0x1b,
		.encpart = 100
	};

	return t;
}

/* EncryptedData ::= SEQUENCE { etype [0], cipher [2] OCTET STRING }. */
static void
enc_data(struct der *d, unsigned char ctx, size_t n)
{
	size_t m = d->n, c;

	ctx_int(d, 0xa0, 18);		/* aes256-cts-hmac-sha1-96 */
	c = d->n;
	while (d->n - c < n)
		add(d, "Z", 1);
	close_(d, c, 0x04);
	close_(d, c, 0xa2);
	close_(d, m, 0x30);
	close_(d, m, ctx);
}

static size_t
build(struct der *d, const struct tok *t)
{
	size_t top, req, tkt, m, pn, ns, i;

	d->n = 0;
	top = d->n;
	if (t->gss) {
		tlv(d, 0x06, t->oid, t->oidlen);
		add(d, t->tok_id, 2);
	}
	req = d->n;
	if (t->extra & X_PVNO) {
		tlv(d, 0x02, "\5\0", 2);
		close_(d, req, 0xa0);
	} else
		ctx_int(d, 0xa0, t->pvno);
	ctx_int(d, 0xa1, t->msg_type);
	m = d->n;
	tlv(d, 0x03, "\0\0\0\0\0", 5);
	close_(d, m, 0xa2);
	tkt = d->n;
	ctx_int(d, 0xa0, t->tkt_vno);
	m = d->n;
	add(d, t->realm, t->realmlen);
	close_as(d, m, 0x1b, t->realm_len);
	close_(d, m, 0xa1);
	pn = d->n;
	ctx_int(d, 0xa0, 3);		/* KRB_NT_SRV_HST */
	ns = d->n;
	for (i = 0; i < t->ncomp; i++) {
		m = d->n;
		add(d, t->comp[i], strlen(t->comp[i]));
		close_as(d, m, t->str_tag, i + 1 == t->ncomp ? t->comp_len :
		    LEN_DER);
	}
	close_(d, ns, 0x30);
	close_(d, ns, 0xa1);
	if (t->extra & X_FIELD) {
		/* Drop the [0] header at pn, then close [0] around both. */
		memmove(d->b + pn, d->b + pn + 2, d->n - pn - 2);
		d->n -= 2;
		close_(d, pn, 0xa0);
	}
	if (t->extra & X_PN)
		ctx_int(d, 0xa2, 0);
	close_(d, pn, 0x30);
	close_(d, pn, 0xa2);
	enc_data(d, 0xa3, t->encpart);
	if (t->extra & X_TKT)
		enc_data(d, 0xa4, 40);
	close_(d, tkt, 0x30);
	close_(d, tkt, 0x61);
	close_(d, tkt, 0xa3);
	if (!(t->extra & X_TKT))
		enc_data(d, 0xa4, 40);
	if (t->extra & X_REQ)
		ctx_int(d, 0xa5, 0);
	close_(d, req, 0x30);
	close_as(d, req, 0x6e, t->apreq_len);
	if (t->gss)
		close_as(d, top, 0x60, t->gss_len);
	return d->n;
}

/* krb5tok_sname on a copy of exactly len bytes, for ASan's sake. */
static int
sname(const void *p, size_t len, char *out, size_t outlen)
{
	unsigned char *copy = malloc(len > 0 ? len : 1);
	int r;

	if (copy == NULL)
		bail("malloc");
	memcpy(copy, p, len);
	r = krb5tok_sname(copy, len, out, outlen);
	free(copy);
	return r;
}

/* Build t and check the name read from it (NULL: that it is refused). */
static void
check(const struct tok *t, const char *want, const char *what)
{
	static struct der d;
	char out[KRB5TOK_NAME_MAX];
	size_t n = build(&d, t);
	int r = sname(d.b, n, out, sizeof(out));

	if (want == NULL)
		ok(r == -1 && out[0] == '\0', "%s: refused", what);
	else if (is_int(r, 0, "%s", what))
		is_string(out, want, "%s: the name", what);
	else
		ok(0, "%s: the name", what);
}

/* Every proper prefix of the n bytes at p is refused. */
static void
check_prefixes(const unsigned char *p, size_t n, const char *what)
{
	char out[KRB5TOK_NAME_MAX];
	size_t i, bad = 0;

	for (i = 0; i < n; i++) {
		memset(out, 'x', sizeof(out));
		if (sname(p, i, out, sizeof(out)) != -1 || out[0] != '\0')
			bad++;
	}
	ok(bad == 0, "%s: all %zu truncations refused", what, n);
}

/*
 * Real tokens for pop/localhost@KPOP.TEST, made by MIT krb5 1.20.1 in a
 * throwaway kdc-test realm (the encrypted parts mean nothing elsewhere):
 * krb5_mk_req(), as KPOP sends it, and gss_init_sec_context() with
 * GSS_C_MUTUAL_FLAG, as AUTH GSSAPI sends it.
 */
static const char real_apreq[] =
    "6e82023d30820239a003020105a10302010ea20703050000000000a38201b561"
    "8201b1308201ada003020105a10b1b094b504f502e54455354a21b3019a00302"
    "0103a11230101b03706f701b096c6f63616c686f7374a382017a30820176a003"
    "020112a103020101a282016804820164ea78f03ad3dc11c17318098f314a2a5b"
    "8ff4c1df8096b9b66ff2efff4a0dfbe7148ea6bc4d7d0bc5d829d9a8af57f418"
    "ea90a7c5f3b5bcfd0fb15f8b78f820074378a5de32138b5c89f4eda24c37d31a"
    "a77448f3e2239c040311bcc1d5abb920e2831dec51238de0f030924dbbf74e89"
    "24bc8cb7231c5384a04d43b89d990475a12e371a05175f58a0ad97a3f7842b07"
    "c176c307440a2ae9245d522357c5634fc33f73e06180821a9d09c8ef8d977696"
    "16e340de1851cd3dfcb5f64cbef225857a9752c21657c11b6ef529bab7981e06"
    "887f3db285ecf7d297b19d3510a357b6644885547a7442cf592e0a071981d6f4"
    "9d71706abe75f11aa7689dd61b76df52fd2f7198c5bea55e04dba5643c9ae73e"
    "084cc645bfd4c7c5a8b07b4dd6697710a0be39e9a9574f5bce7409ca682d23e0"
    "e874e6c9c8c754f9ef5afad23d1997d4776c68723685ca3cc44e710053d9b522"
    "cc1eb68aed05e264adfa21bb6df652f4f98347dca46b3069a003020112a26204"
    "6073561e5c03414f6c180426536e25cdbd0d1b1b589e40daf0f4845225eadd46"
    "ee18ae6fbf361ad65a677aa53f38dfc90ac2c10e801f9c84d2b28256248dfa93"
    "d1f3c746d40a8fb39fd53ea80babc4f87944425796f46a1569814982a9116771"
    "5d";
static const char real_gss[] =
    "608202b006092a864886f71201020201006e82029f3082029ba003020105a103"
    "02010ea20703050020000000a38201b5618201b1308201ada003020105a10b1b"
    "094b504f502e54455354a21b3019a003020103a11230101b03706f701b096c6f"
    "63616c686f7374a382017a30820176a003020112a103020101a2820168048201"
    "64ea78f03ad3dc11c17318098f314a2a5b8ff4c1df8096b9b66ff2efff4a0dfb"
    "e7148ea6bc4d7d0bc5d829d9a8af57f418ea90a7c5f3b5bcfd0fb15f8b78f820"
    "074378a5de32138b5c89f4eda24c37d31aa77448f3e2239c040311bcc1d5abb9"
    "20e2831dec51238de0f030924dbbf74e8924bc8cb7231c5384a04d43b89d9904"
    "75a12e371a05175f58a0ad97a3f7842b07c176c307440a2ae9245d522357c563"
    "4fc33f73e06180821a9d09c8ef8d97769616e340de1851cd3dfcb5f64cbef225"
    "857a9752c21657c11b6ef529bab7981e06887f3db285ecf7d297b19d3510a357"
    "b6644885547a7442cf592e0a071981d6f49d71706abe75f11aa7689dd61b76df"
    "52fd2f7198c5bea55e04dba5643c9ae73e084cc645bfd4c7c5a8b07b4dd66977"
    "10a0be39e9a9574f5bce7409ca682d23e0e874e6c9c8c754f9ef5afad23d1997"
    "d4776c68723685ca3cc44e710053d9b522cc1eb68aed05e264adfa21bb6df652"
    "f4f98347dca481cc3081c9a003020112a281c10481be441e90a0781941af5951"
    "731f5b26a4ab68c278210c45ad86f797bde5b8740c052dc0214cd2104238865c"
    "1897d5773362f328993609d07d134a01677f7548f0e49218640ab69ecb8d1651"
    "f9ef7abda2821f6dd8da4d0c30dbdde03cc41106960733fc0dc04649db5fec23"
    "9e62401f8e9b81d1e1f9d17fb7cf523a9e9da962d9a6bbc524e41e1336955fc9"
    "1649ffb8254dc5632cca6f16e5787b67dc93d828d1884f0e1284118cfcd09252"
    "fdcb18e9115e70a650d069067ced3ca3411af99a";

static size_t
unhex(const char *h, unsigned char *out, size_t max)
{
	size_t n = strlen(h) / 2, i;
	unsigned int v;
	char two[3] = { 0 };

	if (n > max)
		bail("test vector too long");
	for (i = 0; i < n; i++) {
		memcpy(two, h + 2 * i, 2);
		v = (unsigned int)strtoul(two, NULL, 16);
		out[i] = (unsigned char)v;
	}
	return n;
}

int
main(void)
{
	static struct der d;
	static unsigned char real[4096];
	struct tok t;
	static char long_realm[200];	/* needs a 2-byte length */
	char out[KRB5TOK_NAME_MAX], small[64];
	size_t n, i, bad;
	int r;

	plan_lazy();

	t = tok_default();
	check(&t, "pop/localhost@KPOP.TEST", "raw AP-REQ");
	t.gss = 1;
	check(&t, "pop/localhost@KPOP.TEST", "GSS-API token");
	t = tok_default();
	t.comp[0] = "HTTP";
	t.comp[1] = "www.example.edu";
	t.comp[2] = "extra";
	t.ncomp = 3;
	check(&t, "HTTP/www.example.edu/extra@KPOP.TEST", "three components");
	t = tok_default();
	t.comp[0] = "pop";
	t.ncomp = 1;
	check(&t, "pop@KPOP.TEST", "one component");
	t = tok_default();
	t.realm = "KPOP\001.TEST\377";
	t.realmlen = 11;
	check(&t, "pop/localhost@KPOP\\x01.TEST\\xff", "realm bytes escaped");
	t = tok_default();
	t.realm = "KPOP\0TEST";
	t.realmlen = 9;
	check(&t, "pop/localhost@KPOP\\x00TEST", "a NUL escaped");
	t = tok_default();
	t.comp[1] = "evil/host@X.ORG\\x";
	t.comp[0] = "a b\n";
	check(&t, "a b\\x0a/evil\\x2fhost\\x40X.ORG\\x5cx@KPOP.TEST",
	    "separators, backslash and newline escaped, space kept");

	/* Long-form lengths: two bytes, then three. */
	t = tok_default();
	t.encpart = 300;
	n = build(&d, &t);
	ok(d.b[1] == 0x82, "a 300-byte enc-part makes 2-byte lengths");
	check(&t, "pop/localhost@KPOP.TEST", "long-form lengths");
	t.gss = 1;
	check(&t, "pop/localhost@KPOP.TEST", "long-form lengths, GSS-API");
	t = tok_default();
	t.encpart = 70000;
	n = build(&d, &t);
	ok(d.b[1] == 0x83, "a 70000-byte enc-part makes 3-byte lengths");
	check(&t, "pop/localhost@KPOP.TEST", "3-byte lengths");

	/* Every truncation of the valid tokens. */
	t = tok_default();
	n = build(&d, &t);
	check_prefixes(d.b, n, "raw AP-REQ");
	t.gss = 1;
	n = build(&d, &t);
	check_prefixes(d.b, n, "GSS-API token");
	t = tok_default();
	t.encpart = 300;
	n = build(&d, &t);
	check_prefixes(d.b, n, "long-form AP-REQ");

	/* Extra bytes after the token. */
	t = tok_default();
	n = build(&d, &t);
	d.b[n] = 0;
	is_int(sname(d.b, n + 1, out, sizeof(out)), -1, "a trailing byte");
	t.gss = 1;
	n = build(&d, &t);
	d.b[n] = 0;
	is_int(sname(d.b, n + 1, out, sizeof(out)), -1,
	    "a trailing byte, GSS-API");
	is_int(sname(d.b, 0, out, sizeof(out)), -1, "nothing at all");

	/* The wrong token. */
	t = tok_default();
	t.gss = 1;
	t.oid = ms_oid;
	check(&t, NULL, "Microsoft's krb5 OID");
	t.oid = krb5_oid;
	t.oidlen = 8;
	check(&t, NULL, "an OID cut short");
	t = tok_default();
	t.gss = 1;
	t.tok_id = "\2\0";
	check(&t, NULL, "TOK_ID 02 00 (AP-REP)");
	t.tok_id = "\1\1";
	check(&t, NULL, "TOK_ID 01 01");
	t = tok_default();
	t.pvno = 4;
	check(&t, NULL, "pvno 4");
	t = tok_default();
	t.msg_type = 13;
	check(&t, NULL, "msg-type 13");
	t = tok_default();
	t.tkt_vno = 4;
	check(&t, NULL, "tkt-vno 4");
	t = tok_default();
	t.str_tag = 0x0c;
	check(&t, NULL, "a component as a UTF8String");
	t = tok_default();
	t.ncomp = 0;
	check(&t, NULL, "no components");
	t = tok_default();
	t.realmlen = 0;
	check(&t, NULL, "an empty realm");

	/* Lengths. */
	t = tok_default();
	t.realm_len = LEN_INDEF;
	check(&t, NULL, "an indefinite length");
	t = tok_default();
	t.apreq_len = LEN_INDEF;
	check(&t, NULL, "an indefinite length outermost");
	t = tok_default();
	t.comp_len = LEN_PLUS1;
	check(&t, NULL, "a length overrunning its parent");
	t = tok_default();
	t.realm_len = LEN_PLUS1;
	check(&t, NULL, "a realm length overrunning its parent");
	t = tok_default();
	t.apreq_len = LEN_PLUS1;
	check(&t, NULL, "a length overrunning the token");
	t = tok_default();
	t.realm_len = LEN_LONG1;
	check(&t, NULL, "a non-minimal long-form length");
	t = tok_default();
	t.realm_len = LEN_FIVE;
	check(&t, NULL, "five length bytes");
	t = tok_default();
	memset(long_realm, 'R', sizeof(long_realm));
	t.realm = long_realm;
	t.realmlen = sizeof(long_realm);
	t.realm_len = LEN_WRAP;
	check(&t, NULL, "nine length bytes that wrap to the right one");
	t.realm_len = LEN_DER;
	n = build(&d, &t);
	ok(sname(d.b, n, out, sizeof(out)) == 0 && strlen(out) == 214,
	    "and in two bytes, the 200-byte realm is fine");
	t = tok_default();
	t.encpart = 300;
	t.apreq_len = LEN_LEAD0;
	check(&t, NULL, "a long-form length with a leading 0");
	t = tok_default();
	t.apreq_len = LEN_MINUS1;
	check(&t, NULL, "an AP-REQ shorter than the token");
	t = tok_default();
	t.gss = 1;
	t.gss_len = LEN_MINUS1;
	check(&t, NULL, "a GSS-API token shorter than its bytes");

	/* Fields where they do not belong. */
	t = tok_default();
	t.extra = X_PVNO;
	check(&t, NULL, "pvno 05 00 (1280)");
	t.extra = X_FIELD;
	check(&t, NULL, "name-string inside name-type's tag");
	t.extra = X_PN;
	check(&t, NULL, "a field after name-string");
	t.extra = X_TKT;
	check(&t, NULL, "the authenticator inside the ticket");
	t.extra = X_REQ;
	check(&t, NULL, "a field after the authenticator");

	/* Components: KRB5TOK_COMPONENTS_MAX, then one more. */
	t = tok_default();
	for (i = 0; i < KRB5TOK_COMPONENTS_MAX; i++)
		t.comp[i] = "c";
	t.ncomp = KRB5TOK_COMPONENTS_MAX;
	check(&t, "c/c/c/c/c/c/c/c/c/c@KPOP.TEST", "ten components");
	t.comp[t.ncomp++] = "c";
	check(&t, NULL, "eleven components");

	/* The output buffer: exactly enough, then every size short of it. */
	t = tok_default();
	n = build(&d, &t);
	i = strlen("pop/localhost@KPOP.TEST") + 1;
	is_int(sname(d.b, n, small, i), 0, "an output buffer just large "
	    "enough");
	is_string(small, "pop/localhost@KPOP.TEST", "and the name in it");
	for (bad = 0; i > 1; ) {
		i--;
		memset(small, 'x', sizeof(small));
		if (sname(d.b, n, small, i) != -1 || small[0] != '\0' ||
		    small[i] != 'x')
			bad++;
	}
	ok(bad == 0, "every smaller buffer: -1 and an empty name");
	t.realm = "\001";
	t.realmlen = 1;
	n = build(&d, &t);
	is_int(sname(d.b, n, small, 18), -1, "an escape that does not fit");
	is_int(sname(d.b, n, small, 19), 0, "an escape that just fits");
	is_string(small, "pop/localhost@\\x01", "and the name in it");
	is_int(sname(d.b, n, small, 0), -1, "no output buffer at all");

	/* Real tokens from MIT krb5. */
	n = unhex(real_apreq, real, sizeof(real));
	r = sname(real, n, out, sizeof(out));
	is_int(r, 0, "MIT krb5_mk_req AP-REQ (%zu bytes)", n);
	is_string(out, "pop/localhost@KPOP.TEST", "its name");
	check_prefixes(real, n, "MIT AP-REQ");
	for (bad = 0, i = 0; i < n; i++) {
		real[i] ^= 0xff;
		if (sname(real, n, out, sizeof(out)) == 0 &&
		    strchr(out, '@') == NULL)
			bad++;
		real[i] ^= 0xff;
	}
	ok(bad == 0, "MIT AP-REQ with each byte flipped: no crash, no "
	    "nonsense");
	n = unhex(real_gss, real, sizeof(real));
	r = sname(real, n, out, sizeof(out));
	is_int(r, 0, "MIT gss_init_sec_context token (%zu bytes)", n);
	is_string(out, "pop/localhost@KPOP.TEST", "its name");
	check_prefixes(real, n, "MIT GSS-API token");
	return 0;
}
