/* SPDX-License-Identifier: MIT */
/*
 * kpopd/net-trans.c: the net process's commands of the TRANSACTION state
 * (RFC 1939 s.5): STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP, LAST,
 * and QUIT, which enters UPDATE.  The snapshot (sizes and UIDLs) comes
 * from the monitor after the login; deletions are only marked here and
 * go to the monitor as one bitmap at QUIT.  RETR and TOP stream from a
 * descriptor the monitor opened, through common/pop3.c's encoder.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/io.h"
#include "common/log.h"
#include "common/pop3.h"
#include "kpopd/kpopd.h"
#include "kpopd/monwrap.h"
#include "kpopd/net-int.h"

int
net_trans_begin(struct net *n, int rest)
{
	uint64_t count, total;

	if (mw_snap_head(&n->mw, &count, &total) == -1 ||
	    count > SIZE_MAX / sizeof(struct mw_msg))
		return -1;
	n->count = (size_t)count;
	n->total = total;
	if ((n->msgs = calloc(n->count + 1, sizeof(*n->msgs))) == NULL ||
	    (n->del = calloc(n->count + 1, 1)) == NULL)
		return -1;
	n->snap_got = 0;
	if (rest && net_trans_table(n) == -1)
		return -1;
	n->state = NS_TRANS;
	n->touched = time(NULL);
	io_set_timeout(n->io, (int)n->c->idle_timeout * 1000);
	return 0;
}

/*
 * The monitor streams the sizes and UIDLs right after the head; the net
 * process takes them only when a command needs them (net_cmds[].table in
 * net.c: anything but STAT and NOOP, each of which asks nothing of the
 * monitor), so a login's +OK and a first STAT do not wait for a large
 * maildrop's table.
 */
int
net_trans_table(struct net *n)
{
	size_t got;

	while (n->snap_got < n->count) {
		if (mw_snap_part(&n->mw, n->msgs + n->snap_got,
		    n->count - n->snap_got, &got) == -1)
			return -1;
		n->snap_got += got;
	}
	return 0;
}

/*
 * Resolve argument i as a message number: 0 and the 0-based index, or
 * a -ERR reply already queued and -1.
 */
static int
msg_arg(struct net *n, const struct pop3_cmd *cmd, int i, size_t *idx,
    enum net_verdict *v)
{
	unsigned long long num;

	if (pop3_cmd_num(cmd, i, 0, ULLONG_MAX, &num) == -1) {
		*v = net_reply_bad(n, "invalid message number");
		return -1;
	}
	if (num > n->count) {
		*v = net_reply_refuse(n, "no such message");
		return -1;
	}
	if (n->del[num - 1]) {
		*v = net_reply_refuse(n, "message is deleted");
		return -1;
	}
	*idx = (size_t)(num - 1);
	return 0;
}

enum net_verdict
net_trans_stat(struct net *n, const struct pop3_cmd *cmd)
{
	if (!pop3_cmd_args_ok(cmd, 0, 0))
		return net_reply_bad(n, "STAT takes no arguments");
	return net_reply(n, "+OK %zu %llu", n->count - n->ndel,
	    n->total - n->delsize);
}

/* LIST and UIDL: one message, or all that are not deleted. */
static enum net_verdict
list_or_uidl(struct net *n, const struct pop3_cmd *cmd, int uidl)
{
	enum net_verdict v;
	size_t i;

	if (!pop3_cmd_args_ok(cmd, 0, 1))
		return net_reply_bad(n, "takes at most one message number");
	if (cmd->argc == 1) {
		if (msg_arg(n, cmd, 0, &i, &v) == -1)
			return v;
		if (uidl)
			return net_reply(n, "+OK %zu %s", i + 1,
			    n->msgs[i].uidl);
		return net_reply(n, "+OK %zu %llu", i + 1, n->msgs[i].size);
	}
	if (net_reply(n, "+OK %zu messages", n->count - n->ndel) != NV_OK)
		return NV_FAIL;
	for (i = 0; i < n->count; i++) {
		if (n->del[i])
			continue;
		if ((uidl ? io_printf(n->io, "%zu %s\r\n", i + 1,
		    n->msgs[i].uidl) : io_printf(n->io, "%zu %llu\r\n", i + 1,
		    n->msgs[i].size)) != IO_OK)
			return NV_FAIL;
	}
	return io_puts(n->io, ".\r\n") == IO_OK ? NV_OK : NV_FAIL;
}

enum net_verdict
net_trans_list(struct net *n, const struct pop3_cmd *cmd)
{
	return list_or_uidl(n, cmd, 0);
}

enum net_verdict
net_trans_uidl(struct net *n, const struct pop3_cmd *cmd)
{
	return list_or_uidl(n, cmd, 1);
}

static int
net_sink(void *arg, const void *p, size_t len)
{
	return io_write(arg, p, len) == IO_OK ? 0 : -1;
}

void
net_trans_end(struct net *n)
{
	size_t k;

	for (k = 0; k < n->npre; k++)
		if (n->pre[k].m.fd >= 0)
			close(n->pre[k].m.fd);
	n->npre = 0;
}

/*
 * Ask the monitor for message i and, when the client is reading in
 * order, the next ones (struct net_pre).  Returns 0 with n->pre[] filled,
 * or -1 when the monitor failed us.
 */
static int
pre_fetch(struct net *n, size_t i)
{
	struct mw_fetch got[MW_FETCH_MAX];
	uint32_t want[MW_FETCH_MAX];
	size_t nw = 0, k, j;

	net_trans_end(n);
	n->pre_win = (i == n->pre_next && n->pre_win > 0) ?
	    (n->pre_win * 2 > MW_FETCH_MAX ? MW_FETCH_MAX : n->pre_win * 2) :
	    1;
	want[nw++] = (uint32_t)i;
	for (j = i + 1; j < n->count && nw < n->pre_win; j++)
		if (!n->del[j])
			want[nw++] = (uint32_t)j;
	n->pre_next = want[nw - 1] + 1;
	if (mw_get_msg(&n->mw, want, nw, got) == -1)
		return -1;
	for (k = 0; k < nw; k++) {
		n->pre[k].idx = want[k];
		n->pre[k].live = 1;
		n->pre[k].m = got[k];
	}
	n->npre = nw;
	return 0;
}

/* Send message i, cut after body_lines lines when >= 0 (TOP). */
static enum net_verdict
send_msg(struct net *n, size_t i, long long body_lines)
{
	struct pop3_enc e;
	struct net_pre *p = NULL;
	uint64_t off, len;
	int r;
	ssize_t got;
	size_t want, k;
	int fd = -1;

	for (k = 0; k < n->npre && p == NULL; k++)
		if (n->pre[k].live && n->pre[k].idx == i)
			p = &n->pre[k];
	if (p == NULL) {
		if (pre_fetch(n, i) == -1) {
			n->end = "monitor";
			return NV_FAIL;
		}
		p = &n->pre[0];
	}
	fd = p->m.fd;
	p->m.fd = -1;
	p->live = 0;	/* a second RETR of it asks again */
	r = p->m.r;
	off = p->m.off;
	len = p->m.len;
	if (r != 0)
		return net_reply(n, "-ERR [SYS/TEMP] message %zu is not "
		    "available", i + 1) == NV_OK ? NV_BAD : NV_FAIL;
	if (net_reply(n, "+OK %llu octets", n->msgs[i].size) != NV_OK)
		goto fail;
	pop3_enc_init(&e, body_lines);
	while (len > 0 && !e.done) {
		want = len < sizeof(n->block) ? (size_t)len : sizeof(n->block);
		got = pread(fd, n->block, want, (off_t)off);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0) {
			/* Cut short behind our back: end the reply cleanly. */
			log_err("%s: message %zu ended early while being sent: "
			    "%s", n->user, i + 1, got == 0 ? "end of file" :
			    strerror(errno));
			break;
		}
		if (pop3_enc_feed(&e, n->block, (size_t)got, net_sink,
		    n->io) == -1)
			goto fail;
		off += (uint64_t)got;
		len -= (uint64_t)got;
	}
	if (pop3_enc_end(&e, net_sink, n->io) == -1)
		goto fail;
	close(fd);
	if (body_lines < 0) {
		n->retr_msgs++;
		n->retr_bytes += e.octets;
	}
	if (i + 1 > n->last)
		n->last = i + 1;
	return NV_OK;
fail:
	close(fd);
	if (n->end == NULL)
		n->end = "io-error";	/* sending to the client failed */
	return NV_FAIL;
}

enum net_verdict
net_trans_retr(struct net *n, const struct pop3_cmd *cmd)
{
	enum net_verdict v;
	size_t i;

	if (!pop3_cmd_args_ok(cmd, 1, 1))
		return net_reply_bad(n, "RETR takes one message number");
	if (msg_arg(n, cmd, 0, &i, &v) == -1)
		return v;
	return send_msg(n, i, -1);
}

enum net_verdict
net_trans_top(struct net *n, const struct pop3_cmd *cmd)
{
	unsigned long long lines;
	enum net_verdict v;
	size_t i;

	if (!pop3_cmd_args_ok(cmd, 2, 2))
		return net_reply_bad(n, "TOP takes a message number and a "
		    "line count");
	if (msg_arg(n, cmd, 0, &i, &v) == -1)
		return v;
	/* fetchmail asks for TOP n 99999999: any count means "up to". */
	if (pop3_cmd_num(cmd, 1, 1, ULLONG_MAX, &lines) == -1)
		return net_reply_bad(n, "invalid line count");
	if (lines > LLONG_MAX)
		lines = LLONG_MAX;
	return send_msg(n, i, (long long)lines);
}

enum net_verdict
net_trans_dele(struct net *n, const struct pop3_cmd *cmd)
{
	enum net_verdict v;
	size_t i;

	if (!pop3_cmd_args_ok(cmd, 1, 1))
		return net_reply_bad(n, "DELE takes one message number");
	if (msg_arg(n, cmd, 0, &i, &v) == -1)
		return v;
	n->del[i] = 1;
	n->ndel++;
	n->delsize += n->msgs[i].size;
	return net_reply(n, "+OK message %zu deleted", i + 1);
}

enum net_verdict
net_trans_rset(struct net *n, const struct pop3_cmd *cmd)
{
	if (!pop3_cmd_args_ok(cmd, 0, 0))
		return net_reply_bad(n, "RSET takes no arguments");
	memset(n->del, 0, n->count);
	n->ndel = 0;
	n->delsize = 0;
	n->last = 0;
	return net_reply(n, "+OK %zu messages (%llu octets)", n->count,
	    n->total);
}

enum net_verdict
net_trans_noop(struct net *n, const struct pop3_cmd *cmd)
{
	if (!pop3_cmd_args_ok(cmd, 0, 0))
		return net_reply_bad(n, "NOOP takes no arguments");
	return net_reply(n, "+OK");
}

/* LAST (RFC 1460): still sent by fetchmail. */
enum net_verdict
net_trans_last(struct net *n, const struct pop3_cmd *cmd)
{
	if (!pop3_cmd_args_ok(cmd, 0, 0))
		return net_reply_bad(n, "LAST takes no arguments");
	return net_reply(n, "+OK %zu", n->last);
}

/* QUIT: the monitor applies the deletions (UPDATE) and we close. */
enum net_verdict
net_trans_quit(struct net *n, const struct pop3_cmd *cmd)
{
	char text[256];
	int r;
	int st;

	(void)cmd;
	st = mw_quit(&n->mw, n->del, n->count, &r, text, sizeof(text));
	if (st == MW_TOOBIG) {
		n->end = "error";
		return net_reply(n, "-ERR [SYS/TEMP] too many messages to "
		    "update") == NV_OK ? NV_CLOSE : NV_FAIL;
	}
	if (st != 0) {
		n->end = "monitor";
		return net_reply(n, "-ERR [SYS/TEMP] update failed; no "
		    "message was deleted") == NV_OK ? NV_CLOSE : NV_FAIL;
	}
	n->end = r == 0 ? "quit" : "quit-failed";
	if (r != 0) {
		n->ndel = 0;
		return net_reply(n, "-ERR [SYS/TEMP] could not delete "
		    "messages; all are kept") == NV_OK ? NV_CLOSE : NV_FAIL;
	}
	return net_reply(n, "+OK bye, %zu messages deleted", n->ndel) ==
	    NV_OK ? NV_CLOSE : NV_FAIL;
}
