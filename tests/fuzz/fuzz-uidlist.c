/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz-uidlist.c: libFuzzer entry for the dovecot-uidlist
 * parser (kpopd/mdir-uidlist.c, mdir_uidlist_parse) and the UIDLs made
 * from it (mdir_uidlist_uidl with Dovecot's default format and one with
 * every variable): records within the text, UIDs ascending, every base
 * name found again, every UIDL valid (common/pop3.h, pop3_uidl_ok).
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
	static const char *const fmts[] = { "%08Xu%08Xv",
	    "%v.%u-%Lf-%-4.g-%{guid}%Mu" };
	struct mdir_uidlist u;
	const struct mdir_urec *r, *f;
	char err[256], out[POP3_UIDL_MAX + 1], *text;
	size_t i, k;

	if (len > MD_UIDLIST_LINE_MAX * 4)
		return 0;
	if ((text = malloc(len + 1)) == NULL)
		return 0;
	memcpy(text, data, len);
	if (mdir_uidlist_parse(&u, text, len, err, sizeof(err)) != KP_OK) {
		mdir_uidlist_free(&u);
		return 0;
	}
	if (u.unusable && u.n != 0)
		abort();
	for (i = 0; i < u.n; i++) {
		r = &u.recs[i];
		if (r->name < u.text || r->name + r->namelen > u.text + u.len ||
		    r->namelen == 0 || r->uid == 0 ||
		    (i > 0 && r->uid <= u.recs[i - 1].uid))
			abort();
		if ((f = mdir_uidlist_find(&u, r->name, r->namelen)) == NULL ||
		    f->namelen != r->namelen ||
		    memcmp(f->name, r->name, r->namelen) != 0 ||
		    f->uid < r->uid)
			abort();
		for (k = 0; k < 2; k++) {
			if (mdir_uidlist_uidl(&u, r, fmts[k], out, err,
			    sizeof(err)) == -1 ||
			    !pop3_uidl_ok(out, strlen(out)))
				abort();
		}
	}
	mdir_uidlist_free(&u);
	return 0;
}
