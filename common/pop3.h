/* SPDX-License-Identifier: MIT */
/*
 * common/pop3.h: the POP3 grammar, both ways.
 *
 * Server side: splitting a command line into keyword and arguments
 * (RFC 1939, RFC 2449 section 4 limits).  Client side: classifying a
 * response line (+OK, -ERR, RFC 2449 response codes, RFC 5034 "+ "
 * continuations).  The multi-line body both ways: an encoder that turns a
 * stored message (LF or CRLF line ends, any final line) into CRLF lines,
 * byte-stuffed, with the closing "." line, optionally cut after n body
 * lines for TOP; and a decoder that undoes it on the client and finds the
 * end even when CRLF.CRLF is split across reads.  Both work on blocks and
 * hand their output to a sink, so no copy of a message is ever needed.
 */
#ifndef KPOP_POP3_H
#define KPOP_POP3_H

#include <stddef.h>

#include "common/limits.h"
#include "common/util.h"

/*
 * Whether the len bytes at s are a UIDL: 1 to POP3_UIDL_MAX characters
 * 0x21-0x7E (RFC 1939 section 7).
 */
int	pop3_uidl_ok(const char *s, size_t len) KP_NONNULL(1);

/* ---- server: commands ---- */

enum pop3_cmd_err {
	POP3_CMD_OK = 0,
	POP3_CMD_EMPTY = -1,	/* nothing but blanks */
	POP3_CMD_KEYWORD = -2,	/* the keyword is not 1-4 letters/digits */
	POP3_CMD_NUL = -3,	/* a NUL byte in the line */
	POP3_CMD_TOOLONG = -4,	/* longer than the limit, CRLF counted */
	POP3_CMD_ARGS = -5,	/* more arguments than POP3_ARGS_MAX */
	POP3_CMD_CTRL = -6	/* a control character in the line */
};

struct pop3_cmd {
	char		 keyword[POP3_KEYWORD_MAX + 1];	/* upper case */
	int		 argc;
	const char	*argv[POP3_ARGS_MAX];	/* into buf, NUL-ended */
	size_t		 arglen[POP3_ARGS_MAX];
	/* Everything after the keyword and one blank, verbatim (PASS). */
	const char	*rest;
	size_t		 restlen;
	/* Two copies of the line: one cut into arguments, one for rest. */
	char		 buf[2 * POP3_CMD_LIMIT];
};

/*
 * Parse the command line (without its CRLF) of len bytes into cmd, which
 * keeps a copy: line need not outlive it.  The keyword is matched
 * case-insensitively (it is stored upper case); arguments are separated
 * by runs of blanks.  Returns POP3_CMD_OK or a negative enum pop3_cmd_err.
 */
int	pop3_parse_cmd(const char *line, size_t len, struct pop3_cmd *cmd)
	    KP_NONNULL(1, 3) KP_WUR;

/*
 * The same with a line limit of max octets with CRLF instead of
 * POP3_CMD_MAX (at most POP3_CMD_LIMIT; a larger max counts as that).
 */
int	pop3_parse_cmd_max(const char *line, size_t len, size_t max,
	    struct pop3_cmd *cmd) KP_NONNULL(1, 4) KP_WUR;

/*
 * The one command a line past the command limit may be: AUTH with a
 * mechanism and an initial response (RFC 5034 s.4 asks clients to keep
 * it short; they do not: curl --sasl-ir sends a GSSAPI token of about a
 * KiB, one with a PAC is several).  The len bytes at line (no CRLF) must
 * be at most POP3_SASL_LINE_MAX octets with CRLF, "AUTH" in any case,
 * one blank, a mechanism of at most POP3_ARG_MAX octets, one blank and
 * a response of printable octets without blanks.  Fills cmd as
 * pop3_parse_cmd does, with argv[1] pointing into line (which must stay
 * put while cmd is used; a NUL is written at line[len], so line has room
 * for len + 1).  Returns POP3_CMD_OK, or POP3_CMD_TOOLONG for any other
 * line (or another enum pop3_cmd_err for a bad AUTH line).
 */
int	pop3_parse_auth_line(char *line, size_t len, struct pop3_cmd *cmd)
	    KP_NONNULL(1, 3) KP_WUR;

/* Words for a pop3_cmd_err, to put after "-ERR ". */
const char *pop3_cmd_strerror(int);

/*
 * Whether cmd has between min and max arguments, each at most
 * POP3_ARG_MAX characters (RFC 2449 section 4).
 */
int	pop3_cmd_args_ok(const struct pop3_cmd *, int min, int max)
	    KP_NONNULL(1);

/*
 * Parse argument i of cmd as a number from 1 (or 0 when zero_ok) to max.
 * Returns 0 and the value, or -1.
 */
int	pop3_cmd_num(const struct pop3_cmd *, int i, int zero_ok,
	    unsigned long long max, unsigned long long *out)
	    KP_NONNULL(1, 5) KP_WUR;

/* ---- client: responses ---- */

enum pop3_status { POP3_OK, POP3_ERR, POP3_CONT };

/* The longest RFC 2449 response code kept; longer ones are not codes. */
#define POP3_CODE_MAX	64

struct pop3_resp {
	enum pop3_status	 status;
	/* The response code without brackets ("SYS/TEMP"), or "". */
	char			 code[POP3_CODE_MAX + 1];
	/* The rest of the line after status, code and one blank. */
	const char		*text;
	size_t			 textlen;
};

/*
 * Classify the response line (without CRLF) of len bytes.  A line that
 * starts "+OK" or "-ERR" (any case) followed by a blank or the end is a
 * status; "+" alone or "+ " and more is a SASL continuation (text is the
 * base64).  r->text points into line.  Returns 0, or -1 for a line that
 * is none of these.
 */
int	pop3_parse_resp(const char *line, size_t len, struct pop3_resp *r)
	    KP_NONNULL(1, 3) KP_WUR;

/*
 * One line of a multi-line response read with io_readline(): returns 1 if
 * it is the closing ".", else 0 after removing a stuffed leading dot.
 */
int	pop3_ml_line(const char **line, size_t *len) KP_NONNULL(1, 2);

/* ---- the multi-line body ---- */

/*
 * Where encoded or decoded bytes go.  Returns 0, or -1 to stop (the
 * encoder or decoder then returns -1 too).
 */
typedef int (*pop3_sink_fn)(void *arg, const void *buf, size_t len);

struct pop3_enc {
	int			 bol;		/* at the start of a line */
	int			 cr;		/* the last byte put was CR */
	int			 linelen;	/* bytes of this line, up to 2 */
	int			 in_body;	/* past the blank line */
	int			 done;		/* TOP limit reached */
	long long		 lines_left;	/* body lines to go, or -1 */
	unsigned long long	 octets;	/* message octets put, CRLF
						   form, without stuffing */
};

/*
 * Start encoding a message.  body_lines is -1 for the whole message (RETR)
 * or how many body lines after the header to send (TOP).
 */
void	pop3_enc_init(struct pop3_enc *, long long body_lines) KP_NONNULL(1);

/*
 * Encode the next len bytes of the stored message.  Returns 0 or -1 if
 * the sink failed.  Once enough lines for TOP have gone, e->done is set
 * and the rest is ignored: callers may stop reading.
 */
int	pop3_enc_feed(struct pop3_enc *, const void *, size_t, pop3_sink_fn,
	    void *) KP_NONNULL(1, 4);

/*
 * Finish: end an unfinished last line with CRLF, then send the closing
 * ".".  Returns 0 or -1 if the sink failed.
 */
int	pop3_enc_end(struct pop3_enc *, pop3_sink_fn, void *) KP_NONNULL(1, 2);

/*
 * The size a message of len bytes at buf has on the wire in CRLF form,
 * without stuffing: what LIST reports.  For a message read in blocks, feed
 * an encoder with a NULL-returning sink instead (pop3_enc_size_*).
 */
void	pop3_size_init(struct pop3_enc *) KP_NONNULL(1);
void	pop3_size_feed(struct pop3_enc *, const void *, size_t) KP_NONNULL(1);
unsigned long long pop3_size_end(struct pop3_enc *) KP_NONNULL(1);

struct pop3_dec {
	int	state;
	int	crlf_to_lf;	/* deliver LF line ends, as Maildir stores */
	int	done;		/* the closing "." line has been read */
	unsigned long long octets;	/* message octets handed to the sink */
};

/*
 * Start decoding a multi-line body.  With crlf_to_lf, CRLF line ends are
 * delivered as LF; otherwise bytes pass as sent.
 */
void	pop3_dec_init(struct pop3_dec *, int crlf_to_lf) KP_NONNULL(1);

/*
 * Decode len bytes received from the server.  Returns how many were
 * consumed (all of them unless the closing line ended inside, in which
 * case d->done is set and the rest belongs to the next response), or -1
 * if the sink failed.
 */
long long pop3_dec_feed(struct pop3_dec *, const void *, size_t,
	    pop3_sink_fn, void *) KP_NONNULL(1, 4) KP_WUR;

#endif
