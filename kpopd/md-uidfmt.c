/* SPDX-License-Identifier: MIT */
/*
 * kpopd/md-uidfmt.c: the uidl_format setting (kpopd.conf(5)) and
 * Dovecot's pop3_uidl_format templates, expanded as Dovecot 2.3's
 * var_expand() expands them for a Maildir message: the variables %u
 * (IMAP UID), %v (UIDVALIDITY), %f (the base file name), %g (the GUID:
 * the uidlist's G field, else the base file name) and their long forms,
 * "%%", the modifiers L U X R M T E D and the [-][0]width[.[0][-]width]
 * offset and width rules.  What Dovecot cannot give for a Maildir (%m,
 * the MD5 of the headers, is an mbox value) or what depends on its own
 * process (%{pid}, %{hostname}, %H and %N hashes) is refused with a
 * message, so that a setting either reproduces Dovecot's UIDLs or does
 * not load.  Also the other sources' names: courier (mdir-courier.c)
 * and x-uidl:CUTOFF (mdir-xuidl.c), the cutoff read here.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "common/limits.h"
#include "common/util.h"
#include "kpopd/md-int.h"

/* Digits at p[0 .. n) as a number up to max: 0, or -1. */
static int
md_cut_num(const char *p, size_t n, unsigned long long max,
    unsigned long long *v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return -1;
	return util_parse_uint(p, n, max, v);
}

int
md_uidfmt_cutoff(const char *text, unsigned long long *secsp, char *err,
    size_t errlen)
{
	static const unsigned char mdays[] = { 31, 29, 31, 30, 31, 30, 31,
	    31, 30, 31, 30, 31 };
	unsigned long long y, mo, d, h = 0, mi = 0, sec = 0, v;
	size_t n = strlen(text);
	struct tm tm;
	time_t t;

	if (n > 0 && n <= 12 && md_cut_num(text, n, MD_SIZE_MAX, &v) == 0) {
		*secsp = v;	/* seconds since 1970 */
		goto check;
	}
	/* YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC. */
	if ((n != 10 && n != 20) || text[4] != '-' || text[7] != '-' ||
	    md_cut_num(text, 4, 9999, &y) == -1 || y < 1970 ||
	    md_cut_num(text + 5, 2, 12, &mo) == -1 || mo == 0 ||
	    md_cut_num(text + 8, 2, 31, &d) == -1 || d == 0 ||
	    d > mdays[mo - 1])
		goto bad;
	if (n == 20 && (text[10] != 'T' || text[13] != ':' ||
	    text[16] != ':' || text[19] != 'Z' ||
	    md_cut_num(text + 11, 2, 23, &h) == -1 ||
	    md_cut_num(text + 14, 2, 59, &mi) == -1 ||
	    md_cut_num(text + 17, 2, 59, &sec) == -1))
		goto bad;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (int)y - 1900;
	tm.tm_mon = (int)mo - 1;
	tm.tm_mday = (int)d;
	tm.tm_hour = (int)h;
	tm.tm_min = (int)mi;
	tm.tm_sec = (int)sec;
	if ((t = timegm(&tm)) == (time_t)-1 || tm.tm_mday != (int)d)
		goto bad;
	*secsp = (unsigned long long)t;
check:
	if (*secsp == 0 || *secsp > (unsigned long long)time(NULL)) {
		util_snprintf(err, errlen, "x-uidl:%s: the cutoff must be a "
		    "moment past (the switch): until then, new mail could "
		    "choose its own UIDL", text);
		return -1;
	}
	return 0;
bad:
	util_snprintf(err, errlen, "x-uidl:%s: the cutoff is not "
	    "YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ (UTC) or seconds since 1970",
	    text);
	return -1;
}

int
md_uidfmt_setting(const char *setting, const char **fmtp, char *err,
    size_t errlen)
{
	static const struct md_uidvars dummy = { 1, 1, "1.M1P1.host", 11,
	    NULL, 0 };
	char out[MD_UIDFMT_OUT_MAX];
	unsigned long long cutoff;
	size_t len;

	*fmtp = NULL;
	if (strcmp(setting, "filename") == 0)
		return MD_UIDL_FILENAME;
	if (strcmp(setting, "courier") == 0)
		return MD_UIDL_COURIER;
	if (strcmp(setting, "x-uidl") == 0) {
		util_snprintf(err, errlen, "x-uidl needs its cutoff "
		    "(x-uidl:YYYY-MM-DD): without one, any sender could "
		    "choose the UIDL of the mail it sends");
		return -1;
	}
	if (strncmp(setting, "x-uidl:", 7) == 0) {
		*fmtp = setting + 7;
		if (md_uidfmt_cutoff(*fmtp, &cutoff, err, errlen) == -1)
			return -1;
		return MD_UIDL_XUIDL;
	}
	if (strcmp(setting, "dovecot-saved") == 0)
		*fmtp = MD_UIDFMT_DOVECOT_DEFAULT;
	else if (strncmp(setting, "dovecot:", 8) == 0)
		*fmtp = setting + 8;
	else {
		util_snprintf(err, errlen, "'%s' is not filename, "
		    "dovecot-saved, dovecot:FORMAT, courier or "
		    "x-uidl:CUTOFF", setting);
		return -1;
	}
	if ((*fmtp)[0] == '\0' || strlen(*fmtp) > MD_UIDFMT_MAX) {
		util_snprintf(err, errlen, "'%s': the format must have 1 to "
		    "%d characters", setting, MD_UIDFMT_MAX);
		return -1;
	}
	if (md_uidfmt_expand(*fmtp, &dummy, out, &len, err, errlen) == -1)
		return -1;
	return MD_UIDL_DOVECOT;
}

/* ---- the modifiers ---- */

/*
 * A value being expanded: its bytes in buf (NUL-terminated, at most
 * MD_UIDFMT_OUT_MAX - 1 of them).
 */
struct md_val {
	char	buf[MD_UIDFMT_OUT_MAX];
	size_t	len;
};

static void
md_val_set(struct md_val *v, const char *s, size_t len)
{
	if (len > sizeof(v->buf) - 1)
		len = sizeof(v->buf) - 1;
	memcpy(v->buf, s, len);
	v->buf[len] = '\0';
	v->len = len;
}

/* Dovecot's str_to_ullong: all digits, no sign, no overflow; else 0. */
static unsigned long long
md_val_number(const struct md_val *v)
{
	unsigned long long n;

	if (util_parse_uint(v->buf, v->len, ~0ULL, &n) == -1)
		return 0;
	return n;
}

/* Apply modifier c to v.  Returns 0, or -1 for one not supported. */
static int
md_modify(char c, struct md_val *v)
{
	struct md_val t;
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned int diglen = 0;
	size_t i, k;

	switch (c) {
	case 'L':
	case 'U':
		for (i = 0; i < v->len; i++) {
			if (c == 'L' && v->buf[i] >= 'A' && v->buf[i] <= 'Z')
				v->buf[i] = (char)(v->buf[i] - 'A' + 'a');
			else if (c == 'U' && v->buf[i] >= 'a' &&
			    v->buf[i] <= 'z')
				v->buf[i] = (char)(v->buf[i] - 'a' + 'A');
		}
		return 0;
	case 'X':
		v->len = (size_t)snprintf(v->buf, sizeof(v->buf), "%llx",
		    md_val_number(v));
		return 0;
	case 'R':
		for (i = 0; i < v->len / 2; i++) {
			char x = v->buf[i];

			v->buf[i] = v->buf[v->len - 1 - i];
			v->buf[v->len - 1 - i] = x;
		}
		return 0;
	case 'M':
		if (EVP_Digest(v->buf, v->len, dig, &diglen, EVP_md5(),
		    NULL) != 1 || diglen != 16)
			return -1;
		util_hex(dig, 16, v->buf);
		v->len = 32;
		v->buf[32] = '\0';
		return 0;
	case 'T':
		while (v->len > 0 && (v->buf[v->len - 1] == ' ' ||
		    (v->buf[v->len - 1] >= '\t' && v->buf[v->len - 1] <= '\r')))
			v->buf[--v->len] = '\0';
		return 0;
	case 'E':
	case 'D':
		/* E: backslash before \ " '; D: "." as ",dc=". */
		for (i = k = 0; i < v->len && k + 5 < sizeof(t.buf); i++) {
			if (c == 'E' && (v->buf[i] == '\\' ||
			    v->buf[i] == '"' || v->buf[i] == '\'')) {
				t.buf[k++] = '\\';
				t.buf[k++] = v->buf[i];
			} else if (c == 'D' && v->buf[i] == '.') {
				memcpy(t.buf + k, ",dc=", 4);
				k += 4;
			} else
				t.buf[k++] = v->buf[i];
		}
		md_val_set(v, t.buf, k);
		return 0;
	default:
		return -1;
	}
}

/* The value of long key (key, len): 0, or -1 with err set. */
static int
md_long_key(const char *key, size_t len, const struct md_uidvars *vars,
    struct md_val *v, char *err, size_t errlen)
{
#define KEY_IS(s)	(len == sizeof(s) - 1 && memcmp(key, s, len) == 0)
	if (KEY_IS("uid"))
		v->len = (size_t)snprintf(v->buf, sizeof(v->buf), "%lu",
		    (unsigned long)vars->uid);
	else if (KEY_IS("uidvalidity"))
		v->len = (size_t)snprintf(v->buf, sizeof(v->buf), "%lu",
		    (unsigned long)vars->uidvalidity);
	else if (KEY_IS("filename"))
		md_val_set(v, vars->name, vars->namelen);
	else if (KEY_IS("guid")) {
		if (vars->guid != NULL)
			md_val_set(v, vars->guid, vars->guidlen);
		else
			md_val_set(v, vars->name, vars->namelen);
	} else {
		util_snprintf(err, errlen, "%%{%.*s}: %s", (int)len, key,
		    KEY_IS("md5") ? "the MD5 of the headers is an mbox value "
		    "in Dovecot, not computable for a Maildir" :
		    "not supported (uid, uidvalidity, filename and guid are)");
		return -1;
	}
	return 0;
#undef KEY_IS
}

int
md_uidfmt_expand(const char *fmt, const struct md_uidvars *vars, char *out,
    size_t *lenp, char *err, size_t errlen)
{
	struct md_val v;
	const char *p, *q, *end;
	size_t n = 0, vlen, i;
	long long offset, width;
	int zero, sign, nmod;
	char mods[MD_UIDFMT_MODS_MAX], key;

	for (p = fmt; *p != '\0'; p++) {
		if (*p != '%') {
			if (n < MD_UIDFMT_OUT_MAX - 1)
				out[n++] = *p;
			continue;
		}
		p++;
		offset = width = 0;
		zero = 0;
		sign = 1;
		/* [-][0]<width>[.[0][-]<width>], as var_expand reads it. */
		if (*p == '-') {
			sign = -1;
			p++;
		}
		if (*p == '0') {
			zero = 1;
			p++;
		}
		for (; *p >= '0' && *p <= '9' && width < 100000; p++)
			width = width * 10 + (*p - '0');
		if (*p >= '0' && *p <= '9')
			goto toolong;
		if (*p == '.') {
			offset = sign * width;
			sign = 1;
			width = 0;
			zero = 0;
			p++;
			if (*p == '0') {
				zero = 1;
				p++;
			}
			if (*p == '-') {
				sign = -1;
				p++;
			}
			for (; *p >= '0' && *p <= '9' && width < 100000; p++)
				width = width * 10 + (*p - '0');
			if (*p >= '0' && *p <= '9')
				goto toolong;
			width *= sign;
		}
		if (width > MD_UIDFMT_OUT_MAX || width < -MD_UIDFMT_OUT_MAX ||
		    offset > MD_UIDFMT_OUT_MAX || offset < -MD_UIDFMT_OUT_MAX)
			goto toolong;
		for (nmod = 0; nmod < MD_UIDFMT_MODS_MAX &&
		    *p != '\0' && strchr("LUEXRHNMDT", *p) != NULL; p++)
			mods[nmod++] = *p;
		if (*p == '\0') {
			util_snprintf(err, errlen, "'%s' ends inside a %% "
			    "variable", fmt);
			return -1;
		}
		if (*p == '{' && strchr(p, '}') != NULL) {
			end = strchr(p, '}');
			if (md_long_key(p + 1, (size_t)(end - p - 1), vars, &v,
			    err, errlen) == -1)
				return -1;
			p = end;
		} else {
			key = *p;
			if (key == 'u')
				v.len = (size_t)snprintf(v.buf, sizeof(v.buf),
				    "%lu", (unsigned long)vars->uid);
			else if (key == 'v')
				v.len = (size_t)snprintf(v.buf, sizeof(v.buf),
				    "%lu", (unsigned long)vars->uidvalidity);
			else if (key == 'f')
				md_val_set(&v, vars->name, vars->namelen);
			else if (key == 'g')
				(void)md_long_key("guid", 4, vars, &v, err,
				    errlen);
			else if (key == '%')
				md_val_set(&v, "%", 1);
			else {
				util_snprintf(err, errlen, "%%%c: %s", key,
				    key == 'm' ? "the MD5 of the headers is an "
				    "mbox value in Dovecot, not computable for "
				    "a Maildir" : "not a variable (%u, %v, %f "
				    "and %g are)");
				return -1;
			}
		}
		for (i = 0; i < (size_t)nmod; i++)
			if (md_modify(mods[i], &v) == -1) {
				util_snprintf(err, errlen, "the %%%c modifier "
				    "is not supported (L U X R M T E D are)",
				    mods[i]);
				return -1;
			}
		/* Offset, then width: truncate, or pad with zeros. */
		q = v.buf;
		vlen = v.len;
		if (offset < 0) {
			if (vlen > (size_t)-offset) {
				q += vlen - (size_t)-offset;
				vlen = (size_t)-offset;
			}
		} else {
			while (vlen > 0 && offset > 0) {
				q++;
				vlen--;
				offset--;
			}
		}
		if (width != 0 && !zero) {
			if (width < 0)
				width = (long long)vlen + width;
			if (width < 0)
				width = 0;
			if ((size_t)width < vlen)
				vlen = (size_t)width;
		} else if (width > 0) {
			for (; (long long)vlen < width &&
			    n < MD_UIDFMT_OUT_MAX - 1; width--)
				out[n++] = '0';
		}
		for (i = 0; i < vlen && n < MD_UIDFMT_OUT_MAX - 1; i++)
			out[n++] = q[i];
	}
	out[n] = '\0';
	*lenp = n;
	return 0;
toolong:
	util_snprintf(err, errlen, "'%s': an offset or width over %d", fmt,
	    MD_UIDFMT_OUT_MAX);
	return -1;
}
