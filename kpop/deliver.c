/* SPDX-License-Identifier: MIT */
/*
 * kpop/deliver.c: delivery of one message (deliver.h): parsing a target,
 * and the calls a delivery goes through, handed to the target's entry
 * points (dlv-int.h): dlv-maildir.c, dlv-mbox.c, dlv-mda.c,
 * dlv-smtp.c and dlv-stdout.c, which also hold the checks a rerun
 * after a crash makes.
 * dlv-io.c has what the targets share.
 */
#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/util.h"
#include "kpop/deliver.h"
#include "kpop/dlv-int.h"

/* The targets, by kind. */
static const struct dlv_ops *const dlv_targets[] = {
	[DLV_MAILDIR] = &dlv_maildir_ops,
	[DLV_MBOX] = &dlv_mbox_ops,
	[DLV_MDA] = &dlv_mda_ops,
	[DLV_STDOUT] = &dlv_stdout_ops,
	[DLV_LMTP] = &dlv_smtp_ops,
	[DLV_SMTP] = &dlv_smtp_ops,
};

/* ---- targets ---- */

/* The kind a bare path names: a directory or trailing '/', a file. */
static int
dlv_parse_path(const char *spec, enum dlv_kind *kind, char *err,
    size_t errlen)
{
	struct stat st;
	size_t n = strlen(spec);

	if (n > 0 && spec[n - 1] == '/') {
		*kind = DLV_MAILDIR;
		return KP_OK;
	}
	if (stat(spec, &st) == 0 && (S_ISDIR(st.st_mode) ||
	    S_ISREG(st.st_mode))) {
		*kind = S_ISDIR(st.st_mode) ? DLV_MAILDIR : DLV_MBOX;
		return KP_OK;
	}
	(void)util_snprintf(err, errlen,
	    "target %s: not an existing Maildir or mbox; "
	    "say maildir:PATH, mbox:PATH or mda:COMMAND, or end a new "
	    "Maildir with /", spec);
	return KP_PERM;
}

/*
 * A Received: line by default: where the message goes on to a mail
 * system that expects one (an MDA, and the LMTP and SMTP targets); not
 * where it is filed for the user (Maildir, mbox, stdout), as mpop.
 */
int
dlv_kind_wants_received(enum dlv_kind kind)
{
	switch (kind) {
	case DLV_MDA:
	case DLV_LMTP:
	case DLV_SMTP:
		return 1;
	case DLV_MAILDIR:
	case DLV_MBOX:
	case DLV_STDOUT:
	default:
		return 0;
	}
}

int
dlv_parse(const char *spec, struct dlv_target *t, char *err, size_t errlen)
{
	static const struct {
		const char	*prefix;
		enum dlv_kind	 kind;
	} pre[] = {
		{ "maildir:", DLV_MAILDIR },
		{ "mbox:", DLV_MBOX },
		{ "mda:", DLV_MDA },
		{ "lmtp:", DLV_LMTP },
		{ "smtp:", DLV_SMTP },
	};
	const char *arg = spec;
	size_t i, n;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < KP_NELEM(pre); i++) {
		n = strlen(pre[i].prefix);
		if (strncmp(spec, pre[i].prefix, n) == 0) {
			t->kind = pre[i].kind;
			arg = spec + n;
			break;
		}
	}
	if (i == KP_NELEM(pre) && strcmp(spec, "-") == 0)
		t->kind = DLV_STDOUT;
	else if (i == KP_NELEM(pre) && *spec != '\0' &&
	    dlv_parse_path(spec, &t->kind, err, errlen) != KP_OK)
		return KP_PERM;
	if (*arg == '\0') {
		(void)util_snprintf(err, errlen, "target \"%s\": empty", spec);
		return KP_PERM;
	}
	if (util_strlcpy(t->arg, arg, sizeof(t->arg)) == -1) {
		(void)util_snprintf(err, errlen,
		    "target %.64s...: too long", spec);
		return KP_PERM;
	}
	if (t->kind == DLV_LMTP || t->kind == DLV_SMTP) {
		char host[DLV_ARG_MAX];
		unsigned int port;

		return dlv_smtp_addr(t->kind, t->arg, host, sizeof(host),
		    &port, err, errlen);
	}
	return KP_OK;
}

/* ---- a delivery ---- */

/* Free the handle, undoing whatever was not committed. */
static void
dlv_free(struct dlv *h)
{
	if (h->ops->release != NULL)
		h->ops->release(h);
	if (h->fd != -1)
		(void)close(h->fd);
	EVP_MD_CTX_free(h->sha);
	free(h->buf);
	free(h);
}

int
dlv_open(const struct dlv_target *t, const struct dlv_info *info,
    struct dlv **hp, char *err, size_t errlen)
{
	const struct dlv_ops *ops = NULL;
	struct dlv *h;
	int rc;

	*hp = NULL;
	if (info->token != NULL && !dlv_token_valid(info->token)) {
		(void)util_snprintf(err, errlen, "bad delivery token");
		return KP_PERM;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->buf = malloc(DLV_BUF_SIZE)) == NULL) {
		free(h);
		(void)util_snprintf(err, errlen, "out of memory");
		return KP_TEMP;
	}
	if ((size_t)t->kind < KP_NELEM(dlv_targets))
		ops = dlv_targets[t->kind];
	if (ops == NULL) {
		free(h->buf);
		free(h);
		(void)util_snprintf(err, errlen, "unknown target kind");
		return KP_PERM;
	}
	h->ops = ops;
	h->label = ops->label;
	h->w.kind = t->kind;
	h->fd = h->last = -1;
	h->when = info->when != 0 ? info->when : time(NULL);
	h->lock_wait = info->lock_wait;
	(void)util_strlcpy(h->w.arg, t->arg, sizeof(h->w.arg));
	if (info->token != NULL)
		(void)util_strlcpy(h->w.token, info->token,
		    sizeof(h->w.token));
	if ((rc = ops->open(h, info)) != KP_OK) {
		(void)util_snprintf(err, errlen, "%s", h->err);
		dlv_free(h);
		return rc;
	}
	*hp = h;
	return KP_OK;
}

int
dlv_write(struct dlv *h, const void *buf, size_t len)
{
	if (h->status != KP_OK || len == 0)
		return h->status;
	if (h->prepared)
		return dlv_io_fail(h, KP_PERM, "write after dlv_prepare");
	h->w.size += len;
	h->last = ((const unsigned char *)buf)[len - 1];
	if (h->ops->write != NULL)
		h->ops->write(h, buf, len);
	else
		dlv_io_put(h, buf, len);
	return h->status;
}

const char *
dlv_error(const struct dlv *h)
{
	return h->err;
}

int
dlv_prepare(struct dlv *h, struct dlv_where *w, char *err, size_t errlen)
{
	if (!h->prepared && h->status == KP_OK) {
		h->prepared = 1;
		(void)h->ops->prepare(h);
	}
	*w = h->w;
	if (h->status != KP_OK)
		(void)util_snprintf(err, errlen, "%s", h->err);
	return h->status;
}

int
dlv_commit(struct dlv *h, struct dlv_where *w, char *err, size_t errlen)
{
	int rc;

	rc = dlv_prepare(h, w, err, errlen);
	if (h->ops->commit != NULL)
		rc = h->ops->commit(h, rc);
	*w = h->w;
	if (rc != KP_OK)
		(void)util_snprintf(err, errlen, "%s", h->err);
	dlv_free(h);
	return rc;
}

void
dlv_abort(struct dlv *h)
{
	if (h != NULL)
		dlv_free(h);
}
