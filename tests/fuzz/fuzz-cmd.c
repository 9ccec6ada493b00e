/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz-cmd.c: libFuzzer entry for the server's command parser
 * (pop3_parse_cmd and the argument checks behind it).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "common/pop3.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static char line[POP3_SASL_LINE_MAX + 1];
	struct pop3_cmd c;
	unsigned long long v;
	int i;

	/* The long AUTH line: AUTH, a mechanism, a response in the line. */
	if (len < sizeof(line)) {
		memcpy(line, data, len);
		if (pop3_parse_auth_line(line, len, &c) == POP3_CMD_OK &&
		    (strcmp(c.keyword, "AUTH") != 0 || c.argc != 2 ||
		    c.arglen[1] == 0 || c.argv[1] < line ||
		    c.argv[1] + c.arglen[1] != line + len ||
		    strlen(c.argv[0]) != c.arglen[0] ||
		    memchr(c.argv[1], ' ', c.arglen[1]) != NULL))
			__builtin_trap();
	}
	if (pop3_parse_cmd((const char *)data, len, &c) != POP3_CMD_OK)
		return 0;
	/* What the parser promises, checked on every accepted line. */
	if (strlen(c.keyword) == 0 || strlen(c.keyword) > POP3_KEYWORD_MAX ||
	    c.argc < 0 || c.argc > POP3_ARGS_MAX ||
	    c.restlen > len || (c.restlen > 0 &&
	    memcmp(c.rest, data + len - c.restlen, c.restlen) != 0))
		__builtin_trap();
	for (i = 0; i < c.argc; i++) {
		if (strlen(c.argv[i]) != c.arglen[i] || c.arglen[i] == 0)
			__builtin_trap();
		(void)pop3_cmd_num(&c, i, 1, ~0ULL, &v);
	}
	(void)pop3_cmd_args_ok(&c, 0, 2);
	return 0;
}
