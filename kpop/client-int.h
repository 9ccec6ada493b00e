/* SPDX-License-Identifier: MIT */
/*
 * kpop/client-int.h: what client-auth.c (KPOP and the logins) uses of
 * client.c's line layer, private to kpop/: errors, sending a command,
 * reading a response, and making server text printable.  client.h is
 * the public interface.
 */
#ifndef KPOP_CLIENT_INT_H
#define KPOP_CLIENT_INT_H

#include <stddef.h>
#include <string.h>

#include "common/pop3.h"
#include "common/util.h"
#include "kpop/client.h"

/* Set p->err from fmt; returns st. */
int	pop_fail(struct pop *, int st, const char *fmt, ...) KP_PRINTF(3, 4);

/*
 * What a server sent, as it may reach the user's terminal: printable
 * ASCII, control bytes escaped (log.h), so that no escape sequence of
 * the server's passes.  Returns buf.
 */
const char *pop_shown(char *buf, size_t buflen, const char *s, size_t len);

/* The same for a NUL-terminated string. */
#define SHOWN(buf, s)	pop_shown((buf), sizeof(buf), (s), strlen(s))

/*
 * Queue a command line; secret ones are traced with their argument
 * hidden.
 */
int	pop_send_line(struct pop *, int secret, const char *fmt, ...)
	    KP_PRINTF(3, 4);

/*
 * Read one response line into p->line.  *r gets its class.  POP_OK for
 * +OK and continuations, POP_ERR for -ERR (p->code set).
 */
int	pop_read_resp(struct pop *, struct pop3_resp *r);

/* -ERR [code] to the status class it stands for (RFC 3206, 2449). */
int	pop_err_class(const struct pop *, int dflt);

#endif
