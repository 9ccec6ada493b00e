/* SPDX-License-Identifier: MIT */
/*
 * kpopd/monwrap.c: the net process's side of the monitor protocol, one
 * function per request (monwrap.h), as OpenSSH's monitor_wrap.c is to its
 * monitor.c.  Each builds its request with common/ipc.h, sends it, takes
 * exactly the reply type kpopd.h gives for it, parses it with bounds, and
 * hands plain values back; anything else is the monitor failing us.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/util.h"
#include "kpopd/kpopd.h"
#include "kpopd/monwrap.h"

void
mw_init(struct mw *w, int sock)
{
	w->sock = sock;
	w->kicked = 0;
	ipc_reset(&w->b);
	ipc_reset(&w->lb);
}

/* Send w->b as type.  0 or -1. */
static int
send_req(struct mw *w, uint32_t type)
{
	return ipc_send(w->sock, type, &w->b, -1);
}

/*
 * Receive a message into b, as ipc_recv; an M_KICKED in place of the
 * answer is remembered (mw_kicked).
 */
static int
recv_msg(struct mw *w, uint32_t *typep, struct ipc_buf *b)
{
	int r;

	r = ipc_recv(w->sock, typep, b, NULL, MW_TIMEOUT);
	if (r == 0 && *typep == M_KICKED)
		w->kicked = 1;
	return r;
}

/* Receive the answer into w->b; 0 if it is of type want, else -1. */
static int
recv_reply(struct mw *w, uint32_t want)
{
	uint32_t type;

	if (recv_msg(w, &type, &w->b) != 0 || type != want)
		return -1;
	return 0;
}

int
mw_apop_challenge(struct mw *w, char *out, size_t outlen)
{
	ipc_reset(&w->b);
	if (send_req(w, M_APOP_CHALLENGE) == -1 ||
	    recv_reply(w, M_APOP_CHALLENGE) == -1 ||
	    ipc_get_str(&w->b, out, outlen) == -1 || ipc_end(&w->b) == -1)
		return -1;
	return 0;
}

int
mw_proxy(struct mw *w, const char *addr, int *statusp)
{
	ipc_reset(&w->b);
	ipc_put_str(&w->b, addr);
	if (send_req(w, M_PROXY) == -1 ||
	    recv_reply(w, M_PROXY_RESULT) == -1 ||
	    ipc_get_status(&w->b, statusp) == -1 || ipc_end(&w->b) == -1)
		return -1;
	return 0;
}

int
mw_kpop_apreq(struct mw *w, const void *apreq, size_t len, int *okp,
    const void **repp, size_t *replenp)
{
	uint32_t ok;

	ipc_reset(&w->b);
	ipc_put_bytes(&w->b, apreq, len);
	if (send_req(w, M_KPOP_APREQ) == -1 ||
	    recv_reply(w, M_KPOP_RESULT) == -1 ||
	    ipc_get_u32(&w->b, &ok) == -1 ||
	    ipc_get_bytes(&w->b, repp, replenp) == -1 ||
	    ipc_end(&w->b) == -1)
		return -1;
	*okp = ok != 0;
	return 0;
}

/* w->b holds an M_AUTH_RESULT: parse it into res.  0 or -1. */
static int
get_auth(struct mw *w, struct mw_auth *res)
{
	if (ipc_get_status(&w->b, &res->result) == -1 ||
	    ipc_get_str(&w->b, res->user, sizeof(res->user)) == -1 ||
	    ipc_get_str(&w->b, res->text, sizeof(res->text)) == -1 ||
	    ipc_get_u32(&w->b, &res->layer) == -1 ||
	    ipc_end(&w->b) == -1)
		return -1;
	return 0;
}

int
mw_auth_pass(struct mw *w, const char *user, const char *pass,
    struct mw_auth *res)
{
	int r;

	ipc_reset(&w->b);
	ipc_put_str(&w->b, user);
	ipc_put_str(&w->b, pass);
	r = send_req(w, M_AUTH_PASS);
	util_wipe(w->b.data, w->b.len);
	if (r == -1 || recv_reply(w, M_AUTH_RESULT) == -1)
		return -1;
	return get_auth(w, res);
}

int
mw_auth_apop(struct mw *w, const char *user, const char *digest,
    struct mw_auth *res)
{
	ipc_reset(&w->b);
	ipc_put_str(&w->b, user);
	ipc_put_str(&w->b, digest);
	if (send_req(w, M_AUTH_APOP) == -1 ||
	    recv_reply(w, M_AUTH_RESULT) == -1)
		return -1;
	return get_auth(w, res);
}

int
mw_kpop_user(struct mw *w, const char *user, struct mw_auth *res)
{
	ipc_reset(&w->b);
	ipc_put_str(&w->b, user);
	if (send_req(w, M_KPOP_USER) == -1 ||
	    recv_reply(w, M_AUTH_RESULT) == -1)
		return -1;
	return get_auth(w, res);
}

/* The answer to a SASL start or step: a challenge or the result. */
static int
sasl_answer(struct mw *w, struct mw_auth *res, const void **chalp,
    size_t *chalenp)
{
	uint32_t type;

	if (recv_msg(w, &type, &w->b) != 0)
		return -1;
	if (type == M_AUTH_RESULT)
		return get_auth(w, res) == -1 ? -1 : MW_SASL_DONE;
	if (type != M_SASL_CONT ||
	    ipc_get_bytes(&w->b, chalp, chalenp) == -1 ||
	    ipc_end(&w->b) == -1)
		return -1;
	return MW_SASL_CONT;
}

int
mw_sasl_start(struct mw *w, const char *mech, int has_in, const void *in,
    size_t inlen, const struct mw_tls *tls, struct mw_auth *res,
    const void **chalp, size_t *chalenp)
{
	ipc_reset(&w->b);
	ipc_put_str(&w->b, mech);
	ipc_put_u32(&w->b, has_in ? 1 : 0);
	ipc_put_bytes(&w->b, in, inlen);
	ipc_put_u32(&w->b, tls->ssf);
	ipc_put_str(&w->b, tls->cb_name);
	ipc_put_bytes(&w->b, tls->cb, tls->cblen);
	if (send_req(w, M_SASL_START) == -1)
		return -1;
	return sasl_answer(w, res, chalp, chalenp);
}

int
mw_sasl_step(struct mw *w, const void *in, size_t inlen,
    struct mw_auth *res, const void **chalp, size_t *chalenp)
{
	ipc_reset(&w->b);
	ipc_put_bytes(&w->b, in, inlen);
	if (send_req(w, M_SASL_STEP) == -1)
		return -1;
	return sasl_answer(w, res, chalp, chalenp);
}

int
mw_sasl_abort(struct mw *w)
{
	ipc_reset(&w->b);
	return send_req(w, M_SASL_ABORT);
}

int
mw_snap_head(struct mw *w, uint64_t *countp, uint64_t *totalp)
{
	if (recv_reply(w, M_SNAP_HEAD) == -1 ||
	    ipc_get_u64(&w->b, countp) == -1 ||
	    ipc_get_u64(&w->b, totalp) == -1 || ipc_end(&w->b) == -1)
		return -1;
	return 0;
}

int
mw_snap_part(struct mw *w, struct mw_msg *msgs, size_t room, size_t *gotp)
{
	uint64_t size;
	uint32_t k, i;

	if (recv_reply(w, M_SNAP_PART) == -1 ||
	    ipc_get_u32(&w->b, &k) == -1 || k == 0 || k > room)
		return -1;
	for (i = 0; i < k; i++) {
		if (ipc_get_u64(&w->b, &size) == -1 ||
		    ipc_get_str(&w->b, msgs[i].uidl,
		    sizeof(msgs[i].uidl)) == -1)
			return -1;
		msgs[i].size = size;
	}
	if (ipc_end(&w->b) == -1)
		return -1;
	*gotp = k;
	return 0;
}

int
mw_get_msg(struct mw *w, const uint32_t *idx, size_t n,
    struct mw_fetch *out)
{
	int fds[IPC_FDS_MAX];
	uint32_t type, cnt;
	size_t nfds = 0, used = 0, k;
	struct mw_fetch *p;

	for (k = 0; k < n; k++)
		out[k].fd = -1;
	ipc_reset(&w->b);
	ipc_put_u32(&w->b, (uint32_t)n);
	for (k = 0; k < n; k++)
		ipc_put_u32(&w->b, idx[k]);
	if (send_req(w, M_GET_MSG) == -1 ||
	    ipc_recv_fds(w->sock, &type, &w->b, fds, &nfds, n, MW_TIMEOUT) !=
	    0)
		return -1;
	if (type == M_KICKED)
		w->kicked = 1;
	if (type != M_MSG || ipc_get_u32(&w->b, &cnt) == -1 || cnt != n)
		goto bad;
	for (k = 0; k < n; k++) {
		p = &out[k];
		if (ipc_get_status(&w->b, &p->r) == -1 ||
		    ipc_get_u64(&w->b, &p->off) == -1 ||
		    ipc_get_u64(&w->b, &p->len) == -1 ||
		    ipc_get_str(&w->b, p->text, sizeof(p->text)) == -1 ||
		    p->off > (uint64_t)LLONG_MAX ||
		    p->len > (uint64_t)LLONG_MAX - p->off)
			goto bad;
		if (p->r == 0) {
			if (used == nfds)
				goto bad;
			p->fd = fds[used++];
		}
	}
	if (ipc_end(&w->b) == -1 || used != nfds)
		goto bad;
	return 0;
bad:
	for (k = 0; k < nfds; k++)
		close(fds[k]);
	for (k = 0; k < n; k++)
		out[k].fd = -1;
	errno = EPROTO;
	return -1;
}

int
mw_touch(struct mw *w, uint64_t sent)
{
	ipc_reset(&w->b);
	ipc_put_u64(&w->b, sent);
	return send_req(w, M_TOUCH);
}

int
mw_kicked(struct mw *w)
{
	uint32_t type;

	/* The monitor sends M_KICKED before it shuts the client out. */
	if (!w->kicked && ipc_recv(w->sock, &type, &w->b, NULL, 0) == 0 &&
	    type == M_KICKED)
		w->kicked = 1;
	return w->kicked;
}

int
mw_quit(struct mw *w, const unsigned char *del, size_t count,
    int *resultp, char *text, size_t textlen)
{
	/* The bitmap: bit i%8 of byte i/8 for message i. */
	static unsigned char bits[IPC_MSG_MAX];
	size_t i, nb = (count + 7) / 8;

	/*
	 * The deletions go as a bitmap in one message: count u32, then the
	 * bytes with their u32 length.  MD_MSGS_MAX is set so it fits.
	 */
	_Static_assert(2 * 4 + (MD_MSGS_MAX + 7) / 8 <= IPC_MSG_MAX,
	    "MD_MSGS_MAX: the QUIT bitmap must fit one IPC message");
	if (count > UINT32_MAX || nb > sizeof(bits) - 2 * 4)
		return MW_TOOBIG;
	memset(bits, 0, nb);
	for (i = 0; i < count; i++)
		if (del[i])
			bits[i / 8] |= (unsigned char)(1U << (i % 8));
	ipc_reset(&w->b);
	ipc_put_u32(&w->b, (uint32_t)count);
	ipc_put_bytes(&w->b, bits, nb);
	if (w->b.bad)
		return MW_TOOBIG;
	if (send_req(w, M_QUIT) == -1 || recv_reply(w, M_QUIT_RESULT) == -1 ||
	    ipc_get_status(&w->b, resultp) == -1 ||
	    ipc_get_str(&w->b, text, textlen) == -1 || ipc_end(&w->b) == -1)
		return -1;
	return 0;
}

/*
 * The security layer's codec runs in the monitor, which holds the SASL
 * connection: send it the bytes, take back the result.
 */
static int
layer_relay(struct mw *w, uint32_t type, const void *in, size_t inlen,
    const void **out, size_t *outlen, char *err, size_t errlen)
{
	uint32_t rtype;

	ipc_reset(&w->lb);
	ipc_put_bytes(&w->lb, in, inlen);
	if (ipc_send(w->sock, type, &w->lb, -1) == -1 ||
	    recv_msg(w, &rtype, &w->lb) != 0 ||
	    rtype != M_LAYER_DATA || ipc_get_bytes(&w->lb, out, outlen) == -1 ||
	    ipc_end(&w->lb) == -1) {
		util_snprintf(err, errlen, "security layer: the monitor "
		    "refused the data");
		return -1;
	}
	return 0;
}

int
mw_layer_encode(void *arg, const void *in, size_t inlen, const void **out,
    size_t *outlen, char *err, size_t errlen)
{
	return layer_relay(arg, M_LAYER_ENCODE, in, inlen, out, outlen, err,
	    errlen);
}

int
mw_layer_decode(void *arg, const void *in, size_t inlen, const void **out,
    size_t *outlen, char *err, size_t errlen)
{
	return layer_relay(arg, M_LAYER_DECODE, in, inlen, out, outlen, err,
	    errlen);
}
