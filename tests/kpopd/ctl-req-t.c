/* SPDX-License-Identifier: MIT */
/*
 * tests/kpopd/ctl-req-t.c: tests for kpopd/ctl-req.c, the parser of
 * kpopctl's request lines that the kpopd master runs on whatever a
 * client of its control socket sends: the three requests, kick's one
 * target (every byte value tried in it), the length bound, NULs, blanks,
 * case, and random lines against an independent reference.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "kpopd/ctl.h"
#include "tap/basic.h"

static struct ctl_req req;
static char err[256];

static int
parse(const char *s, size_t len)
{
	err[0] = '\0';
	return ctl_req_parse(s, len, &req, err, sizeof(err));
}

static int
parse_str(const char *s)
{
	return parse(s, strlen(s));
}

/*
 * The reference: the grammar written out again, byte by byte.
 * 0 WHO, 1 KICK, 2 STATS, -1 refused.
 */
static int
reference(const unsigned char *s, size_t len)
{
	size_t i;

	if (len == 3 && memcmp(s, "who", 3) == 0)
		return CTL_WHO;
	if (len == 5 && memcmp(s, "stats", 5) == 0)
		return CTL_STATS;
	if (len < 6 || memcmp(s, "kick ", 5) != 0 ||
	    len - 5 > CTL_TARGET_MAX - 1)
		return -1;
	for (i = 5; i < len; i++)
		if (s[i] <= ' ' || s[i] >= 127)
			return -1;
	return CTL_KICK;
}

int
main(void)
{
	char line[CTL_LINE_MAX + 8], big[CTL_TARGET_MAX + 16];
	unsigned char rnd[40];
	static const char alphabet[] = "whokickstats  \t\r\n\0x7.:@\x7f\xc3";
	int c, good, r, i, agree;
	size_t n;

	plan(30);
	ok(parse_str("who") == 0 && req.cmd == CTL_WHO &&
	    req.target[0] == '\0', "who");
	ok(parse_str("stats") == 0 && req.cmd == CTL_STATS, "stats");
	ok(parse_str("kick alice") == 0 && req.cmd == CTL_KICK &&
	    strcmp(req.target, "alice") == 0, "kick alice");
	ok(parse_str("kick 127.0.0.2") == 0 &&
	    strcmp(req.target, "127.0.0.2") == 0, "kick an IPv4 address");
	ok(parse_str("kick ::1") == 0 && strcmp(req.target, "::1") == 0,
	    "kick an IPv6 address");
	ok(parse_str("kick bob@EXAMPLE.ORG") == 0 &&
	    strcmp(req.target, "bob@EXAMPLE.ORG") == 0, "kick a principal");
	ok(parse_str("WHO") == -1 && strstr(err, "unknown request") != NULL,
	    "upper case is not a request");
	ok(parse_str("") == -1, "an empty line is refused");
	ok(parse_str("whoami") == -1, "a longer word is not who");
	ok(parse_str("who ") == -1 && strstr(err, "no argument") != NULL,
	    "who takes no argument");
	ok(parse_str("stats x") == -1, "stats takes no argument");
	ok(parse_str("kick") == -1 && strstr(err, "needs a user") != NULL,
	    "kick needs a target");
	ok(parse_str("kick ") == -1, "an empty target is refused");
	ok(parse_str("kick  alice") == -1, "two spaces are refused");
	ok(parse_str("kick alice bob") == -1 &&
	    strstr(err, "without blanks") != NULL, "two targets are refused");
	ok(parse_str("kick alice ") == -1, "a trailing blank is refused");
	ok(parse_str("kick\talice") == -1, "a tab is not the separator");
	ok(parse("who\0", 4) == -1 && strstr(err, "NUL") != NULL,
	    "a NUL after who is refused");
	ok(parse("kick al\0ce", 10) == -1, "a NUL in a target is refused");
	ok(parse("kick alicex", 10) == 0 && strcmp(req.target, "alice") == 0,
	    "only len bytes are read");

	/* The longest target, and one more. */
	memset(big, 'a', sizeof(big));
	memcpy(line, "kick ", 5);
	memcpy(line + 5, big, CTL_TARGET_MAX - 1);
	ok(parse(line, 5 + CTL_TARGET_MAX - 1) == 0 &&
	    strlen(req.target) == CTL_TARGET_MAX - 1,
	    "a target of %d characters", CTL_TARGET_MAX - 1);
	memcpy(line + 5, big, CTL_TARGET_MAX);
	ok(parse(line, 5 + CTL_TARGET_MAX) == -1 &&
	    strstr(err, "longer than") != NULL,
	    "a target of %d characters is refused", CTL_TARGET_MAX);

	/* Every byte value, alone and inside a target. */
	good = 0;
	agree = 1;
	for (c = 0; c < 256; c++) {
		memcpy(line, "kick a", 6);
		line[6] = (char)c;
		line[7] = 'b';
		r = parse(line, 8);
		if (r == 0)
			good++;
		if ((r == 0) != (c > 32 && c < 127))
			agree = 0;
		line[5] = (char)c;
		if ((parse(line, 6) == 0) != (c > 32 && c < 127))
			agree = 0;
	}
	ok(agree, "a target byte is good exactly when printable, not blank");
	is_int(good, 94, "94 byte values make a target");

	/* Random lines over a small alphabet against the reference. */
	srand(13);
	agree = 1;
	for (i = 0; i < 200000 && agree; i++) {
		n = (size_t)rand() % sizeof(rnd);
		for (size_t k = 0; k < n; k++)
			rnd[k] = (unsigned char)alphabet[(size_t)rand() %
			    (sizeof(alphabet) - 1)];
		/* Half of them start as a request would. */
		if (n >= 5 && rand() % 2)
			memcpy(rnd, i % 3 == 0 ? "kick " : i % 3 == 1 ?
			    "who\0\0" : "stats", 5);
		r = parse((const char *)rnd, n);
		c = reference(rnd, n);
		if ((r == 0 ? (int)req.cmd : -1) != c ||
		    (r == 0 && c == CTL_KICK &&
		    (strlen(req.target) != n - 5 ||
		    memcmp(req.target, rnd + 5, n - 5) != 0)) ||
		    (r == -1 && err[0] == '\0'))
			agree = 0;
	}
	ok(agree, "200000 random lines: the parser agrees with the "
	    "reference (%d)", i);

	/* What a refusal leaves. */
	ok(parse_str("kick alice") == 0 && parse_str("who") == 0 &&
	    req.target[0] == '\0', "a new parse clears the old target");
	ok(parse_str("nope") == -1 && err[0] != '\0',
	    "a refusal says why");
	ok(parse_str("kick \x7f") == -1, "DEL is not a target");
	ok(parse_str("kick \xc3\xa9") == -1,
	    "non-ASCII is not a target (user names shown are ASCII)");
	ok(parse_str("kick -") == 0, "'-' is a target (who's none)");
	return 0;
}
