/* SPDX-License-Identifier: MIT */
/*
 * kpopd/md-lr.c: a line reader over a byte range of a descriptor, with
 * pread and one buffer of MD_BUF_SIZE: it hands out each line, or the
 * buffer-sized pieces of a longer one, with its file offset.  The mbox
 * parser reads the snapshot with it.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/limits.h"
#include "kpopd/md-int.h"

int
md_lr_init(struct md_lr *lr, int fd, off_t start, off_t end)
{
	memset(lr, 0, sizeof(*lr));
	lr->fd = fd;
	lr->boff = start;
	lr->end = end;
	lr->bol = 1;
	if ((lr->buf = malloc(MD_BUF_SIZE)) == NULL)
		return -1;
	return 0;
}

int
md_lr_next(struct md_lr *lr, struct md_piece *pc)
{
	unsigned char *nl;
	size_t want;
	ssize_t r;

	for (;;) {
		if (lr->pos < lr->len) {
			nl = memchr(lr->buf + lr->pos, '\n', lr->len - lr->pos);
			/* A whole line, a full buffer, or the end. */
			if (nl != NULL ||
			    (lr->pos == 0 && lr->len == MD_BUF_SIZE) ||
			    lr->boff + (off_t)lr->len >= lr->end) {
				size_t stop = nl != NULL ?
				    (size_t)(nl - lr->buf) + 1 : lr->len;

				pc->p = lr->buf + lr->pos;
				pc->n = stop - lr->pos;
				pc->off = lr->boff + (off_t)lr->pos;
				pc->bol = lr->bol;
				pc->eol = (nl != NULL);
				lr->bol = (nl != NULL);
				lr->pos = stop;
				return 1;
			}
		} else if (lr->boff + (off_t)lr->len >= lr->end)
			return 0;
		/* Move what is left to the front and read more. */
		memmove(lr->buf, lr->buf + lr->pos, lr->len - lr->pos);
		lr->boff += (off_t)lr->pos;
		lr->len -= lr->pos;
		lr->pos = 0;
		want = MD_BUF_SIZE - lr->len;
		if ((off_t)want > lr->end - (lr->boff + (off_t)lr->len))
			want = (size_t)(lr->end - (lr->boff + (off_t)lr->len));
		r = pread(lr->fd, lr->buf + lr->len, want,
		    lr->boff + (off_t)lr->len);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			/* Shorter than we were told: stop here. */
			lr->shortread = 1;
			lr->end = lr->boff + (off_t)lr->len;
			continue;
		}
		lr->len += (size_t)r;
	}
}

void
md_lr_free(struct md_lr *lr)
{
	free(lr->buf);
	lr->buf = NULL;
}
