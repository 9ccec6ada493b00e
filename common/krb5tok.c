/* SPDX-License-Identifier: MIT */
/*
 * common/krb5tok.c: the service principal a client's Kerberos token asks
 * for, read from its DER.  See krb5tok.h.
 */
#include "config.h"

#include <string.h>

#include "common/krb5tok.h"

/* DER identifier octets (X.690 s.8.1.2); every one here is one byte. */
#define T_INTEGER	0x02
#define T_BITSTRING	0x03
#define T_OID		0x06
#define T_GENSTRING	0x1b		/* GeneralString: Realm and names */
#define T_SEQUENCE	0x30
#define T_APP(n)	(0x60 | (n))	/* [APPLICATION n], constructed */
#define T_CTX(n)	(0xa0 | (n))	/* [n], constructed (explicit tag) */

/* 1.2.840.113554.1.2.2, the krb5 GSS-API mechanism (RFC 1964 s.1). */
static const unsigned char kt_krb5_oid[] = {
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02
};
/* TOK_ID of an initial context token carrying a KRB_AP_REQ (s.1.1). */
static const unsigned char kt_ap_req_id[] = { 0x01, 0x00 };

/*
 * The one tag and length reader.  The element at *p, before end, must
 * have identifier tag; then *p is set to its content and *cend to the end
 * of that content.  Lengths are definite: the short form, or the minimal
 * long form in at most KRB5TOK_LENLEN_MAX bytes, and within end.
 * Returns 0, or -1 (*p then undefined).
 */
static int
kt_elem(const unsigned char **p, const unsigned char *end, unsigned char tag,
    const unsigned char **cend)
{
	const unsigned char *s = *p;
	size_t n, k;

	if (end - s < 2 || s[0] != tag)
		return -1;
	n = s[1];
	s += 2;
	if (n & 0x80) {
		/* 0x80 is BER's indefinite form; a leading 0 is not minimal. */
		k = n & 0x7f;
		if (k == 0 || k > KRB5TOK_LENLEN_MAX ||
		    (size_t)(end - s) < k || s[0] == 0)
			return -1;
		for (n = 0; k > 0; k--)
			n = n << 8 | *s++;
		if (n < 0x80)
			return -1;	/* the short form was required */
	}
	if (n > (size_t)(end - s))
		return -1;
	*p = s;
	*cend = s + n;
	return 0;
}

/*
 * An explicitly tagged field, [ctx] { element with identifier tag }, the
 * inner element filling the outer: *p becomes the inner content, *cend
 * its end (the end of the field too).  Returns 0 or -1.
 */
static int
kt_field(const unsigned char **p, const unsigned char *end, unsigned char ctx,
    unsigned char tag, const unsigned char **cend)
{
	const unsigned char *fend;

	if (kt_elem(p, end, ctx, &fend) == -1 ||
	    kt_elem(p, fend, tag, cend) == -1 || *cend != fend)
		return -1;
	return 0;
}

/* [ctx] INTEGER equal to want (0-127); *p moves past it.  Returns 0, -1. */
static int
kt_int(const unsigned char **p, const unsigned char *end, unsigned char ctx,
    unsigned char want)
{
	const unsigned char *e;

	if (kt_field(p, end, ctx, T_INTEGER, &e) == -1 || e - *p != 1 ||
	    **p != want)
		return -1;
	*p = e;
	return 0;
}

/*
 * Append sep (unless NUL), then the n bytes at s, escaped, to out, whose
 * first *o bytes are used.  Returns 0, or -1 if that and a NUL would not
 * fit in outlen.
 */
static int
kt_put(char *out, size_t outlen, size_t *o, char sep, const unsigned char *s,
    size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, k;

	if (sep != '\0') {
		if (outlen - *o < 2)
			return -1;
		out[(*o)++] = sep;
	}
	for (i = 0; i < n; i++) {
		char e[4] = { '\\', 'x', hex[s[i] >> 4], hex[s[i] & 0xf] };

		k = 4;
		if (s[i] >= 0x20 && s[i] <= 0x7e &&
		    strchr("/@\\", s[i]) == NULL) {
			e[0] = (char)s[i];
			k = 1;
		}
		if (outlen - *o <= k)
			return -1;
		memcpy(out + *o, e, k);
		*o += k;
	}
	return 0;
}

int
krb5tok_sname(const void *tok, size_t len, char *out, size_t outlen)
{
	const unsigned char *p = tok, *end = p + len, *e, *req, *tkt, *pn;
	const unsigned char *names, *realm, *realmend;
	size_t o = 0, ncomp = 0;

	if (outlen == 0)
		return -1;
	/* GSS-API: [APPLICATION 0] { OID, TOK_ID, AP-REQ }, end to end. */
	if (len > 0 && p[0] == T_APP(0)) {
		if (kt_elem(&p, end, T_APP(0), &e) == -1 || e != end ||
		    kt_elem(&p, end, T_OID, &e) == -1 ||
		    (size_t)(e - p) != sizeof(kt_krb5_oid) ||
		    memcmp(p, kt_krb5_oid, sizeof(kt_krb5_oid)) != 0 ||
		    end - e < 2 || memcmp(e, kt_ap_req_id, 2) != 0)
			goto fail;
		p = e + 2;
	}
	/* AP-REQ: [APPLICATION 14] SEQUENCE, pvno 5, msg-type 14. */
	if (kt_elem(&p, end, T_APP(14), &e) == -1 || e != end ||
	    kt_elem(&p, end, T_SEQUENCE, &req) == -1 || req != end ||
	    kt_int(&p, req, T_CTX(0), 5) == -1 ||
	    kt_int(&p, req, T_CTX(1), 14) == -1 ||
	    kt_field(&p, req, T_CTX(2), T_BITSTRING, &e) == -1)
		goto fail;
	p = e;
	/* ticket [3]: [APPLICATION 1] SEQUENCE, tkt-vno 5, realm [1]. */
	if (kt_field(&p, req, T_CTX(3), T_APP(1), &e) == -1 ||
	    kt_elem(&p, e, T_SEQUENCE, &tkt) == -1 || tkt != e ||
	    kt_int(&p, tkt, T_CTX(0), 5) == -1 ||
	    kt_field(&p, tkt, T_CTX(1), T_GENSTRING, &realmend) == -1)
		goto fail;
	realm = p;
	p = realmend;
	/* sname [2]: SEQUENCE { name-type [0] Int32, name-string [1] }. */
	if (kt_field(&p, tkt, T_CTX(2), T_SEQUENCE, &pn) == -1 ||
	    kt_field(&p, pn, T_CTX(0), T_INTEGER, &e) == -1 ||
	    e - p < 1 || e - p > 4)
		goto fail;
	p = e;
	if (kt_field(&p, pn, T_CTX(1), T_SEQUENCE, &names) == -1 ||
	    names != pn)
		goto fail;
	for (; p < names; p = e)
		if (++ncomp > KRB5TOK_COMPONENTS_MAX ||
		    kt_elem(&p, names, T_GENSTRING, &e) == -1 ||
		    kt_put(out, outlen, &o, ncomp > 1 ? '/' : '\0', p,
		    (size_t)(e - p)) == -1)
			goto fail;
	if (ncomp == 0 || realm == realmend ||
	    kt_put(out, outlen, &o, '@', realm, (size_t)(realmend - realm)) ==
	    -1)
		goto fail;
	/* enc-part [3] ends the ticket; authenticator [4] the AP-REQ. */
	p = pn;
	if (kt_field(&p, tkt, T_CTX(3), T_SEQUENCE, &e) == -1 || e != tkt)
		goto fail;
	p = e;
	if (kt_field(&p, req, T_CTX(4), T_SEQUENCE, &e) == -1 || e != req)
		goto fail;
	out[o] = '\0';
	return 0;
fail:
	out[0] = '\0';
	return -1;
}
