/* SPDX-License-Identifier: MIT */
/*
 * tests/common/conf-t.c: tests for common/conf.c, the configuration
 * reader: good input of every type, every error message in full, quotes,
 * comments, line ends, bounds, files, and every prefix and many mutations
 * of a tricky buffer (run under ASan to catch overreads).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/wait.h>

#include "common/conf.h"
#include "common/limits.h"
#include "common/util.h"
#include "tap/basic.h"

struct tconf {
	char			*name;
	int			 flag;
	unsigned int		 count;
	unsigned int		 timeout;
	unsigned long long	 size;
	unsigned int		 big;
	unsigned int		 level;
	int			 facility;
};

static const struct conf_key keys[] = {
	{ "name", CONF_STRING, offsetof(struct tconf, name), 0, 0 },
	{ "flag", CONF_BOOL, offsetof(struct tconf, flag), 0, 0 },
	{ "count", CONF_UINT, offsetof(struct tconf, count), 1, 100000 },
	{ "timeout", CONF_DURATION, offsetof(struct tconf, timeout),
	    1, 7 * 86400 },
	{ "size", CONF_SIZE, offsetof(struct tconf, size),
	    1024, 1024ULL * 1024 * 1024 },
	/* A max that does not fit unsigned int: taken as UINT_MAX. */
	{ "big-num_2", CONF_UINT, offsetof(struct tconf, big), 0, ULLONG_MAX },
	/* A max below 9: one digit above it must still be refused. */
	{ "level", CONF_UINT, offsetof(struct tconf, level), 0, 7 },
	{ "facility", CONF_FACILITY, offsetof(struct tconf, facility), 0, 0 },
	CONF_KEY_END
};

/* Defaults the reader must leave alone when a key is not named. */
static void
tc_init(struct tconf *c)
{
	memset(c, 0, sizeof(*c));
	c->flag = -1;
	c->count = 77;
	c->timeout = 77;
	c->size = 77;
	c->big = 77;
}

/* Read the string text as "t.conf"; returns what conf_read_buf did. */
static int
rd(struct tconf *c, const char *text, char *err, size_t errlen)
{
	return conf_read_buf("t.conf", text, strlen(text), keys, c, err,
	    errlen);
}

/* One check: text gives exactly the error want. */
static void
bad(const char *text, const char *want)
{
	struct tconf c;
	char err[ERR_MSG_MAX];

	tc_init(&c);
	if (rd(&c, text, err, sizeof(err)) == 0)
		util_strlcpy(err, "(accepted)", sizeof(err));
	is_string(err, want, "error: %s", want);
	conf_free(keys, &c);
}

/* One check: text sets name to want. */
static void
str_is(const char *text, const char *want, const char *what)
{
	struct tconf c;
	char err[ERR_MSG_MAX];

	tc_init(&c);
	if (rd(&c, text, err, sizeof(err)) == -1)
		is_string(err, want, "%s", what);
	else
		is_string(c.name, want, "%s", what);
	conf_free(keys, &c);
}

/* One check: text is accepted and sets the unsigned field at off to want. */
static void
num_is(const char *text, size_t off, unsigned long long want)
{
	struct tconf c;
	char err[ERR_MSG_MAX];
	unsigned long long got;

	tc_init(&c);
	if (rd(&c, text, err, sizeof(err)) == -1) {
		ok(0, "%s", text);
		diag("%s", err);
		return;
	}
	if (off == offsetof(struct tconf, size))
		got = c.size;
	else
		got = *(unsigned int *)((char *)&c + off);
	is_int((long long)got, (long long)want, "%s", text);
	conf_free(keys, &c);
}

static void
test_good(void)
{
	static const char text[] =
	    "# kpop test configuration\n"
	    "   \t# an indented comment\n"
	    "\n"
	    "  \t \n"
	    "name = hello world   # a trailing comment\n"
	    "flag=Yes\n"
	    "\tcount\t=\t42\t\n"
	    "timeout = 10m\n"
	    "size = 64k\n"
	    "big-num_2 = 4294967295\n";
	struct tconf c;
	char err[ERR_MSG_MAX];

	tc_init(&c);
	is_int(rd(&c, text, err, sizeof(err)), 0, "good buffer read");
	is_string(err, "", "no message on success");
	is_string(c.name, "hello world", "string, comment cut");
	is_int(c.flag, 1, "bool");
	is_int(c.count, 42, "uint, tab blanks");
	is_int(c.timeout, 600, "duration");
	is_int((long long)c.size, 65536, "size");
	is_int(c.big, UINT_MAX, "uint up to UINT_MAX");
	conf_free(keys, &c);
	ok(c.name == NULL, "conf_free sets the string NULL");
	is_int(c.count, 42, "conf_free leaves numbers");
	conf_free(keys, &c);
	ok(c.name == NULL, "conf_free twice is harmless");

	/* Only some keys: the rest keep their defaults. */
	tc_init(&c);
	is_int(rd(&c, "count = 5\n", err, sizeof(err)), 0, "partial read");
	ok(c.name == NULL && c.flag == -1 && c.timeout == 77 &&
	    c.size == 77 && c.big == 77, "unnamed keys untouched");

	/* Empty input and a buffer of only comments. */
	tc_init(&c);
	is_int(conf_read_buf("t.conf", NULL, 0, keys, &c, err, sizeof(err)),
	    0, "empty buffer");
	is_int(rd(&c, "#\n\n#x", err, sizeof(err)), 0, "comments only");
	is_int(c.count, 77, "comments set nothing");

	/* CRLF line ends, the last line without one. */
	tc_init(&c);
	is_int(rd(&c, "name = crlf \r\ncount = 7\r\n\r\nflag = off\r", err,
	    sizeof(err)), 0, "CRLF read");
	is_string(c.name, "crlf", "CRLF value");
	is_int(c.count, 7, "CRLF number");
	is_int(c.flag, 0, "CRLF final line without LF");
	conf_free(keys, &c);

	/* Reading stops at the first error; what came before stays. */
	tc_init(&c);
	is_int(rd(&c, "name = first\ncount = 5\nbad\nflag = yes\n", err,
	    sizeof(err)), -1, "error stops reading");
	ok(c.count == 5 && c.flag == -1, "lines before kept, after not read");
	is_string(c.name, "first", "string before the error kept");
	conf_free(keys, &c);

	/* A short err buffer gets a cut, terminated message. */
	tc_init(&c);
	is_int(rd(&c, "bad\n", err, 10), -1, "short err buffer");
	is_string(err, "t.conf:1:", "message cut to errlen");
}

static void
test_bool(void)
{
	static const struct {
		const char *word;
		int value;
	} words[] = {
		{ "yes", 1 }, { "no", 0 }, { "true", 1 }, { "false", 0 },
		{ "on", 1 }, { "off", 0 }, { "1", 1 }, { "0", 0 },
		{ "YES", 1 }, { "False", 0 }, { "oN", 1 }, { "OFF", 0 },
	};
	struct tconf c;
	char err[ERR_MSG_MAX], line[64];
	size_t i;
	int good = 1;

	for (i = 0; i < KP_NELEM(words); i++) {
		tc_init(&c);
		util_snprintf(line, sizeof(line), "flag = %s", words[i].word);
		if (rd(&c, line, err, sizeof(err)) == -1 ||
		    c.flag != words[i].value) {
			diag("'%s' gave %d", words[i].word, c.flag);
			good = 0;
		}
	}
	ok(good, "every boolean word, any case");
	bad("flag = maybe", "t.conf:1: 'flag': 'maybe' is not yes/no, "
	    "true/false, on/off or 1/0");
	bad("flag = yess", "t.conf:1: 'flag': 'yess' is not yes/no, "
	    "true/false, on/off or 1/0");
	bad("flag = 2", "t.conf:1: 'flag': '2' is not yes/no, "
	    "true/false, on/off or 1/0");
	bad("flag =", "t.conf:1: 'flag' needs a value");
}

static void
test_numbers(void)
{
	const size_t cnt = offsetof(struct tconf, count);
	const size_t to = offsetof(struct tconf, timeout);
	const size_t sz = offsetof(struct tconf, size);
	const size_t big = offsetof(struct tconf, big);
	const size_t lvl = offsetof(struct tconf, level);

	num_is("count = 1", cnt, 1);
	num_is("count = 100000", cnt, 100000);
	num_is("count = 007", cnt, 7);
	bad("count = 12x", "t.conf:1: 'count': '12x' is not a whole number "
	    "from 1 to 100000");
	bad("count = 0", "t.conf:1: 'count': '0' is not a whole number "
	    "from 1 to 100000");
	bad("count = 100001", "t.conf:1: 'count': '100001' is not a whole "
	    "number from 1 to 100000");
	bad("count = -1", "t.conf:1: 'count': '-1' is not a whole number "
	    "from 1 to 100000");
	bad("count = +1", "t.conf:1: 'count': '+1' is not a whole number "
	    "from 1 to 100000");
	bad("count = 0x10", "t.conf:1: 'count': '0x10' is not a whole "
	    "number from 1 to 100000");
	bad("count = 1 2", "t.conf:1: 'count': '1 2' is not a whole number "
	    "from 1 to 100000");
	bad("count = 99999999999999999999999", "t.conf:1: 'count': "
	    "'99999999999999999999999' is not a whole number from 1 to "
	    "100000");
	bad("count =   ", "t.conf:1: 'count' needs a value");
	bad("count = \"\"", "t.conf:1: 'count' needs a value");
	num_is("count = \"12\"", cnt, 12);
	num_is("big-num_2 = 0", big, 0);
	bad("big-num_2 = 4294967296", "t.conf:1: 'big-num_2': '4294967296' "
	    "is not a whole number from 0 to 4294967295");

	num_is("level = 07", lvl, 7);
	bad("level = 8", "t.conf:1: 'level': '8' is not a whole number "
	    "from 0 to 7");

	num_is("timeout = 90", to, 90);
	num_is("timeout = 90s", to, 90);
	num_is("timeout = 10m", to, 600);
	num_is("timeout = 2h", to, 7200);
	num_is("timeout = 1d", to, 86400);
	num_is("timeout = 7d", to, 604800);
	num_is("timeout = 604800s", to, 604800);
	bad("timeout = 8d", "t.conf:1: 'timeout': '8d' is not a duration "
	    "from 1 to 604800 seconds");
	num_is("timeout = 168h", to, 604800);
	bad("timeout = 169h", "t.conf:1: 'timeout': '169h' is not a "
	    "duration from 1 to 604800 seconds");
	bad("timeout = 99999999999d", "t.conf:1: 'timeout': '99999999999d' "
	    "is not a duration from 1 to 604800 seconds");
	bad("timeout = 0s", "t.conf:1: 'timeout': '0s' is not a duration "
	    "from 1 to 604800 seconds");
	bad("timeout = 10 m", "t.conf:1: 'timeout': '10 m' is not a "
	    "duration from 1 to 604800 seconds");
	bad("timeout = 10M", "t.conf:1: 'timeout': '10M' is not a duration "
	    "from 1 to 604800 seconds");
	bad("timeout = m", "t.conf:1: 'timeout': 'm' is not a duration "
	    "from 1 to 604800 seconds");
	bad("timeout = 1ms", "t.conf:1: 'timeout': '1ms' is not a duration "
	    "from 1 to 604800 seconds");

	num_is("size = 1024", sz, 1024);
	num_is("size = 1k", sz, 1024);
	num_is("size = 1K", sz, 1024);
	num_is("size = 3M", sz, 3ULL * 1024 * 1024);
	num_is("size = 1G", sz, 1024ULL * 1024 * 1024);
	num_is("size = 1048576k", sz, 1024ULL * 1024 * 1024);
	bad("size = 1023", "t.conf:1: 'size': '1023' is not a size from "
	    "1024 to 1073741824 bytes");
	bad("size = 2G", "t.conf:1: 'size': '2G' is not a size from 1024 to "
	    "1073741824 bytes");
	bad("size = 1048577k", "t.conf:1: 'size': '1048577k' is not a size "
	    "from 1024 to 1073741824 bytes");
	bad("size = 1g", "t.conf:1: 'size': '1g' is not a size from 1024 to "
	    "1073741824 bytes");
	bad("size = 5X", "t.conf:1: 'size': '5X' is not a size from 1024 to "
	    "1073741824 bytes");
	bad("size = 99999999999999999999G", "t.conf:1: 'size': "
	    "'99999999999999999999G' is not a size from 1024 to 1073741824 "
	    "bytes");
	bad("size = 18014398509481984k", "t.conf:1: 'size': "
	    "'18014398509481984k' is not a size from 1024 to 1073741824 "
	    "bytes");
}

static void
test_strings(void)
{
	str_is("name = a#b", "a#b", "'#' without a blank before is kept");
	str_is("name = http://x/#frag # c", "http://x/#frag",
	    "'#' in a value, then a comment");
	str_is("name = a\t# tab then comment", "a", "tab before comment");
	str_is("name = a # b # c", "a", "first blank '#' starts the comment");
	str_is("name = # only a comment", "", "comment as the whole value");
	str_is("name =# not a comment", "# not a comment",
	    "'#' right after '=' is value");
	str_is("name =", "", "empty string value");
	str_is("name =\t \t", "", "blank string value");
	str_is("name = x  y", "x  y", "inner blanks kept");
	str_is("name = a=b", "a=b", "'=' in a value");
	str_is("name = \"  spaced # not a comment  \"",
	    "  spaced # not a comment  ", "quotes keep blanks and \" #\"");
	str_is("name = \"a\\\"b\\\\c\"", "a\"b\\c", "escapes \\\" and \\\\");
	str_is("name = \"\"", "", "empty quotes");
	str_is("name = \"abc\"   # comment", "abc", "comment after quotes");
	str_is("name = \"abc\"\t", "abc", "blank after quotes");
	str_is("name = a\"b\"", "a\"b\"", "quote not first is literal");
	str_is("name = caf\xc3\xa9", "caf\xc3\xa9", "high bytes kept");
	bad("name = \"abc\"x", "t.conf:1: 'name': text after closing quote");
	bad("name = \"abc\"#x", "t.conf:1: 'name': text after closing quote");
	bad("name = \"abc", "t.conf:1: 'name': missing closing quote");
	bad("name = \"abc\\\"", "t.conf:1: 'name': missing closing quote");
	bad("name = \"abc\\", "t.conf:1: 'name': missing closing quote");
	bad("name = \"a\\nb\"", "t.conf:1: 'name': bad escape '\\n' in "
	    "quoted value");
	bad("name = a\x01z", "t.conf:1: 'name': control character \\x01 in "
	    "value");
	bad("name = a\rb\n", "t.conf:1: 'name': control character \\x0d in "
	    "value");
	bad("name = \"a\x7f\"", "t.conf:1: 'name': control character \\x7f "
	    "in value");
	str_is("name = a\tb", "a\tb", "tab inside a value allowed");
}

static void
test_errors(void)
{
	char text[CONF_LINE_MAX + 16], want[128];
	struct tconf c;
	char err[ERR_MSG_MAX];

	bad("bogus line\n", "t.conf:1: missing '=' in 'bogus line'");
	bad("# c\n\n  count 5  \n", "t.conf:3: missing '=' in 'count 5'");
	bad("\n= x\n", "t.conf:2: missing key before '='");
	bad("  \t= x\n", "t.conf:1: missing key before '='");
	bad("Name = x", "t.conf:1: bad character 'N' in key 'Name'");
	bad("na me = x", "t.conf:1: bad character ' ' in key 'na me'");
	bad("na\x01me = x", "t.conf:1: bad character '\\x01' in key "
	    "'na\\x01me'");
	bad("it's = x", "t.conf:1: bad character '\\x27' in key "
	    "'it\\x27s'");
	bad("listne = x", "t.conf:1: unknown key 'listne'");
	bad("name-x = x", "t.conf:1: unknown key 'name-x'");
	bad("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa = 1",
	    "t.conf:1: unknown key "
	    "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'");
	bad("count = 1\n\n# x\ncount = 2\n",
	    "t.conf:4: 'count' already set on line 1");
	bad("name = a\nname = a\n", "t.conf:2: 'name' already set on line 1");
	bad("count = 5\r\nname = a\r\ncount = 5\r\n",
	    "t.conf:3: 'count' already set on line 1");
	bad("count = 0\ncount = 1\n", "t.conf:1: 'count': '0' is not a whole "
	    "number from 1 to 100000");

	/* NUL bytes: conf_read_buf takes a length, not a string. */
	tc_init(&c);
	is_int(conf_read_buf("t.conf", "name = a\0b\n", 11, keys, &c, err,
	    sizeof(err)), -1, "NUL in a value");
	is_string(err, "t.conf:1: NUL byte in line", "NUL message");
	is_int(conf_read_buf("t.conf", "# ok\n\n# \0\n", 9, keys, &c, err,
	    sizeof(err)), -1, "NUL in a comment");
	is_string(err, "t.conf:3: NUL byte in line", "NUL message, line 3");
	conf_free(keys, &c);

	/* A line of exactly CONF_LINE_MAX bytes, and one byte more. */
	memset(text, 'x', sizeof(text));
	memcpy(text, "name = ", 7);
	text[CONF_LINE_MAX] = '\0';
	tc_init(&c);
	is_int(rd(&c, text, err, sizeof(err)), 0, "line of CONF_LINE_MAX");
	is_int((long long)strlen(c.name), CONF_LINE_MAX - 7,
	    "whole long value kept");
	conf_free(keys, &c);
	memcpy(text + CONF_LINE_MAX, "\r\n", 3);
	is_int(rd(&c, text, err, sizeof(err)), 0,
	    "line of CONF_LINE_MAX plus CRLF");
	conf_free(keys, &c);
	text[CONF_LINE_MAX] = 'x';
	text[CONF_LINE_MAX + 1] = '\0';
	util_snprintf(want, sizeof(want), "t.conf:1: line longer than %d bytes",
	    CONF_LINE_MAX);
	bad(text, want);
	text[0] = '#';
	bad(text, want);

	/* A buffer over CONF_FILE_MAX is refused whole. */
	{
		char *huge = calloc(1, CONF_FILE_MAX + 1);

		if (huge == NULL)
			bail("out of memory");
		memset(huge, '\n', CONF_FILE_MAX + 1);
		is_int(conf_read_buf("t.conf", huge, CONF_FILE_MAX + 1, keys,
		    &c, err, sizeof(err)), -1, "buffer over CONF_FILE_MAX");
		util_snprintf(want, sizeof(want),
		    "t.conf: larger than %d bytes", CONF_FILE_MAX);
		is_string(err, want, "too large message");
		is_int(conf_read_buf("t.conf", huge, CONF_FILE_MAX, keys,
		    &c, err, sizeof(err)), 0, "buffer of CONF_FILE_MAX");
		free(huge);
	}
}

static void
test_set(void)
{
	struct tconf c;
	char err[ERR_MSG_MAX];

	tc_init(&c);
	is_int(conf_set(keys, &c, "count", "9", err, sizeof(err)), 0,
	    "conf_set uint");
	is_int(c.count, 9, "conf_set stored");
	is_int(conf_set(keys, &c, "count", "x9", err, sizeof(err)), -1,
	    "conf_set bad value");
	is_string(err, "'count': 'x9' is not a whole number from 1 to 100000",
	    "conf_set message has no FILE:LINE");
	is_int(c.count, 9, "bad conf_set leaves the value");
	is_int(conf_set(keys, &c, "nope", "1", err, sizeof(err)), -1,
	    "conf_set unknown key");
	is_string(err, "unknown key 'nope'", "conf_set unknown key message");
	is_int(conf_set(keys, &c, "name", "one", err, sizeof(err)), 0,
	    "conf_set string");
	is_int(conf_set(keys, &c, "name", "  two # x ", err, sizeof(err)), 0,
	    "conf_set string again (old one freed: LSan)");
	is_string(c.name, "  two # x ", "conf_set takes the value literally");
	is_int(conf_set(keys, &c, "name", "a\nb", err, sizeof(err)), -1,
	    "conf_set control character");
	is_string(err, "'name': control character \\x0a in value",
	    "conf_set control character message");
	is_string(c.name, "  two # x ", "failed conf_set keeps the string");
	is_int(conf_set(keys, &c, "timeout", "1h", err, sizeof(err)), 0,
	    "conf_set duration");
	is_int(c.timeout, 3600, "conf_set duration value");
	/* A file value, then an override: no "already set". */
	is_int(rd(&c, "name = file\n", err, sizeof(err)), 0, "read file");
	is_int(conf_set(keys, &c, "name", "", err, sizeof(err)), 0,
	    "override after the file");
	is_string(c.name, "", "override stored");
	conf_free(keys, &c);

	ok(conf_find(keys, "size") == &keys[4], "conf_find finds");
	ok(conf_find(keys, "siz") == NULL, "conf_find prefix is not a match");
	ok(conf_find(keys, "SIZE") == NULL, "conf_find is exact");
}

/* Write len bytes to path; bail on failure. */
static void
put_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		bail("cannot write %s: %s", path, strerror(errno));
}

static void
test_files(void)
{
	static const char good[] =
	    "name = \"from a file\"\n"
	    "flag = true\n"
	    "count = 3\n"
	    "timeout = 1h\n"
	    "size = 1M\n";
	const char *base;
	char dir[512], path[600], want[800], err[ERR_MSG_MAX];
	struct tconf c;
	char *big;
	size_t i;
	int fd;

	if ((base = test_data_dir()) == NULL && (base = getenv("TMPDIR")) ==
	    NULL)
		base = "/tmp";
	util_snprintf(dir, sizeof(dir), "%s/conf-t.XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp %s: %s", dir, strerror(errno));

	util_snprintf(path, sizeof(path), "%s/good.conf", dir);
	put_file(path, good, sizeof(good) - 1);
	tc_init(&c);
	is_int(conf_read_file(path, keys, &c, err, sizeof(err)), 0,
	    "conf_read_file good file");
	is_string(c.name, "from a file", "file string");
	ok(c.flag == 1 && c.count == 3 && c.timeout == 3600 &&
	    c.size == 1048576, "file numbers and bool");
	conf_free(keys, &c);

	util_snprintf(path, sizeof(path), "%s/bad.conf", dir);
	put_file(path, "count = 3\ncount = 4\n", 20);
	tc_init(&c);
	is_int(conf_read_file(path, keys, &c, err, sizeof(err)), -1,
	    "conf_read_file bad file");
	util_snprintf(want, sizeof(want),
	    "%s:2: 'count' already set on line 1", path);
	is_string(err, want, "file message names the path as given");

	util_snprintf(path, sizeof(path), "%s/missing.conf", dir);
	is_int(conf_read_file(path, keys, &c, err, sizeof(err)), -1,
	    "missing file");
	util_snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
	is_string(err, want, "missing file message");

	is_int(conf_read_file(dir, keys, &c, err, sizeof(err)), -1,
	    "directory");
	util_snprintf(want, sizeof(want), "%s: %s", dir, strerror(EISDIR));
	is_string(err, want, "directory message");

	/* A FIFO must be refused at once, not block in open. */
	util_snprintf(path, sizeof(path), "%s/fifo", dir);
	if (mkfifo(path, 0600) == -1)
		bail("mkfifo: %s", strerror(errno));
	is_int(conf_read_file(path, keys, &c, err, sizeof(err)), -1, "FIFO");
	util_snprintf(want, sizeof(want), "%s: not a regular file", path);
	is_string(err, want, "FIFO message");
	unlink(path);

	/* Exactly CONF_FILE_MAX bytes of comment lines, then one more. */
	if ((big = malloc(CONF_FILE_MAX + 1)) == NULL)
		bail("out of memory");
	for (i = 0; i < CONF_FILE_MAX; i++)
		big[i] = (i % CONF_LINE_MAX) == CONF_LINE_MAX - 1 ? '\n' : '#';
	big[CONF_FILE_MAX] = '\n';
	util_snprintf(path, sizeof(path), "%s/big.conf", dir);
	put_file(path, big, CONF_FILE_MAX);
	is_int(conf_read_file(path, keys, &c, err, sizeof(err)), 0,
	    "file of CONF_FILE_MAX bytes");
	put_file(path, big, CONF_FILE_MAX + 1);
	is_int(conf_read_file(path, keys, &c, err, sizeof(err)), -1,
	    "file over CONF_FILE_MAX");
	util_snprintf(want, sizeof(want), "%s: larger than %d bytes", path,
	    CONF_FILE_MAX);
	is_string(err, want, "too large file message");
	free(big);
	unlink(path);

	/* A file that cannot be read. */
	util_snprintf(path, sizeof(path), "%s/empty.conf", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT, 0600)) == -1)
		bail("create %s: %s", path, strerror(errno));
	close(fd);
	is_int(conf_read_file(path, keys, &c, err, sizeof(err)), 0,
	    "empty file");
	chmod(path, 0);
	util_snprintf(want, sizeof(want), "%s: %s", path, strerror(EACCES));
	if (geteuid() != 0) {
		is_int(conf_read_file(path, keys, &c, err, sizeof(err)), -1,
		    "unreadable file");
		is_string(err, want, "unreadable file message");
	} else {
		/* Root reads anything: check as nobody in a child. */
		int status = -1;
		pid_t pid;

		fflush(stdout);
		if ((pid = fork()) == 0) {
			if (setgid(65534) == -1 || setuid(65534) == -1)
				_exit(3);
			if (conf_read_file(path, keys, &c, err,
			    sizeof(err)) != -1)
				_exit(1);
			_exit(strcmp(err, want) == 0 ? 0 : 2);
		}
		waitpid(pid, &status, 0);
		ok(WIFEXITED(status) && WEXITSTATUS(status) != 1,
		    "unreadable file (as nobody)");
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "unreadable file message (as nobody)");
	}
	conf_free(keys, &c);

	unlink(path);
	util_snprintf(path, sizeof(path), "%s/good.conf", dir);
	unlink(path);
	util_snprintf(path, sizeof(path), "%s/bad.conf", dir);
	unlink(path);
	if (rmdir(dir) == -1)
		diag("rmdir %s: %s", dir, strerror(errno));
}

/*
 * Every prefix of a tricky buffer, each in a heap block of exactly its
 * size, and the buffer with each byte replaced by each of a set of
 * awkward bytes: the reader must return 0 or -1 with a terminated
 * message, never crash or read past the end.
 */
static void
test_prefixes(void)
{
	static const char tricky[] =
	    "# c\r\n  name = \"q\\\"\\\\ # x\"  # c\n"
	    "flag=on\ncount = 12 #\r\n\r\n"
	    "timeout=\"1d\"\nsize = 3M\t# s\n"
	    "big-num_2 =\"\\\n"
	    "name = \"a\\";
	static const unsigned char awkward[] = {
		'\0', '\r', '\n', '"', '\\', '#', '=', ' ', '\t', 'k', 'd',
		'9', 'A', 0x01, 0x7f, 0x80, 0xff
	};
	const size_t len = sizeof(tricky) - 1;
	struct tconf c;
	char err[ERR_MSG_MAX], *copy;
	size_t i, j, calls = 0;
	int rv, good = 1;

	for (i = 0; i <= len; i++) {
		if ((copy = malloc(i > 0 ? i : 1)) == NULL)
			bail("out of memory");
		memcpy(copy, tricky, i);
		tc_init(&c);
		memset(err, 'z', sizeof(err));
		rv = conf_read_buf("p", copy, i, keys, &c, err, sizeof(err));
		if ((rv != 0 && rv != -1) || memchr(err, '\0',
		    sizeof(err)) == NULL)
			good = 0;
		conf_free(keys, &c);
		free(copy);
		calls++;
	}
	for (i = 0; i < len; i++) {
		for (j = 0; j < sizeof(awkward); j++) {
			if ((copy = malloc(len)) == NULL)
				bail("out of memory");
			memcpy(copy, tricky, len);
			copy[i] = (char)awkward[j];
			tc_init(&c);
			memset(err, 'z', sizeof(err));
			rv = conf_read_buf("m", copy, len, keys, &c, err,
			    sizeof(err));
			if ((rv != 0 && rv != -1) || memchr(err, '\0',
			    sizeof(err)) == NULL)
				good = 0;
			conf_free(keys, &c);
			free(copy);
			calls++;
		}
	}
	ok(good, "%zu prefixes and mutations read safely", calls);

	/* The whole tricky buffer is itself an error at its last line. */
	tc_init(&c);
	is_int(conf_read_buf("p", tricky, len, keys, &c, err, sizeof(err)),
	    -1, "tricky buffer read");
	is_string(err, "p:8: 'big-num_2': missing closing quote",
	    "tricky buffer message");
	conf_free(keys, &c);
}

/* conf_format writes what conf_read_buf reads back to the same value. */
static void
test_format(void)
{
	static const char *const strs[] = {
		"plain", "GSSAPI PLAIN", " lead", "trail\t", "a #b", "a#b",
		"q\"uote", "back\\slash", "\"", "", "x\t#y", "#first"
	};
	struct tconf c, back;
	char out[128], line[200], err[256];
	size_t i;
	int good = 1;

	for (i = 0; i < KP_NELEM(strs); i++) {
		tc_init(&c);
		tc_init(&back);
		c.name = (char *)(uintptr_t)strs[i];
		if (conf_format(conf_find(keys, "name"), &c, out,
		    sizeof(out)) != 0 ||
		    util_snprintf(line, sizeof(line), "name = %s\n", out) ||
		    rd(&back, line, err, sizeof(err)) != 0 ||
		    strcmp(back.name != NULL ? back.name : "", strs[i]) != 0) {
			diag("'%s' -> '%s' -> '%s' (%s)", strs[i], out,
			    back.name != NULL ? back.name : "(null)", err);
			good = 0;
		}
		conf_free(keys, &back);
	}
	ok(good, "format: every string reads back the same, quoted or not");
	tc_init(&c);
	c.name = (char *)(uintptr_t)"plain";
	ok(conf_format(conf_find(keys, "name"), &c, out, sizeof(out)) == 0 &&
	    strcmp(out, "plain") == 0, "format: a plain string is not quoted");
	c.name = (char *)(uintptr_t)"a #b";
	ok(conf_format(conf_find(keys, "name"), &c, out, sizeof(out)) == 0 &&
	    strcmp(out, "\"a #b\"") == 0, "format: ' #' is quoted");
	c.name = NULL;
	ok(conf_format(conf_find(keys, "name"), &c, out, sizeof(out)) == 0 &&
	    strcmp(out, "\"\"") == 0, "format: an unset string is \"\"");
	c.flag = 1;
	c.count = 4096;
	c.timeout = 600;
	c.size = 1ULL << 33;
	ok(conf_format(conf_find(keys, "flag"), &c, out, sizeof(out)) == 0 &&
	    strcmp(out, "yes") == 0, "format: a boolean as yes");
	c.flag = 0;
	ok(conf_format(conf_find(keys, "flag"), &c, out, sizeof(out)) == 0 &&
	    strcmp(out, "no") == 0, "format: ... and no");
	ok(conf_format(conf_find(keys, "count"), &c, out, sizeof(out)) == 0 &&
	    strcmp(out, "4096") == 0, "format: a number");
	ok(conf_format(conf_find(keys, "timeout"), &c, out, sizeof(out)) ==
	    0 && strcmp(out, "600") == 0, "format: a duration in seconds");
	ok(conf_format(conf_find(keys, "size"), &c, out, sizeof(out)) == 0 &&
	    strcmp(out, "8589934592") == 0, "format: a size in bytes");
	c.name = (char *)(uintptr_t)"\"\"\"\"";
	is_int(conf_format(conf_find(keys, "name"), &c, out, 6), -1,
	    "format: too long for out");
}

/* CONF_FACILITY: syslog names in, the name out, a bad one with FILE:LINE. */
static void
test_facility(void)
{
	const struct conf_key *k = conf_find(keys, "facility");
	struct tconf c;
	char err[ERR_MSG_MAX], out[32];

	tc_init(&c);
	c.facility = LOG_MAIL;
	ok(rd(&c, "# x\nfacility = local3\n", err, sizeof(err)) == 0 &&
	    c.facility == LOG_LOCAL3, "facility = local3 read");
	ok(conf_format(k, &c, out, sizeof(out)) == 0 &&
	    strcmp(out, "local3") == 0, "and formatted back: %s", out);
	conf_free(keys, &c);
	tc_init(&c);
	ok(rd(&c, "facility = AuthPriv\n", err, sizeof(err)) == 0 &&
	    c.facility == LOG_AUTHPRIV, "any case: AuthPriv");
	ok(conf_set(keys, &c, "facility", "daemon", err, sizeof(err)) == 0 &&
	    c.facility == LOG_DAEMON, "conf_set: daemon");
	bad("count = 3\nfacility = local8\n", "t.conf:2: 'facility': "
	    "'local8' is not a syslog facility: mail, daemon, auth, authpriv, "
	    "user or local0 to local7");
	bad("facility = kern\n", "t.conf:1: 'facility': 'kern' is not a "
	    "syslog facility: mail, daemon, auth, authpriv, user or local0 to "
	    "local7");
	bad("facility =\n", "t.conf:1: 'facility' needs a value");
	conf_free(keys, &c);
}

int
main(void)
{
	plan(189);
	/* A regression that blocks (opening the FIFO) fails, not hangs. */
	alarm(120);

	test_good();
	test_bool();
	test_numbers();
	test_strings();
	test_errors();
	test_set();
	test_files();
	test_prefixes();
	test_format();
	test_facility();
	return 0;
}
