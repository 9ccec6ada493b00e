/* SPDX-License-Identifier: MIT */
/*
 * kpop/hdr.c: a message's header as kpop reads and extends it (hdr.h):
 * the end of the header, the envelope sender from Return-Path, mpop's
 * %F, and the Received: line.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "kpop/hdr.h"

size_t
hdr_end(const char *buf, size_t len)
{
	const char *p;

	if (len > 0 && buf[0] == '\n')
		return 1;
	for (p = buf; (p = memchr(p, '\n', len - (size_t)(p - buf))) != NULL;
	    p++)
		if ((size_t)(p - buf) + 1 < len && p[1] == '\n')
			return (size_t)(p - buf) + 2;
	return 0;
}

/*
 * The first Return-Path field's value in the header, unfolded, in out;
 * 1, or 0 if there is none or it is longer than outlen - 1.
 */
static int
hdr_field(const char *buf, size_t len, const char *name, char *out,
    size_t outlen)
{
	const char *p = buf, *end, *eol;
	size_t nl = strlen(name), o = 0;

	if ((end = buf + hdr_end(buf, len)) == buf)
		end = buf + len;
	while (p < end && *p != '\n') {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 &&
		    p[nl] == ':')
			break;
		p = eol + 1;
	}
	if (p >= end || *p == '\n')
		return 0;
	/* The value: this line and each that starts with a blank. */
	for (p += nl + 1; p < end; p++) {
		if (*p == '\n') {
			if (p + 1 >= end || (p[1] != ' ' && p[1] != '\t'))
				break;
			continue;
		}
		if (*p == '\r' && p + 1 < end && p[1] == '\n')
			continue;
		if (o + 1 >= outlen)
			return 0;
		out[o++] = *p;
	}
	out[o] = '\0';
	return 1;
}

/* Bytes of a local part or domain kpop accepts (hdr.h). */
static int
hdr_addr_byte(int c, int domain)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '-')
		return 1;
	return !domain && c != '\0' && strchr("_+=/", c) != NULL;
}

/* Whether a is local@domain as hdr.h says. */
static int
hdr_addr_ok(const char *a)
{
	const char *at = strrchr(a, '@'), *p;
	size_t dl;

	if (at == NULL || at == a || a[0] == '-' || a[0] == '.')
		return 0;
	for (p = a; p < at; p++)
		if (!hdr_addr_byte((unsigned char)*p, 0))
			return 0;
	dl = strlen(at + 1);
	if (dl == 0)
		return 0;
	p = at + 1;
	if (p[0] == '[') {
		if (dl < 3 || p[dl - 1] != ']')
			return 0;
		for (p++; *p != ']'; p++)
			if (!hdr_addr_byte((unsigned char)*p, 1) && *p != ':')
				return 0;
		return p[1] == '\0';
	}
	if (p[0] == '-' || p[0] == '.')
		return 0;
	for (; *p != '\0'; p++)
		if (!hdr_addr_byte((unsigned char)*p, 1))
			return 0;
	return 1;
}

int
hdr_return_path(const char *buf, size_t len, char *out, size_t outlen)
{
	char v[HDR_PATH_FIELD_MAX], *a;
	size_t i, o = 0, n;
	int depth = 0;

	if (outlen > 0)
		out[0] = '\0';
	if (!hdr_field(buf, len, "Return-Path", v, sizeof(v)))
		return HDR_SENDER_NONE;
	/* Comments and blanks out; any other control or 8-bit byte: no. */
	for (i = 0; v[i] != '\0'; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 && c != '\t')
			return HDR_SENDER_NONE;
		if (c >= 0x7f || c == '\\' || c == '"')
			return HDR_SENDER_NONE;
		if (c == '(')
			depth++;
		else if (c == ')') {
			if (depth-- == 0)
				return HDR_SENDER_NONE;
			/* A comment stands for a blank. */
			if (depth == 0 && o > 0 && v[o - 1] != ' ')
				v[o++] = ' ';
		} else if (depth == 0 && (c != ' ' && c != '\t'))
			v[o++] = (char)c;
		else if (depth == 0 && o > 0 && v[o - 1] != ' ')
			v[o++] = ' ';
	}
	if (depth != 0)
		return HDR_SENDER_NONE;
	/* Blanks may stand only at the ends and beside < > @ (CFWS). */
	for (i = 0, n = 0; i < o; i++)
		if (v[i] != ' ')
			v[n++] = v[i];
		else if (n > 0 && i + 1 < o && strchr("<>@", v[n - 1]) ==
		    NULL && strchr("<>@", v[i + 1]) == NULL)
			return HDR_SENDER_NONE;
	o = n;
	v[o] = '\0';
	a = v;
	n = o;
	if (n >= 2 && a[0] == '<' && a[n - 1] == '>') {
		a[--n] = '\0';
		a++;
		n--;
	}
	if (n == 0)
		return HDR_SENDER_NULL;
	/* A source route (RFC 5321 s.4.1.2 "@a,@b:"): ignored, as s.C. */
	if (a[0] == '@') {
		char *colon = strchr(a, ':');

		if (colon == NULL)
			return HDR_SENDER_NONE;
		a = colon + 1;
		n = strlen(a);
	}
	if (n + 1 > outlen || !hdr_addr_ok(a))
		return HDR_SENDER_NONE;
	memcpy(out, a, n + 1);
	return HDR_SENDER_ADDR;
}

void
hdr_filter_sender(const char *s, char *out, size_t outlen)
{
	size_t i;

	if (outlen == 0)
		return;
	if (s == NULL || *s == '\0')
		s = "MAILER-DAEMON";
	for (i = 0; s[i] != '\0' && i + 1 < outlen; i++) {
		int c = (unsigned char)s[i];

		out[i] = (char)((c >= 'a' && c <= 'z') || (c >= 'A' &&
		    c <= 'Z') || (c >= '0' && c <= '9') || strchr(".@_+/-",
		    c) != NULL ? c : '_');
	}
	out[i] = '\0';
}

/* s if it is a host name (or an IPv6 address) fit for a Received line. */
static const char *
hdr_host(const char *s, char *buf, size_t buflen)
{
	size_t i, n = strlen(s);
	int colon = 0;

	if (n == 0 || n > HDR_HOST_MAX)
		return "unknown";
	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == ':')
			colon = 1;
		else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-'))
			return "unknown";
	}
	if (!colon)
		return s;
	for (i = 0; i < n; i++)
		if (strchr("0123456789abcdefABCDEF:.", s[i]) == NULL)
			return "unknown";
	if (util_snprintf(buf, buflen, "[IPv6:%s]", s) == -1)
		return "unknown";
	return buf;
}

/*
 * s kept to [A-Za-z0-9._+-] (and single blanks inside, if blanks) and
 * what fits buf, in buf.
 */
static const char *
hdr_word(const char *s, char *buf, size_t buflen, int blanks)
{
	size_t i, o = 0;

	for (i = 0; s[i] != '\0' && o + 1 < buflen; i++)
		if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    strchr("._+-", s[i]) != NULL)
			buf[o++] = s[i];
		else if (blanks && s[i] == ' ' && o > 0 && buf[o - 1] != ' ')
			buf[o++] = ' ';
	while (o > 0 && buf[o - 1] == ' ')
		o--;
	buf[o] = '\0';
	return buf;
}

struct fold {
	char	*out;
	size_t	 len, max, col;
	int	 bad;
};

/* One unit of the line, after a blank or a fold. */
static void
fold_add(struct fold *f, const char *w)
{
	size_t n = strlen(w);

	if (f->col > 0 && f->col + 1 + n < HDR_FOLD_MAX) {
		if (f->len + 1 < f->max)
			f->out[f->len++] = ' ';
		f->col++;
	} else if (f->col > 0) {
		if (f->len + 2 < f->max) {
			f->out[f->len++] = '\n';
			f->out[f->len++] = '\t';
		}
		f->col = 8;	/* a tab, as a terminal shows it */
	}
	if (f->col + n >= HDR_FOLD_MAX || f->len + n + 2 > f->max) {
		f->bad = 1;
		return;
	}
	memcpy(f->out + f->len, w, n);
	f->len += n;
	f->col += n;
}

size_t
hdr_received(const struct hdr_received *r, char *out, size_t outlen)
{
	static const char *const wday[] = { "Sun", "Mon", "Tue", "Wed",
	    "Thu", "Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char by[HDR_HOST_MAX + 1], hb1[HDR_HOST_MAX + 16];
	char hb2[HDR_HOST_MAX + 16], w1[HDR_WORD_MAX + 1], w2[HDR_WORD_MAX + 1];
	char w3[HDR_WORD_MAX + 1], w4[HDR_ID_MAX + 2], id[HDR_ID_MAX + 1];
	char cmt[3 * HDR_WORD_MAX + 16], date[64];
	struct fold f = { out, 0, outlen, 0, 0 };
	struct tm tm;
	long off;

	if (r->by != NULL)
		util_strlcpy(by, r->by, sizeof(by));
	else if (gethostname(by, sizeof(by)) == -1)
		by[0] = '\0';
	by[sizeof(by) - 1] = '\0';
	if (localtime_r(&r->when, &tm) == NULL)
		return 0;
	off = tm.tm_gmtoff / 60;
	if (util_snprintf(date, sizeof(date), "%s, %02d %s %d %02d:%02d:%02d "
	    "%c%02ld%02ld", wday[tm.tm_wday % 7], tm.tm_mday,
	    mon[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, off < 0 ? '-' : '+', (off < 0 ? -off : off) / 60,
	    (off < 0 ? -off : off) % 60) == -1)
		return 0;
	if (r->login != NULL && r->login[0] != '\0')
		(void)util_snprintf(cmt, sizeof(cmt), "(kpop %s, %s)",
		    hdr_word(r->version, w1, sizeof(w1), 0),
		    hdr_word(r->login, w2, sizeof(w2), 1));
	else
		(void)util_snprintf(cmt, sizeof(cmt), "(kpop %s)",
		    hdr_word(r->version, w1, sizeof(w1), 0));
	fold_add(&f, "Received:");
	fold_add(&f, "from");
	fold_add(&f, hdr_host(r->from, hb1, sizeof(hb1)));
	fold_add(&f, "by");
	fold_add(&f, hdr_host(by, hb2, sizeof(hb2)));
	fold_add(&f, cmt);
	fold_add(&f, "with");
	fold_add(&f, hdr_word(r->with, w3, sizeof(w3), 0));
	fold_add(&f, "id");
	(void)util_snprintf(w4, sizeof(w4), "%s;",
	    hdr_word(r->id, id, sizeof(id), 0));
	fold_add(&f, w4);
	fold_add(&f, date);
	if (f.bad || f.len + 2 > outlen)
		return 0;
	out[f.len++] = '\n';
	out[f.len] = '\0';
	return f.len;
}
