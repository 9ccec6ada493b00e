/* SPDX-License-Identifier: MIT */
/*
 * common/sasl-layer.c: a SASL security layer (RFC 4422 section 3.7) as
 * an io transport: what is written is encoded by the codec and sent as
 * packets; what arrives is read in records below it (io_raw_read) and
 * decoded.  See sasl.h.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/io-int.h"
#include "common/limits.h"
#include "common/sasl.h"

struct xsasl_layer {
	struct xsasl_codec	 c;
	/* Encoded output not yet written, and the plaintext it stands for. */
	unsigned char		*wenc;
	size_t			 wlen, wpos, wplain;
	/* Decoded input the reader has not taken yet. */
	unsigned char		 hold[SASL_LAYER_HOLD];
	size_t			 hlen, hpos;
	unsigned char		 raw[SASL_LAYER_READ];
};

static ssize_t
layer_read(struct io *io, void *buf, size_t n)
{
	struct xsasl_layer *l = io->tctx;
	const void *out;
	size_t outlen, take;
	ssize_t r;

	while (l->hpos == l->hlen) {
		if ((r = io_raw_read(io, l->raw, sizeof(l->raw))) <= 0)
			return r == 0 ? IO_T_EOF : r;
		if (l->c.decode(l->c.arg, l->raw, (size_t)r, &out, &outlen,
		    io->err, sizeof(io->err)) == -1)
			return IO_T_ERROR;
		if (outlen > sizeof(l->hold)) {
			io_fail(io, "security layer: a packet decodes to %zu "
			    "bytes, more than %d", outlen, SASL_LAYER_HOLD);
			return IO_T_ERROR;
		}
		memcpy(l->hold, out, outlen);
		l->hpos = 0;
		l->hlen = outlen;
	}
	take = l->hlen - l->hpos < n ? l->hlen - l->hpos : n;
	memcpy(buf, l->hold + l->hpos, take);
	l->hpos += take;
	return (ssize_t)take;
}

/*
 * Encode up to maxout bytes of buf, then report them written only once
 * every encoded byte is out: io.c offers the same bytes again after a
 * WANT_WRITE, and a flush must mean the peer can have them.
 */
static ssize_t
layer_write(struct io *io, const void *buf, size_t n)
{
	struct xsasl_layer *l = io->tctx;
	const void *out;
	size_t outlen, chunk;
	ssize_t r;

	if (l->wpos == l->wlen) {
		chunk = n < l->c.maxout ? n : l->c.maxout;
		if (l->c.encode(l->c.arg, buf, chunk, &out, &outlen, io->err,
		    sizeof(io->err)) == -1)
			return IO_T_ERROR;
		if (outlen > SASL_LAYER_CHUNK + SASL_LAYER_READ) {
			io_fail(io, "security layer: %zu bytes encode to %zu",
			    chunk, outlen);
			return IO_T_ERROR;
		}
		memcpy(l->wenc, out, outlen);
		l->wpos = 0;
		l->wlen = outlen;
		l->wplain = chunk;
	}
	while (l->wpos < l->wlen) {
		r = io_raw_write(io, l->wenc + l->wpos, l->wlen - l->wpos);
		if (r < 0)
			return r;
		l->wpos += (size_t)r;
	}
	return (ssize_t)l->wplain;
}

static size_t
layer_pending(const struct io *io)
{
	const struct xsasl_layer *l = io->tctx;

	return l->hlen - l->hpos;
}

static void
layer_end(struct io *io)
{
	struct xsasl_layer *l = io->tctx;

	util_wipe(l->wenc, SASL_LAYER_CHUNK + SASL_LAYER_READ);
	free(l->wenc);
	util_wipe(l, sizeof(*l));
	free(l);
}

static const struct io_transport layer_transport = {
	"sasl", layer_read, layer_write, layer_pending, layer_end
};

int
xsasl_layer_start(struct io *io, const struct xsasl_codec *c)
{
	struct xsasl_layer *l;

	if (c->maxout == 0 || (l = calloc(1, sizeof(*l))) == NULL)
		return -1;
	if ((l->wenc = malloc(SASL_LAYER_CHUNK + SASL_LAYER_READ)) == NULL) {
		free(l);
		return -1;
	}
	l->c = *c;
	if (l->c.maxout > SASL_LAYER_CHUNK)
		l->c.maxout = SASL_LAYER_CHUNK;
	io_set_transport(io, &layer_transport, l);
	return 0;
}

int
xsasl_layer_active(const struct io *io)
{
	return io->t == &layer_transport;
}
