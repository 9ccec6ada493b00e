/* SPDX-License-Identifier: MIT */
/*
 * common/pop3.c: POP3 command parsing, response parsing, and the
 * multi-line encoder and decoder.  See pop3.h.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "common/pop3.h"

/* ---- server: commands ---- */

static int
pop3_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static char
pop3_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static int
pop3_is_alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9');
}

int
pop3_uidl_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > POP3_UIDL_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

int
pop3_parse_cmd(const char *line, size_t len, struct pop3_cmd *cmd)
{
	return pop3_parse_cmd_max(line, len, POP3_CMD_MAX, cmd);
}

int
pop3_parse_cmd_max(const char *line, size_t len, size_t max,
    struct pop3_cmd *cmd)
{
	size_t i, k, start;
	char *p;

	memset(cmd, 0, sizeof(*cmd));
	if (max > POP3_CMD_LIMIT)
		max = POP3_CMD_LIMIT;
	/* The limit counts the CRLF the line came with. */
	if (len + 2 > max)
		return POP3_CMD_TOOLONG;
	if (memchr(line, '\0', len) != NULL)
		return POP3_CMD_NUL;
	for (i = 0; i < len; i++)
		if (((unsigned char)line[i] < 0x20 && line[i] != '\t') ||
		    line[i] == 0x7f)
			return POP3_CMD_CTRL;
	memcpy(cmd->buf, line, len);
	cmd->buf[len] = '\0';
	memcpy(cmd->buf + POP3_CMD_LIMIT, line, len);
	cmd->buf[POP3_CMD_LIMIT + len] = '\0';
	p = cmd->buf;

	for (i = 0; i < len && pop3_is_blank(p[i]); i++)
		;
	if (i == len)
		return POP3_CMD_EMPTY;
	/* The keyword starts the line: no blanks before it. */
	if (i > 0)
		return POP3_CMD_KEYWORD;
	for (k = 0; k < len && !pop3_is_blank(p[k]); k++) {
		if (k == POP3_KEYWORD_MAX || !pop3_is_alnum(p[k]))
			return POP3_CMD_KEYWORD;
		cmd->keyword[k] = pop3_upper(p[k]);
	}
	cmd->keyword[k] = '\0';
	/* rest reads the second copy, which the blanks below stay in. */
	if (k < len) {
		cmd->rest = cmd->buf + POP3_CMD_LIMIT + k + 1;
		cmd->restlen = len - k - 1;
	} else {
		cmd->rest = cmd->buf + POP3_CMD_LIMIT + len;
		cmd->restlen = 0;
	}

	i = k;
	for (;;) {
		while (i < len && pop3_is_blank(p[i]))
			p[i++] = '\0';
		if (i == len)
			break;
		if (cmd->argc == POP3_ARGS_MAX)
			return POP3_CMD_ARGS;
		start = i;
		while (i < len && !pop3_is_blank(p[i]))
			i++;
		cmd->argv[cmd->argc] = p + start;
		cmd->arglen[cmd->argc] = i - start;
		cmd->argc++;
	}
	return POP3_CMD_OK;
}

int
pop3_parse_auth_line(char *line, size_t len, struct pop3_cmd *cmd)
{
	size_t mlen, k, i;
	int e;

	memset(cmd, 0, sizeof(*cmd));
	if (len + 2 > POP3_SASL_LINE_MAX || len < 5 ||
	    strncasecmp(line, "AUTH", 4) != 0 || line[4] != ' ')
		return POP3_CMD_TOOLONG;
	for (mlen = 0; 5 + mlen < len && line[5 + mlen] != ' '; mlen++)
		if ((unsigned char)line[5 + mlen] <= ' ' ||
		    line[5 + mlen] == 0x7f)
			return POP3_CMD_TOOLONG;	/* not "AUTH MECH IR" */
	if (mlen == 0 || mlen > POP3_ARG_MAX || 5 + mlen == len)
		return POP3_CMD_TOOLONG;
	k = 5 + mlen + 1;		/* the response */
	if (k == len)
		return POP3_CMD_TOOLONG;
	for (i = k; i < len; i++) {
		if (line[i] == '\0')
			return POP3_CMD_NUL;
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			return POP3_CMD_CTRL;
		if (line[i] == ' ')
			return POP3_CMD_ARGS;
	}
	/* "AUTH MECH" is short: the ordinary parser takes it. */
	if ((e = pop3_parse_cmd_max(line, k - 1, POP3_CMD_LIMIT, cmd)) !=
	    POP3_CMD_OK)
		return e;
	if (cmd->argc != 1)
		return POP3_CMD_TOOLONG;
	line[len] = '\0';
	cmd->argv[1] = line + k;
	cmd->arglen[1] = len - k;
	cmd->argc = 2;
	cmd->rest = line + 5;
	cmd->restlen = len - 5;
	return POP3_CMD_OK;
}

const char *
pop3_cmd_strerror(int e)
{
	switch (e) {
	case POP3_CMD_OK:
		return "no error";
	case POP3_CMD_EMPTY:
		return "empty command";
	case POP3_CMD_KEYWORD:
		return "unknown command";
	case POP3_CMD_NUL:
		return "NUL byte in command";
	case POP3_CMD_TOOLONG:
		return "command line too long";
	case POP3_CMD_ARGS:
		return "too many arguments";
	case POP3_CMD_CTRL:
		return "control character in command";
	default:
		return "invalid command";
	}
}

int
pop3_cmd_args_ok(const struct pop3_cmd *cmd, int min, int max)
{
	int i;

	if (cmd->argc < min || cmd->argc > max)
		return 0;
	for (i = 0; i < cmd->argc; i++)
		if (cmd->arglen[i] > POP3_ARG_MAX)
			return 0;
	return 1;
}

int
pop3_cmd_num(const struct pop3_cmd *cmd, int i, int zero_ok,
    unsigned long long max, unsigned long long *out)
{
	unsigned long long v;

	if (i < 0 || i >= cmd->argc)
		return -1;
	if (util_parse_uint(cmd->argv[i], cmd->arglen[i], max, &v) == -1)
		return -1;
	if (v == 0 && !zero_ok)
		return -1;
	*out = v;
	return 0;
}

/* ---- client: responses ---- */

/* RFC 2449 section 8: resp-level = 1*rchar, rchar excludes '/' and ']'. */
static int
pop3_code_ok(const char *s, size_t len)
{
	size_t i;
	int level = 0;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '/') {
			if (level == 0)
				return 0;
			level = 0;
		} else if (c >= 0x21 && c <= 0x7f && c != ']') {
			level++;
		} else {
			return 0;
		}
	}
	return level > 0;
}

static int
pop3_prefix(const char *line, size_t len, const char *word)
{
	size_t n = strlen(word), i;

	if (len < n)
		return 0;
	for (i = 0; i < n; i++)
		if (pop3_upper(line[i]) != word[i])
			return 0;
	return len == n || line[n] == ' ';
}

int
pop3_parse_resp(const char *line, size_t len, struct pop3_resp *r)
{
	const char *t, *end;
	size_t n;

	memset(r, 0, sizeof(*r));
	if (pop3_prefix(line, len, "+OK")) {
		r->status = POP3_OK;
		n = 3;
	} else if (pop3_prefix(line, len, "-ERR")) {
		r->status = POP3_ERR;
		n = 4;
	} else if (len >= 1 && line[0] == '+' && (len == 1 || line[1] == ' ')) {
		r->status = POP3_CONT;
		r->text = line + (len > 1 ? 2 : 1);
		r->textlen = len > 1 ? len - 2 : 0;
		return 0;
	} else {
		return -1;
	}
	if (len > n)
		n++;		/* the blank */
	t = line + n;
	r->text = t;
	r->textlen = len - n;
	if (r->textlen > 0 && t[0] == '[' &&
	    (end = memchr(t, ']', r->textlen)) != NULL &&
	    (size_t)(end - t - 1) <= POP3_CODE_MAX &&
	    pop3_code_ok(t + 1, (size_t)(end - t - 1))) {
		memcpy(r->code, t + 1, (size_t)(end - t - 1));
		r->code[end - t - 1] = '\0';
		t = end + 1;
		if (t < line + len && *t == ' ')
			t++;
		r->text = t;
		r->textlen = (size_t)(line + len - t);
	}
	return 0;
}

int
pop3_ml_line(const char **line, size_t *len)
{
	if (*len >= 1 && (*line)[0] == '.') {
		if (*len == 1)
			return 1;
		(*line)++;
		(*len)--;
	}
	return 0;
}

/* ---- the multi-line body: encoding ---- */

void
pop3_enc_init(struct pop3_enc *e, long long body_lines)
{
	memset(e, 0, sizeof(*e));
	e->bol = 1;
	e->lines_left = body_lines < 0 ? -1 : body_lines;
}

static int
enc_put(pop3_sink_fn sink, void *arg, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	return sink(arg, p, n) == 0 ? 0 : -1;
}

/* End the current line: CRLF on the wire, whatever was stored. */
static int
enc_eol(struct pop3_enc *e, pop3_sink_fn sink, void *arg)
{
	/* A stored CR went out already: only the LF is missing. */
	if (enc_put(sink, arg, e->cr ? "\n" : "\r\n", e->cr ? 1 : 2) == -1)
		return -1;
	e->octets += e->cr ? 1 : 2;
	return 0;
}

int
pop3_enc_feed(struct pop3_enc *e, const void *buf, size_t len,
    pop3_sink_fn sink, void *arg)
{
	const unsigned char *p = buf, *end = p + len, *nl, *seg_end;
	size_t seg;

	while (p < end && !e->done) {
		if (e->bol) {
			if (e->in_body && e->lines_left == 0) {
				e->done = 1;
				break;
			}
			if (*p == '.' && enc_put(sink, arg, ".", 1) == -1)
				return -1;
			e->bol = 0;
		}
		nl = memchr(p, '\n', (size_t)(end - p));
		seg_end = nl != NULL ? nl : end;
		seg = (size_t)(seg_end - p);
		if (seg > 0) {
			if (enc_put(sink, arg, p, seg) == -1)
				return -1;
			e->octets += seg;
			e->cr = (seg_end[-1] == '\r');
			e->linelen = e->linelen + (seg > 2 ? 2 : (int)seg);
			if (e->linelen > 2)
				e->linelen = 2;
		}
		if (nl == NULL)
			break;
		if (enc_eol(e, sink, arg) == -1)
			return -1;
		if (!e->in_body) {
			/* An empty line (nothing, or a lone CR) ends the header. */
			if (e->linelen == 0 || (e->linelen == 1 && e->cr))
				e->in_body = 1;
		} else if (e->lines_left > 0) {
			e->lines_left--;
		}
		e->bol = 1;
		e->cr = 0;
		e->linelen = 0;
		p = nl + 1;
	}
	return 0;
}

int
pop3_enc_end(struct pop3_enc *e, pop3_sink_fn sink, void *arg)
{
	if (!e->bol && !e->done) {
		/* A last line without its newline still ends in CRLF. */
		if (enc_eol(e, sink, arg) == -1)
			return -1;
		e->bol = 1;
	}
	return enc_put(sink, arg, ".\r\n", 3);
}

static int
size_sink(void *arg, const void *buf, size_t len)
{
	(void)arg;
	(void)buf;
	(void)len;
	return 0;
}

void
pop3_size_init(struct pop3_enc *e)
{
	pop3_enc_init(e, -1);
}

void
pop3_size_feed(struct pop3_enc *e, const void *buf, size_t len)
{
	(void)pop3_enc_feed(e, buf, len, size_sink, NULL);
}

unsigned long long
pop3_size_end(struct pop3_enc *e)
{
	(void)pop3_enc_end(e, size_sink, NULL);
	return e->octets;
}

/* ---- the multi-line body: decoding ---- */

enum {
	DEC_BOL,	/* at the start of a line */
	DEC_DOT,	/* a line started with "." */
	DEC_DOT_CR,	/* ... then CR */
	DEC_MID,	/* inside a line */
	DEC_CR		/* inside a line, after a CR held back */
};

void
pop3_dec_init(struct pop3_dec *d, int crlf_to_lf)
{
	memset(d, 0, sizeof(*d));
	d->state = DEC_BOL;
	d->crlf_to_lf = crlf_to_lf;
}

static int
dec_put(struct pop3_dec *d, pop3_sink_fn sink, void *arg, const void *p,
    size_t n)
{
	if (n == 0)
		return 0;
	d->octets += n;
	return sink(arg, p, n) == 0 ? 0 : -1;
}

long long
pop3_dec_feed(struct pop3_dec *d, const void *buf, size_t len,
    pop3_sink_fn sink, void *arg)
{
	const unsigned char *p = buf, *end = p + len, *nl, *seg_end;

	while (p < end && !d->done) {
		switch (d->state) {
		case DEC_BOL:
			if (*p == '.') {
				d->state = DEC_DOT;
				p++;
			} else {
				d->state = DEC_MID;
			}
			break;
		case DEC_DOT:
			if (*p == '\r') {
				d->state = DEC_DOT_CR;
				p++;
			} else if (*p == '\n') {
				/* ".\n": a server that forgot its CRs. */
				d->done = 1;
				p++;
			} else {
				/* The stuffed dot is dropped. */
				d->state = DEC_MID;
			}
			break;
		case DEC_DOT_CR:
			if (*p == '\n') {
				d->done = 1;
				p++;
			} else {
				/* ".\r" then more: the dot goes, the CR stays. */
				if (dec_put(d, sink, arg, "\r", 1) == -1)
					return -1;
				d->state = DEC_MID;
			}
			break;
		case DEC_CR:
			if (*p == '\n') {
				if (dec_put(d, sink, arg, d->crlf_to_lf ?
				    "\n" : "\r\n", d->crlf_to_lf ? 1 : 2) == -1)
					return -1;
				d->state = DEC_BOL;
				p++;
			} else {
				if (dec_put(d, sink, arg, "\r", 1) == -1)
					return -1;
				d->state = DEC_MID;
			}
			break;
		case DEC_MID:
			nl = memchr(p, '\n', (size_t)(end - p));
			seg_end = nl != NULL ? nl + 1 : end;
			if (nl == NULL) {
				/* Hold back a CR that may start a CRLF. */
				if (end[-1] == '\r') {
					if (dec_put(d, sink, arg, p,
					    (size_t)(end - 1 - p)) == -1)
						return -1;
					d->state = DEC_CR;
				} else if (dec_put(d, sink, arg, p,
				    (size_t)(end - p)) == -1) {
					return -1;
				}
				p = end;
				break;
			}
			if (d->crlf_to_lf && nl > p && nl[-1] == '\r') {
				if (dec_put(d, sink, arg, p,
				    (size_t)(nl - 1 - p)) == -1 ||
				    dec_put(d, sink, arg, "\n", 1) == -1)
					return -1;
			} else if (dec_put(d, sink, arg, p,
			    (size_t)(seg_end - p)) == -1) {
				return -1;
			}
			d->state = DEC_BOL;
			p = seg_end;
			break;
		}
	}
	return (long long)(p - (const unsigned char *)buf);
}
