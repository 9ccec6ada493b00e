/* SPDX-License-Identifier: MIT */
/*
 * kpop/fetch.c: the exactly-once fetch loop (kpop.h) over client.h (the
 * protocol), deliver.h (where mail goes) and state.h (what was
 * delivered, journalled): every message's intent is journalled before a
 * byte is delivered, its delivery recorded before its DELE; UIDLs a
 * listing shares are left alone, and a wholesale change of them stops
 * the fetch unless forced.  Each message's header is held back until
 * it ends, so that the target is opened knowing the envelope sender
 * (its Return-Path) and given kpop's Received: line first; a filter
 * (filter.c) may first have said which messages to take at all.
 * Progress, --json lines and the summary.
 */
#include "config.h"

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/pop3.h"
#include "common/util.h"
#include "kpop/bounce.h"
#include "kpop/client.h"
#include "kpop/deliver.h"
#include "kpop/hdr.h"
#include "kpop/kpop.h"
#include "kpop/state.h"

volatile sig_atomic_t fetch_stop;

struct fetch {
	const struct account	*a;
	struct st		*st;
	struct dlv_target	 target;
	struct pop_msg		*msgs;
	size_t			 count;
	/* The message being delivered. */
	struct dlv		*h;
	struct dlv_where	 w;
	char			 token[ST_TOKEN_LEN + 1];
	int			 failed;	/* exit code of a failure */
	int			 stopped;	/* fetch_stop seen */
	int			 refused;	/* this message: a permanent
						   LMTP/SMTP refusal, handled */
	size_t			 nrefused;
	char			 err[DLV_ERR_MAX];
	/* For a bounce: the server's refusal, the Return-Path (its
	   hdr_return_path verdict) and the held header's length. */
	char			 reply[DLV_ERR_MAX];
	char			 rpath[DLV_SENDER_MAX];
	int			 rpath_kind;
	size_t			 hdrlen;
	/* The header, held until it ends (or fills the buffer). */
	char			*hbuf;
	size_t			 hlen;
	int			 opened;	/* dlv_open done for it */
	int			 received;	/* prepend a Received: line */
	struct hdr_received	 rcvd;
	/* Progress and summary. */
	size_t			 done_msgs, want_msgs, skipped;
	unsigned long long	 done_bytes, want_bytes, cur_bytes;
	double			 t0, last_draw;
	FILE			*json;
	int			 json_first;
};

static void
draw_progress(struct fetch *f, int final)
{
	double el = out_now() - f->t0, rate;
	unsigned long long bytes = f->done_bytes + f->cur_bytes;

	if (!out_opts.progress || (!final && out_now() - f->last_draw < 0.2))
		return;
	f->last_draw = out_now();
	rate = el > 0 ? (double)bytes / el : 0;
	fprintf(stderr, "\r\033[Kkpop: %zu/%zu messages, %.1f/%.1f MB, "
	    "%.1f MB/s", f->done_msgs, f->want_msgs, (double)bytes / 1e6,
	    (double)f->want_bytes / 1e6, rate / 1e6);
	if (rate > 0 && bytes < f->want_bytes)
		fprintf(stderr, ", %.0f s left",
		    (double)(f->want_bytes - bytes) / rate);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

/* Whether the target is a server that answers for each message. */
static int
to_server(const struct fetch *f)
{
	return f->target.kind == DLV_LMTP || f->target.kind == DLV_SMTP;
}

/*
 * on_permanent_failure = bounce: send the DSN (bounce.c) to the refused
 * message's sender, its Return-Path only (envelope_sender is ours, not
 * its), and say what became of it.  1 if the server took the bounce
 * (the message is then deleted), 0 if it stays on the POP3 server: a
 * bounce would loop (no Return-Path, <>, MAILER-DAEMON) or failed.
 */
static int
bounce(struct fetch *f, size_t idx)
{
	const char *uidl = f->msgs[idx].uidl;
	struct bounce b;
	char err[DLV_ERR_MAX];

	memset(&b, 0, sizeof(b));
	b.via = f->a->bounce_via;
	b.sender = f->rpath_kind == HDR_SENDER_ADDR ? f->rpath :
	    f->rpath_kind == HDR_SENDER_NULL ? "" : NULL;
	if (!bounce_ok(b.sender)) {
		out_warn("message %zu (%s): %s: not bounced, as its sender is "
		    "%s (a bounce could loop): left on the server", idx + 1,
		    uidl, f->err, b.sender == NULL ? "unknown (no usable "
		    "Return-Path)" : b.sender[0] == '\0' ? "<> (it is a "
		    "bounce itself)" : "MAILER-DAEMON");
		return 0;
	}
	b.recipient = f->a->recipient;
	b.server = f->a->deliver;
	b.reply = f->reply;
	b.pop_host = f->a->host;
	b.header = f->hbuf;
	b.hlen = f->hdrlen;
	b.timeout = f->a->delivery_timeout;
	b.id = f->token;
	if (bounce_send(&b, err, sizeof(err)) != KP_OK) {
		out_warn("message %zu (%s): %s: the bounce to <%s> failed: %s: "
		    "left on the server", idx + 1, uidl, f->err, b.sender, err);
		return 0;
	}
	out_warn("message %zu (%s): %s: bounced to <%s> by %s, deleting it "
	    "from the server (on_permanent_failure = bounce)", idx + 1, uidl,
	    f->err, b.sender, b.via);
	return 1;
}

/*
 * An LMTP/SMTP server refused the message (rc, the reason in f->err),
 * or a delivery to one failed: nothing was delivered, or, when its reply
 * to the end never came, perhaps it was; either way the intent is
 * forgotten, so the message is delivered again (kpop(1) EXACTLY ONCE).
 * A temporary failure stops the fetch, the message left on the server
 * for the next run; a permanent one is reported and the message kept on
 * the server, deleted, or bounced and then deleted
 * (on_permanent_failure), and the fetch goes on.  A deletion is
 * journalled as a delivery (st_delivered), the DELE following.
 * Returns 0 to go on, -1 to stop.
 */
static int
refused(struct fetch *f, size_t idx, int rc)
{
	const char *uidl = f->msgs[idx].uidl;
	char err[DLV_ERR_MAX];
	int del = strcmp(f->a->on_perm_fail, "delete") == 0;

	if (rc != KP_PERM) {
		if (st_forget(f->st, uidl, err, sizeof(err)) != KP_OK)
			out_warn("%s", err);
		f->failed = KX_DELIVER;
		return -1;
	}
	if (strcmp(f->a->on_perm_fail, "bounce") == 0)
		del = bounce(f, idx);
	else
		out_warn("message %zu (%s): %s: %s", idx + 1, uidl, f->err,
		    del ? "deleting it from the server (on_permanent_failure "
		    "= delete)" : "left on the server (on_permanent_failure = "
		    "keep)");
	f->refused = 1;
	f->nrefused++;
	if ((del ? st_delivered(f->st, uidl, &f->w, err, sizeof(err)) :
	    st_forget(f->st, uidl, err, sizeof(err))) != KP_OK ||
	    (del && f->a->keep && st_kept(f->st, uidl, err, sizeof(err)) !=
	    KP_OK)) {
		util_strlcpy(f->err, err, sizeof(f->err));
		f->failed = KX_SOFTWARE;
		return -1;
	}
	return 0;
}

static int
sink_begin(void *arg, size_t idx)
{
	struct fetch *f = arg;
	const char *uidl = f->msgs[idx].uidl;

	/* Told to stop: no message is begun (the one before is done). */
	if (fetch_stop) {
		f->stopped = 1;
		return -1;
	}
	memset(&f->w, 0, sizeof(f->w));
	if (st_token(f->token, sizeof(f->token)) != KP_OK)
		return -1;
	f->w.kind = f->target.kind;
	util_strlcpy(f->w.arg, f->target.arg, sizeof(f->w.arg));
	util_strlcpy(f->w.token, f->token, sizeof(f->w.token));
	/* 1: the intent is durable before a byte is delivered. */
	if (st_intent(f->st, uidl, &f->w, f->err, sizeof(f->err)) != KP_OK) {
		f->failed = KX_SOFTWARE;
		return -1;
	}
	/* The target is opened when the header is in (sink_data). */
	f->hlen = 0;
	f->opened = 0;
	f->refused = 0;
	f->cur_bytes = 0;
	f->reply[0] = '\0';
	f->rpath_kind = HDR_SENDER_NONE;
	f->hdrlen = 0;
	return 0;
}

/* A dlv_write that failed: its message, and the fetch stops. */
static int
deliver_failed(struct fetch *f)
{
	util_strlcpy(f->err, dlv_error(f->h), sizeof(f->err));
	f->failed = KX_DELIVER;
	return -1;
}

/*
 * Open the target for message idx, its envelope sender taken from the
 * held header if it is whole (else envelope_sender, or unknown), then
 * write the Received: line and the held bytes.  0, or -1 with the
 * failure set; an LMTP/SMTP server's refusal goes to refused(), which
 * may let the fetch go on with this message dropped (f->refused).
 */
static int
deliver_start(struct fetch *f, size_t idx, int whole)
{
	struct dlv_info info;
	char sender[DLV_SENDER_MAX], line[HDR_RECEIVED_MAX];
	size_t n;
	int s = HDR_SENDER_NONE, r;

	memset(&info, 0, sizeof(info));
	info.uidl = f->msgs[idx].uidl;
	info.token = f->token;
	info.account = f->a->name;
	if (whole)
		s = hdr_return_path(f->hbuf, f->hlen, sender, sizeof(sender));
	/* "": the null sender; NULL: not known. */
	info.sender = s == HDR_SENDER_NONE ? NULL : sender;
	f->rpath_kind = s;
	if (s == HDR_SENDER_ADDR)
		util_strlcpy(f->rpath, sender, sizeof(f->rpath));
	/* hbuf keeps the header until the next message's. */
	f->hdrlen = f->hlen;
	if (info.sender == NULL && f->a->envelope_sender[0] != '\0')
		info.sender = f->a->envelope_sender;
	info.recipient = f->a->recipient;
	info.timeout = f->a->delivery_timeout;
	info.reply = f->reply;
	info.replylen = sizeof(f->reply);
	f->opened = 1;
	if ((r = dlv_open(&f->target, &info, &f->h, f->err,
	    sizeof(f->err))) != KP_OK) {
		f->h = NULL;
		f->hlen = 0;
		if (to_server(f))
			return refused(f, idx, r);
		f->failed = KX_DELIVER;
		return -1;
	}
	if (f->received) {
		f->rcvd.id = f->token;
		f->rcvd.when = time(NULL);
		if ((n = hdr_received(&f->rcvd, line, sizeof(line))) > 0 &&
		    dlv_write(f->h, line, n) != KP_OK)
			return deliver_failed(f);
	}
	if (f->hlen > 0 && dlv_write(f->h, f->hbuf, f->hlen) != KP_OK)
		return deliver_failed(f);
	f->hlen = 0;
	return 0;
}

/*
 * Where the held header ends (just past its blank line), looking at the
 * bytes from old on (and the one before); 0 if it has not.
 */
static size_t
held_end(const struct fetch *f, size_t old)
{
	size_t i;

	if (old == 0 && f->hlen > 0 && f->hbuf[0] == '\n')
		return 1;
	for (i = old > 0 ? old - 1 : 0; i + 1 < f->hlen; i++)
		if (f->hbuf[i] == '\n' && f->hbuf[i + 1] == '\n')
			return i + 2;
	return 0;
}

static int
sink_data(void *arg, size_t idx, const void *buf, size_t len)
{
	struct fetch *f = arg;
	const char *b = buf;

	f->cur_bytes += len;
	if (!f->opened) {
		size_t old = f->hlen, take = HDR_CAPTURE_MAX - f->hlen;
		size_t end;

		if (take > len)
			take = len;
		memcpy(f->hbuf + f->hlen, b, take);
		f->hlen += take;
		b += take;
		len -= take;
		end = held_end(f, old);
		if (end == 0 && f->hlen < HDR_CAPTURE_MAX)
			return 0;
		/* Whole, or over HDR_CAPTURE_MAX: no sender then. */
		if (deliver_start(f, idx, end != 0) == -1)
			return -1;
	}
	if (f->refused)
		return 0;	/* read and dropped */
	if (len > 0 && dlv_write(f->h, b, len) != KP_OK)
		return deliver_failed(f);
	draw_progress(f, 0);
	return 0;
}

static int
sink_end(void *arg, size_t idx)
{
	struct fetch *f = arg;
	const char *uidl = f->msgs[idx].uidl;
	struct dlv *h;
	int r;

	/* A message that is all header (or empty) is delivered now. */
	if (!f->opened && deliver_start(f, idx, 1) == -1)
		return -1;
	h = f->h;
	f->h = NULL;
	if (f->refused)
		return 0;
	if ((r = dlv_prepare(h, &f->w, f->err, sizeof(f->err))) != KP_OK) {
		dlv_abort(h);
		if (to_server(f))
			return refused(f, idx, r);
		f->failed = KX_DELIVER;
		return -1;
	}
	/* An mbox append is placed now: journal where, before writing. */
	if (f->w.kind == DLV_MBOX && st_intent(f->st, uidl, &f->w, f->err,
	    sizeof(f->err)) != KP_OK) {
		dlv_abort(h);
		f->failed = KX_SOFTWARE;
		return -1;
	}
	/*
	 * 2: delivered durably; 3: recorded durably (then DELE).  For an
	 * LMTP/SMTP server, dlv_commit returns at its reply to the end of
	 * the message: nothing comes between that and the journal.
	 */
	if ((r = dlv_commit(h, &f->w, f->err, sizeof(f->err))) != KP_OK) {
		if (to_server(f))
			return refused(f, idx, r);
		f->failed = KX_DELIVER;
		return -1;
	}
	if (st_delivered(f->st, uidl, &f->w, f->err, sizeof(f->err)) !=
	    KP_OK) {
		f->failed = KX_SOFTWARE;
		return -1;
	}
	if (f->a->keep && st_kept(f->st, uidl, f->err, sizeof(f->err)) !=
	    KP_OK) {
		f->failed = KX_SOFTWARE;
		return -1;
	}
	f->done_msgs++;
	f->done_bytes += f->cur_bytes;
	f->cur_bytes = 0;
	if (f->json != NULL) {
		fprintf(f->json, "%s\n    {\"uidl\": ", f->json_first ? "" :
		    ",");
		out_json_str(f->json, uidl);
		fprintf(f->json, ", \"number\": %zu, \"size\": %llu, "
		    "\"delivered_to\": ", idx + 1, f->w.size);
		out_json_str(f->json, f->w.kind == DLV_MAILDIR ? f->w.name :
		    f->w.arg);
		fputs("}", f->json);
		f->json_first = 0;
	}
	if (out_opts.verbose)
		out_say("message %zu (%s, %llu bytes) delivered", idx + 1, uidl,
		    f->w.size);
	draw_progress(f, 0);
	return 0;
}

/* A message that turned out over max_size: nothing of it is kept. */
static void
sink_abandon(void *arg, size_t idx, const char *why)
{
	struct fetch *f = arg;

	if (f->h != NULL) {
		dlv_abort(f->h);
		f->h = NULL;
	}
	f->cur_bytes = 0;
	f->hlen = 0;
	f->opened = 0;
	f->skipped++;
	out_warn("%s", why);
	if (f->refused)
		return;		/* refused() settled it */
	/* Its intent did not happen (dlv_abort undid the delivery). */
	if (st_forget(f->st, f->msgs[idx].uidl, f->err, sizeof(f->err)) !=
	    KP_OK)
		out_warn("%s", f->err);
}

static void
recover_note(void *arg, const char *uidl, const char *msg)
{
	(void)arg;
	out_say("%s: %s", uidl, msg);
}

/* The server's UIDLs as an array of pointers (into msgs). */
static const char **
uidl_list(const struct pop_msg *msgs, size_t n)
{
	const char **u = calloc(n + 1, sizeof(*u));
	size_t i;

	if (u != NULL)
		for (i = 0; i < n; i++)
			u[i] = msgs[i].uidl;
	return u;
}

static const struct pop_msg *dup_msgs;

static int
dup_cmp(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(dup_msgs[i].uidl, dup_msgs[j].uidl);

	return c != 0 ? c : i < j ? -1 : i > j;
}

/*
 * Mark in dup[] every message whose UIDL another message of the listing
 * shares, and say which.  RFC 1939 s.7 wants UIDLs unique in a maildrop
 * (though it allows identical copies to share one); the journal knows a
 * message only by its UIDL, so for two messages under one it cannot
 * tell which was delivered: a DELE could remove the one that was not,
 * a crash could deliver one twice.  They are left on the server, neither
 * fetched nor deleted.  Returns how many messages that leaves, or -1 when
 * out of memory.
 */
static ssize_t
find_dups(const struct account *a, const struct pop_msg *msgs, size_t n,
    unsigned char *dup)
{
	size_t *ord, i, j, groups = 0, ndup = 0;

	if ((ord = calloc(n + 1, sizeof(*ord))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		ord[i] = i;
	dup_msgs = msgs;
	qsort(ord, n, sizeof(*ord), dup_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && strcmp(msgs[ord[i]].uidl,
		    msgs[ord[j]].uidl) == 0; j++)
			dup[ord[j]] = 1;
		if (j - i == 1)
			continue;
		dup[ord[i]] = 1;
		ndup += j - i;
		if (groups++ < DUP_WARN_MAX)
			out_warn("%s lists messages %zu and %zu%s under one "
			    "UIDL %s: leaving them on the server, neither "
			    "fetched nor deleted", a->host, ord[i] + 1,
			    ord[i + 1] + 1, j - i > 2 ? " (and more)" : "",
			    msgs[ord[i]].uidl);
	}
	if (groups > DUP_WARN_MAX)
		out_warn("%s: %zu more UIDLs listed more than once", a->host,
		    groups - DUP_WARN_MAX);
	dup_msgs = NULL;
	free(ord);
	return (ssize_t)ndup;
}

/*
 * The fetch: settle interrupted deliveries, list, deliver what is new
 * (exactly once: intent, delivery, record, then DELE), delete, QUIT,
 * compact the state.  force: fetch even if the UIDLs all changed.
 * Returns an exit code.
 */
int
fetch_run(struct pop *p, const struct account *a, struct st *st, int force,
    struct summary *sum)
{
	struct fetch f;
	/* max_size bounds what a message costs, whatever LIST said. */
	struct pop_sink sink = { sink_begin, sink_data, sink_end, &f,
	    a->max_size, sink_abandon };
	const char **uidls = NULL;
	size_t *want = NULL, *dele = NULL, nwant = 0, ndele = 0, i;
	unsigned long long total;
	const char **deleted = NULL;
	unsigned char *dup = NULL;
	ssize_t ndup = 0;
	int rc = KX_OK, r, out_of_step = 0;

	memset(&f, 0, sizeof(f));
	f.a = a;
	f.st = st;
	f.json_first = 1;
	if (dlv_parse(a->deliver, &f.target, f.err, sizeof(f.err)) != KP_OK) {
		out_warn("%s", f.err);
		return KX_CONFIG;
	}
	f.received = a->received_header >= 0 ? a->received_header :
	    dlv_kind_wants_received(f.target.kind);
	f.rcvd.from = a->host;
	f.rcvd.with = account_is_kpop(a) ? "KPOP" : sum->tls != NULL &&
	    strcmp(sum->tls, "none") != 0 ? "POP3S" : "POP3";
	f.rcvd.login = p->auth_method;
	f.rcvd.version = PACKAGE_VERSION;
	if ((f.hbuf = malloc(HDR_CAPTURE_MAX)) == NULL) {
		out_warn("out of memory");
		return KX_TEMP;
	}
	if (st_recover(st, recover_note, NULL, 0, f.err, sizeof(f.err)) !=
	    KP_OK) {
		out_warn("cannot settle an interrupted delivery: %s", f.err);
		rc = KX_DELIVER;
		goto out;
	}
	if ((r = pop_scan(p, &f.msgs, &f.count, &total)) != POP_OK) {
		out_warn("%s", p->err);
		rc = out_exit(r);
		goto out;
	}
	sum->count = f.count;
	sum->total = total;
	for (i = 0; i < f.count; i++)
		if (!pop3_uidl_ok(f.msgs[i].uidl, strlen(f.msgs[i].uidl))) {
			out_warn("%s lists message %zu without a usable UIDL: "
			    "kpop needs UIDLs to fetch exactly once", a->host,
			    i + 1);
			rc = KX_PROTOCOL;
			goto out;
		}
	if ((uidls = uidl_list(f.msgs, f.count)) == NULL ||
	    (want = calloc(f.count + 1, sizeof(*want))) == NULL ||
	    (dele = calloc(f.count + 1, sizeof(*dele))) == NULL ||
	    (deleted = calloc(f.count + 1, sizeof(*deleted))) == NULL ||
	    (dup = calloc(f.count + 1, 1)) == NULL ||
	    (ndup = find_dups(a, f.msgs, f.count, dup)) == -1) {
		rc = KX_SOFTWARE;
		goto out;
	}
	if (st_changed(st, uidls, f.count) && !force) {
		out_warn("%s's message ids (UIDLs) all changed since the last "
		    "run: refusing to fetch all %zu messages again; use --force "
		    "if that is what you want", a->host, f.count);
		rc = KX_CHANGED;
		goto out;
	}
	for (i = 0; i < f.count; i++) {
		enum st_status s = st_get(st, f.msgs[i].uidl, NULL);

		if (dup[i])
			continue;
		/* ST_DELETED listed again is new mail (st_intent). */
		if (s == ST_DELIVERED || s == ST_KEPT) {
			if (!a->keep)
				dele[ndele++] = i;
			continue;
		}
		if (a->max_size > 0 && f.msgs[i].size > a->max_size) {
			sum->skipped++;
			out_say("message %zu is %llu bytes, over max_size: %s",
			    i + 1, f.msgs[i].size, a->delete_too_large ?
			    "deleted" : "left on the server");
			if (a->delete_too_large)
				dele[ndele++] = i;
			continue;
		}
		if (a->max_messages > 0 && nwant >= a->max_messages)
			continue;
		want[nwant++] = i;
		f.want_bytes += f.msgs[i].size;
	}
	if (a->filter != NULL && a->filter[0] != '\0' && nwant > 0) {
		rc = filter_messages(p, a, f.msgs, f.count, want, &nwant, dele,
		    &ndele, sum, &out_of_step);
		f.want_bytes = 0;
		for (i = 0; i < nwant; i++)
			f.want_bytes += f.msgs[want[i]].size;
	}
	f.want_msgs = nwant;
	f.t0 = out_now();
	if (out_opts.json) {
		f.json = tmpfile();
		if (f.json == NULL)
			out_opts.json = 0;
	}
	if (nwant > 0 && !out_of_step) {
		r = pop_retr(p, want, nwant, -1, &sink);
		if (f.stopped && !f.failed && r == POP_LOCAL)
			out_say("%s: stopping: %zu message%s left for the next "
			    "run", a->name, nwant - f.done_msgs - f.skipped,
			    nwant - f.done_msgs - f.skipped == 1 ? "" : "s");
		else if (r != POP_OK || f.failed) {
			if (f.h != NULL)
				dlv_abort(f.h);
			out_warn("%s", f.failed ? f.err : p->err);
			if (f.failed || rc == KX_OK || r != POP_OK)
				rc = f.failed ? f.failed : out_exit(r);
			/* Mid-response: any DELE would be answered by the
			   rest of it, so nothing more is asked. */
			out_of_step = !f.failed && r == POP_PROTO;
		}
	}
	draw_progress(&f, 1);
	sum->fetched = f.done_msgs;
	sum->bytes = f.done_bytes;
	sum->skipped += f.skipped;
	/*
	 * Delete only what is recorded delivered: not every message asked
	 * for, nor the first done_msgs of them (one over max_size may have
	 * been skipped on the way).
	 */
	if (!a->keep)
		for (i = 0; i < nwant; i++)
			if (st_get(st, f.msgs[want[i]].uidl, NULL) ==
			    ST_DELIVERED)
				dele[ndele++] = want[i];
	if (out_of_step) {
		out_warn("nothing was deleted (the next run deletes what was "
		    "delivered)");
		ndele = 0;
	}
	if (ndele > 0 && (r = pop_dele(p, dele, ndele)) != POP_OK) {
		out_warn("%s", p->err);
		if (rc == KX_OK)
			rc = out_exit(r);
		ndele = 0;
	}
	if (out_of_step)
		;	/* pop_close() hangs up */
	else if ((r = pop_quit(p)) != POP_OK) {
		out_warn("QUIT: %s (nothing was deleted)", p->err);
		if (rc == KX_OK)
			rc = out_exit(r);
	} else {
		size_t nd = 0;

		for (i = 0; i < ndele; i++) {
			enum st_status s = st_get(st, f.msgs[dele[i]].uidl,
			    NULL);

			if (s == ST_DELIVERED || s == ST_KEPT ||
			    s == ST_DELETED)
				deleted[nd++] = f.msgs[dele[i]].uidl;
		}
		if (nd > 0 && st_deleted(st, deleted, nd, f.err,
		    sizeof(f.err)) != KP_OK)
			out_warn("%s", f.err);
		sum->deleted = ndele;
	}
	if (st_compact(st, uidls, f.count, f.err, sizeof(f.err)) != KP_OK)
		out_warn("%s", f.err);
	sum->t_fetch = out_now() - f.t0;
	if (f.json != NULL) {
		char buf[4096];
		size_t n;

		rewind(f.json);
		printf("  \"messages\": [");
		while ((n = fread(buf, 1, sizeof(buf), f.json)) > 0)
			fwrite(buf, 1, n, stdout);
		printf("%s],\n", f.json_first ? "" : "\n  ");
		fclose(f.json);
	}
	if (rc == KX_OK && f.done_msgs == 0)
		rc = KX_NOMAIL;
	if (f.nrefused > 0 && (rc == KX_OK || rc == KX_NOMAIL))
		rc = KX_DELIVER;
	if (ndup > 0 && (rc == KX_OK || rc == KX_NOMAIL))
		rc = KX_PROTOCOL;
out:
	free(f.hbuf);
	free(dup);
	free(f.msgs);
	free(uidls);
	free(want);
	free(dele);
	free(deleted);
	return rc;
}
