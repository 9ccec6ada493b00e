/* SPDX-License-Identifier: MIT */
/*
 * common/status.c: status values to RFC 2449 response codes and words.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>

#include "common/status.h"

const char *
kp_status_code(int st)
{
	switch (st) {
	case KP_OK:
	case KP_MORE:
		return NULL;
	case KP_PERM:
		return "SYS/PERM";
	case KP_AUTH:
		return "AUTH";		/* RFC 3206 section 4 */
	case KP_INUSE:
		return "IN-USE";	/* RFC 2449 section 8.1.1 */
	case KP_DELAY:
		return "LOGIN-DELAY";	/* RFC 2449 section 8.1.2 */
	default:			/* KP_TEMP, KP_GONE, unknown */
		return "SYS/TEMP";	/* RFC 3206 section 5 */
	}
}

int
kp_status_errno(int e)
{
	switch (e) {
	case EACCES:
	case EPERM:
	case ENOENT:
	case ENOTDIR:
	case EISDIR:
	case ELOOP:
	case ENAMETOOLONG:
	case EROFS:
		return KP_PERM;
	default:
		return KP_TEMP;
	}
}
