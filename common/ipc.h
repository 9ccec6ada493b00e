/* SPDX-License-Identifier: MIT */
/*
 * common/ipc.h: typed, length-capped messages between kpopd's processes
 * over a SOCK_SEQPACKET socketpair, optionally carrying descriptors
 * (SCM_RIGHTS).  A message is a 32-bit type and up to IPC_MSG_MAX bytes
 * of body, built and read with the bounds-checked ipc_buf helpers, so a
 * confused or hostile peer can make the reader fail but never overrun.
 */
#ifndef KPOP_IPC_H
#define KPOP_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* One message body; SEQPACKET keeps it whole.  Fits a default socket
   buffer with room to spare. */
#define IPC_MSG_MAX	(64 * 1024)

/* Descriptors one message may carry: a RETR prefetch window (net-trans.c). */
#define IPC_FDS_MAX	32

struct ipc_buf {
	unsigned char	data[IPC_MSG_MAX];
	size_t		len;	/* bytes written, or bytes received */
	size_t		pos;	/* read position */
	int		bad;	/* an overrun or malformed field was met */
};

/* Make a pair of connected SEQPACKET sockets (close-on-exec).  0 or -1. */
int	ipc_pair(int sv[2]) KP_WUR;

/*
 * Send type and the body b (NULL for none) and, if fd >= 0, a copy of
 * descriptor fd.  Returns 0, or -1 with errno set (EMSGSIZE for a body
 * that overran while being built).
 */
int	ipc_send(int sock, uint32_t type, const struct ipc_buf *b, int fd)
	    KP_WUR;

/* As ipc_send, with nfds (<= IPC_FDS_MAX) descriptors, in order. */
int	ipc_send_fds(int sock, uint32_t type, const struct ipc_buf *b,
	    const int *fds, size_t nfds) KP_WUR;

/*
 * Receive one message into b (reset first), waiting at most timeout_ms
 * (-1: for ever).  *typep gets its type; *fdp a received descriptor or -1
 * (fdp may be NULL: then any descriptor sent is closed).  Returns 0, 1 on
 * EOF (the peer is gone), or -1 with errno set (ETIMEDOUT, EMSGSIZE for a
 * truncated message, EPROTO for a malformed one).
 */
int	ipc_recv(int sock, uint32_t *typep, struct ipc_buf *b, int *fdp,
	    int timeout_ms) KP_NONNULL(2, 3) KP_WUR;

/*
 * As ipc_recv, keeping up to maxfds descriptors, in the order sent, in
 * fds[0 .. *nfdsp - 1].  A message with more than maxfds is an error
 * (EMSGSIZE), and its descriptors are closed.
 */
int	ipc_recv_fds(int sock, uint32_t *typep, struct ipc_buf *b, int *fds,
	    size_t *nfdsp, size_t maxfds, int timeout_ms)
	    KP_NONNULL(2, 3, 4, 5) KP_WUR;

/* Building a body: each sets b->bad instead of overrunning. */
void	ipc_reset(struct ipc_buf *) KP_NONNULL(1);
void	ipc_put_u32(struct ipc_buf *, uint32_t) KP_NONNULL(1);
void	ipc_put_u64(struct ipc_buf *, uint64_t) KP_NONNULL(1);
void	ipc_put_bytes(struct ipc_buf *, const void *, size_t) KP_NONNULL(1);
void	ipc_put_str(struct ipc_buf *, const char *) KP_NONNULL(1, 2);
/* An enum kp_status, as the u32 of its negation (KP_MORE is not sent). */
void	ipc_put_status(struct ipc_buf *, int) KP_NONNULL(1);

/* Room left in b for more fields. */
size_t	ipc_room(const struct ipc_buf *) KP_NONNULL(1);

/*
 * Reading a body: each returns 0, or -1 and sets b->bad on a short or
 * malformed field.  ipc_get_str copies a string of at most max - 1 bytes
 * (no NUL inside) into out of size max.  ipc_get_bytes gives a pointer
 * into b and the length.  ipc_end checks nothing is left over: 0 or -1.
 */
int	ipc_get_u32(struct ipc_buf *, uint32_t *) KP_NONNULL(1, 2);
int	ipc_get_u64(struct ipc_buf *, uint64_t *) KP_NONNULL(1, 2);
int	ipc_get_str(struct ipc_buf *, char *out, size_t max) KP_NONNULL(1, 2);
int	ipc_get_bytes(struct ipc_buf *, const void **, size_t *)
	    KP_NONNULL(1, 2, 3);
int	ipc_end(struct ipc_buf *) KP_NONNULL(1);
/*
 * An enum kp_status sent with ipc_put_status; a value outside the enum
 * reads as KP_TEMP (the peer is not trusted to name a status).
 */
int	ipc_get_status(struct ipc_buf *, int *) KP_NONNULL(1, 2);

#endif
