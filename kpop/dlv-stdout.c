/* SPDX-License-Identifier: MIT */
/*
 * kpop/dlv-stdout.c: "delivery" to standard output (deliver.h,
 * dlv-int.h): the bytes are written, and fsynced where that means
 * anything.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "kpop/deliver.h"
#include "kpop/dlv-int.h"

static int
dlv_stdout_open(struct dlv *h, const struct dlv_info *info)
{
	(void)info;
	h->fd = STDOUT_FILENO;
	return KP_OK;
}

/* stdout is fsynced when it is a file; pipes and terminals cannot be. */
static int
dlv_stdout_prepare(struct dlv *h)
{
	int e;

	if (dlv_io_flush(h) != KP_OK)
		return h->status;
	if (dlv_io_fsync(h->fd, "file") == -1 && errno != EINVAL &&
	    errno != EROFS && errno != ENOTSUP) {
		e = errno;
		return dlv_io_fail(h, dlv_io_status(e), "standard output "
		    "cannot be synced to disk: %s", strerror(e));
	}
	return KP_OK;
}

/* Standard output is not ours to close. */
static void
dlv_stdout_release(struct dlv *h)
{
	h->fd = -1;
}

const struct dlv_ops dlv_stdout_ops = {
	.kind = DLV_STDOUT,
	.label = "standard output",
	.pipe = 1,
	.open = dlv_stdout_open,
	.prepare = dlv_stdout_prepare,
	.release = dlv_stdout_release,
};
