/* SPDX-License-Identifier: MIT */
/*
 * tests/common/status-t.c: tests for common/status.c, the one place
 * statuses become RFC 2449 response codes: every failure has a code,
 * success has none, an unknown value is treated as a temporary failure.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "common/status.h"
#include "tap/basic.h"

int
main(void)
{
	plan(13);
	ok(kp_status_code(KP_OK) == NULL && kp_status_code(KP_MORE) == NULL,
	    "success and in-progress carry no code");
	is_string("SYS/TEMP", kp_status_code(KP_TEMP), "temporary");
	is_string("SYS/PERM", kp_status_code(KP_PERM), "permanent");
	is_string("AUTH", kp_status_code(KP_AUTH), "authentication");
	is_string("IN-USE", kp_status_code(KP_INUSE), "in use");
	is_string("LOGIN-DELAY", kp_status_code(KP_DELAY), "login delay");
	is_string("SYS/TEMP", kp_status_code(KP_GONE), "gone: try again");
	is_string("SYS/TEMP", kp_status_code(KP_STATUS_MIN - 1),
	    "below the enum: temporary");
	is_string("SYS/TEMP", kp_status_code(2), "above it: temporary");
	ok(KP_OK == 0 && KP_MORE > 0, "zero is success, more is positive");
	ok(kp_status_errno(EACCES) == KP_PERM &&
	    kp_status_errno(ENOENT) == KP_PERM &&
	    kp_status_errno(ELOOP) == KP_PERM &&
	    kp_status_errno(EROFS) == KP_PERM, "errno: what retrying won't fix");
	ok(kp_status_errno(ENOSPC) == KP_TEMP &&
	    kp_status_errno(EDQUOT) == KP_TEMP &&
	    kp_status_errno(EIO) == KP_TEMP &&
	    kp_status_errno(EINTR) == KP_TEMP, "errno: what may pass");
	ok(kp_status_errno(0) == KP_TEMP, "errno 0: temporary, not success");
	return 0;
}
