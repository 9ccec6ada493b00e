/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz-courier.c: libFuzzer entry for the parsers of the
 * mail user's legacy UIDL sources: Courier's courierpop3dsizelist
 * (kpopd/mdir-courier.c, mdir_courier_parse and the UIDLs made from it)
 * and the X-UIDL field scan (kpopd/mdir-xuidl.c, mdir_xuidl_scan, fed
 * whole and as a growing prefix).  Records lie within the text, every
 * base name is found again, every UIDL is valid (pop3_uidl_ok).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/pop3.h"
#include "kpopd/mdir-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct mdir_courier c;
	const struct mdir_crec *r, *f;
	char err[256], out[POP3_UIDL_MAX + 1], *text;
	size_t i, step;
	int rc, last = -1;

	if (len > MD_COURIER_LINE_MAX * 4)
		return 0;
	/* X-UIDL: a prefix says "more" or what the whole would say. */
	for (step = 0; step <= len; step += 97) {
		rc = mdir_xuidl_scan((const char *)data, step, 0, out);
		if (rc == 1 && !pop3_uidl_ok(out, strlen(out)))
			abort();
		if (rc != -1 && last != -1 && rc != last)
			abort();
		if (rc != -1)
			last = rc;
	}
	rc = mdir_xuidl_scan((const char *)data, len, 1, out);
	if (rc == -1 || (rc == 1 && !pop3_uidl_ok(out, strlen(out))) ||
	    (last != -1 && rc != last))
		abort();
	(void)mdir_xuidl_mdaform(rc == 1 ? out : "x");

	if ((text = malloc(len + 1)) == NULL)
		return 0;
	memcpy(text, data, len);
	if (mdir_courier_parse(&c, text, len, err, sizeof(err)) != KP_OK) {
		mdir_courier_free(&c);
		return 0;
	}
	if (c.unusable && c.n != 0)
		abort();
	for (i = 0; i < c.n; i++) {
		r = &c.recs[i];
		if (r->name < c.text || r->name + r->namelen > c.text + c.len ||
		    r->namelen == 0 || memchr(r->name, ':', r->namelen) != NULL)
			abort();
		if ((f = mdir_courier_find(&c, r->name, r->namelen)) == NULL ||
		    f->namelen != r->namelen ||
		    memcmp(f->name, r->name, r->namelen) != 0 || f > r)
			abort();
		mdir_courier_uidl(r, r->name, r->namelen, out);
		if (!pop3_uidl_ok(out, strlen(out)))
			abort();
		mdir_courier_uidl(NULL, r->name, r->namelen, out);
		if (!pop3_uidl_ok(out, strlen(out)))
			abort();
	}
	mdir_courier_free(&c);
	return 0;
}
