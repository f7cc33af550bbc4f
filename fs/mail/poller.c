/* Watching many folders on one connection (see poller.h).  RFC 5465
 * (NOTIFY): where offered, the server tells of changes to every folder
 * while the connection idles, as STATUS lines; else a poll asks STATUS of
 * all.  RFC 3501 §6.3.10 advises against STATUS of the selected mailbox:
 * the one the connection has selected is asked with NOOP instead, and
 * NOTIFY reports it as IDLE does (EXISTS, EXPUNGE, FETCH). */
#include "fs/mail/poller.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/napper.h"
#include "common/thread.h"
#include "fs/mail/account.h"
#include "fs/mail/conn.h"
#include "fs/mail/idler.h"
#include "fs/mail/tree.h"
#include "fs/mail/view.h"
#include "imap/commands.h"
#include "imap/status.h"

/* NOTIFY's news of folders created, deleted or renamed, kept between two
 * looks; more than this: the LIST after them shows the rest. */
#define POLL_TREE_NEWS_MAX 64

struct tree_line {
	char *name, *oldname;      /* copies of the raw names (oldname may be NULL) */
	size_t len, oldlen;
	char delim;
	unsigned flags;
};

struct poller {
	struct account *a;
	struct folder **f;
	char **names;              /* their server names (copies), for STATUS */
	struct imap_mbox_status *last, *now;
	size_t n;
	pthread_t thread;
	pthread_mutex_t lock;      /* guards s (for aborting it), state, the sleep */
	struct napper nap;
	struct imap_session *s;
	struct conn conn;
	struct view view;
	char state[160];           /* for .inboxfs/status (under lock) */
	long long polled_ms;       /* when the last poll succeeded (under lock; 0: never) */
	bool notified;             /* NOTIFY is set on this session */
	bool personal;             /* on every personal folder, not by name */
	struct tree_line tree[POLL_TREE_NEWS_MAX];
	size_t ntree;
	bool news;                 /* NOTIFY told of a change not looked at yet */
	bool folders_changed;      /* NOTIFY told of a folder created or deleted */
};

static void set_state(struct poller *p, const char *text)
{
	pthread_mutex_lock(&p->lock);
	snprintf(p->state, sizeof(p->state), "%s", text);
	pthread_mutex_unlock(&p->lock);
}

static bool differs(const struct imap_mbox_status *x, const struct imap_mbox_status *y)
{
	return x->messages != y->messages || x->uidnext != y->uidnext ||
	       x->uidvalidity != y->uidvalidity || x->highestmodseq != y->highestmodseq;
}

/* STATUS of every folder but the selected one, into p->now. */
static enum imap_result ask(struct poller *p, struct imap_status *st)
{
	enum imap_result rr = imap_status_many(p->s, (const char *const *)p->names, p->n, p->now,
					       st);

	for (size_t i = 0; rr == IMAP_R_OK && i < p->n; i++)
		if (p->f[i] == p->view.f)
			p->now[i] = p->last[i]; /* asked with NOOP (catch_up_selected) */
	return rr;
}

/* Folder i is current in the index (its news announced, as a watcher's). */
static enum imap_result bring_up_to_date(struct poller *p, size_t i, struct imap_status *st)
{
	enum imap_result rr = view_open(&p->view, p->f[i], false, false, st);

	if (rr == IMAP_R_GONE || rr == IMAP_R_NO) {
		log_info(LOG_CAT_IMAP, "polling %s: %s", p->f[i]->imap_name, st->text);
		return IMAP_R_OK; /* that folder only; the others go on */
	}
	return rr;
}

/* Nothing stays selected where UNSELECT is offered: Dovecot ends a
 * session whose selected folder is deleted elsewhere, and the news
 * queued on it with it. */
static enum imap_result leave(struct poller *p, struct imap_status *st)
{
	if (!p->view.f || !(imap_session_caps(p->s) & CAP_UNSELECT))
		return IMAP_R_OK;
	return view_leave(&p->view, st);
}

static enum imap_result catch_up_selected(struct poller *p, struct imap_status *st)
{
	enum imap_result rr;

	if (!p->view.f)
		return IMAP_R_OK;
	rr = imap_noop(p->s, st);
	return rr == IMAP_R_OK ? view_catch_up(&p->view, 0, st) : rr;
}

static char *copy(const char *s, size_t len)
{
	char *d = s ? malloc(len + 1) : NULL;

	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

/* A LIST line of NOTIFY's, kept for take_tree_news (one not kept is
 * still seen by the LIST after them, as a deletion and a creation). */
static void keep_tree_news(struct poller *p, const struct imap_response *r)
{
	struct imap_list_line l;
	struct tree_line *t;

	if (p->ntree == POLL_TREE_NEWS_MAX || !imap_list_parse(r, &l))
		return;
	t = &p->tree[p->ntree];
	*t = (struct tree_line){ copy(l.name, l.len), copy(l.oldname, l.oldlen), l.len, l.oldlen,
				 l.delim, l.flags };
	if (!t->name || (l.oldname && !t->oldname)) {
		free(t->name);
		free(t->oldname);
		return;
	}
	p->ntree++;
}

static void forget_tree_news(struct poller *p)
{
	for (size_t i = 0; i < p->ntree; i++) {
		free(p->tree[i].name);
		free(p->tree[i].oldname);
	}
	p->ntree = 0;
}

/* Line i renames a folder below one that line j renames. */
static bool inside_renamed(const struct tree_line *i, const struct tree_line *j)
{
	return i->oldname && j->oldname && j->oldlen < i->oldlen && i->delim &&
	       i->oldname[j->oldlen] == i->delim && !memcmp(i->oldname, j->oldname, j->oldlen);
}

static bool below_another(const struct poller *p, size_t i)
{
	for (size_t j = 0; j < p->ntree; j++)
		if (inside_renamed(&p->tree[i], &p->tree[j]))
			return true;
	return false;
}

static void apply_line(struct poller *p, const struct tree_line *t)
{
	struct imap_list_line l = { t->name, t->len, t->oldname, t->oldlen, t->delim, t->flags };

	tree_news(p->a, &l, account_deadline(p->a));
}

/* NOTIFY's news of the folder tree applied, in the order told, but a
 * renamed folder before what was below it (Dovecot tells of those
 * first): moving it moves them. */
static void take_tree_news(struct poller *p)
{
	for (size_t i = 0; i < p->ntree; i++)
		if (p->tree[i].oldname && !below_another(p, i))
			apply_line(p, &p->tree[i]);
	for (size_t i = 0; i < p->ntree; i++)
		if (!p->tree[i].oldname || below_another(p, i))
			apply_line(p, &p->tree[i]);
	forget_tree_news(p);
}

/* Folders renamed (here or elsewhere) are asked by their new names:
 * whether any was. */
static bool names_current(struct poller *p)
{
	bool changed = false;
	char *n;

	rlock_take(&p->a->index_lock);
	for (size_t i = 0; i < p->n; i++) {
		if (p->f[i]->gone || !p->f[i]->imap_name || !strcmp(p->names[i], p->f[i]->imap_name))
			continue;
		if ((n = strdup(p->f[i]->imap_name))) {
			free(p->names[i]);
			p->names[i] = n;
			changed = true;
		}
	}
	rlock_drop(&p->a->index_lock);
	return changed;
}

/* Folders created, deleted or renamed elsewhere: the tree in step
 * (tree.h), NOTIFY's news first (a rename it tells of is a move), then a
 * LIST: Dovecot 2.3 at times tells nothing of a rename itself. */
static enum imap_result relist(struct poller *p, struct imap_status *st)
{
	bool changed;

	p->folders_changed = false;
	take_tree_news(p);
	return tree_relist(p->a, p->s, account_deadline(p->a), &changed, st);
}

/* Folders whose STATUS moved since the last look brought up to date, then
 * the tree when asked or NOTIFY told of it; the time of this look kept. */
static enum imap_result take_changes(struct poller *p, bool tree, struct imap_status *st)
{
	enum imap_result rr = IMAP_R_OK;

	for (size_t i = 0; rr == IMAP_R_OK && i < p->n; i++)
		if (p->now[i].answered && differs(&p->now[i], &p->last[i])) {
			p->last[i] = p->now[i]; /* a NOTIFY line while SELECTing is news again */
			rr = bring_up_to_date(p, i, st);
		}
	if (rr == IMAP_R_OK)
		rr = leave(p, st);
	if (rr == IMAP_R_OK && (tree || p->folders_changed))
		rr = relist(p, st);
	if (rr == IMAP_R_OK) {
		pthread_mutex_lock(&p->lock);
		p->polled_ms = clock_ms();
		pthread_mutex_unlock(&p->lock);
	}
	return rr;
}

/* One poll: what changed since the last, and the folder tree. */
static enum imap_result poll_all(struct poller *p, struct imap_status *st)
{
	enum imap_result rr = catch_up_selected(p, st);

	names_current(p);
	if (rr == IMAP_R_OK)
		rr = ask(p, st);
	return rr == IMAP_R_OK ? take_changes(p, true, st) : rr;
}

/* The first look: the STATUS each later poll compares with, then each
 * folder loaded (what it holds now is not news). */
static enum imap_result first_look(struct poller *p, struct imap_status *st)
{
	enum imap_result rr = imap_status_many(p->s, (const char *const *)p->names, p->n, p->last,
					       st);

	for (size_t i = 0; rr == IMAP_R_OK && i < p->n; i++)
		rr = bring_up_to_date(p, i, st);
	if (rr == IMAP_R_OK)
		rr = leave(p, st);
	memcpy(p->now, p->last, p->n * sizeof(*p->now)); /* NOTIFY's lines update it */
	return rr;
}

/* ---- NOTIFY ------------------------------------------------------------------------ */

/* STATUS lines (NOTIFY's news of other folders) are taken here; the rest
 * is the selected folder's, for its view. */
static bool on_untagged(struct imap_session *s, struct imap_response *r, void *ctx)
{
	struct poller *p = ctx;
	long i = imap_status_take(r, (const char *const *)p->names, p->n, p->now);

	if (i < 0 && r->cond == IMAP_COND_NONE && imap_value_is(imap_list_item(&r->data, 0), "LIST")) {
		p->folders_changed = true; /* NOTIFY's MailboxName */
		keep_tree_news(p, r);
		return true;
	}
	if (i < 0)
		return view_on_untagged(s, r, &p->view);
	if ((size_t)i < p->n && differs(&p->now[i], &p->last[i]))
		p->news = true;
	return true;
}

/* The filter (RFC 5465 §8: filter-mailboxes): the folders by name when
 * they fit in a modest command, else every personal folder (news of the
 * others is ignored). */
static void filter(struct poller *p, struct buf *b, bool personal)
{
	char q[1024];
	size_t start = b->len;

	if (personal) {
		buf_printf(b, "personal");
		return;
	}
	buf_printf(b, "mailboxes (");
	for (size_t i = 0; i < p->n; i++) {
		if (imap_quote(q, sizeof(q), p->names[i]) < 0 || b->len - start > 16384) {
			b->len = start;
			if (b->data)
				b->data[start] = '\0';
			buf_printf(b, "personal");
			return;
		}
		buf_printf(b, "%s%s", i ? " " : "", q);
	}
	buf_printf(b, ")");
}

/* NOTIFY SET STATUS: news of the selected folder as IDLE gives it, of
 * the others as STATUS lines, starting with one for each now (what came
 * since the first look is news); of the folder tree as LIST lines. */
static enum imap_result notify_set(struct poller *p, bool personal, struct imap_status *st)
{
	struct buf b;
	enum imap_result rr;

	buf_init(&b);
	buf_printf(&b, "NOTIFY SET STATUS (selected (MessageNew MessageExpunge FlagChange)) (");
	filter(p, &b, personal);
	/* And folders created, deleted, renamed anywhere (MailboxName): for
	 * the named ones too, or Dovecot tells nothing of their renames. */
	buf_printf(&b, " (MessageNew MessageExpunge FlagChange MailboxName))");
	if (!personal)
		buf_printf(&b, " (personal (MailboxName))");
	rr = b.data ? imap_simple(p->s, st, NULL, NULL, "%s", b.data) : IMAP_R_NOMEM;
	buf_free(&b);
	return rr;
}

/* NOTIFY SET by name, or on every personal folder when that is refused
 * (Dovecot takes at most 100 names: news of the others is then ignored). */
static enum imap_result notify_start(struct poller *p, struct imap_status *st)
{
	enum imap_result rr = p->personal ? IMAP_R_NO : notify_set(p, false, st);

	p->personal = rr == IMAP_R_NO || rr == IMAP_R_BAD;
	return p->personal ? notify_set(p, true, st) : rr;
}

static bool has_news(void *ctx)
{
	struct poller *p = ctx;

	return p->news || p->folders_changed || view_behind(&p->view);
}

/* What NOTIFY told of, brought into the index. */
static enum imap_result take_news(struct poller *p, struct imap_status *st)
{
	enum imap_result rr = IMAP_R_OK;

	p->news = false;
	if (view_behind(&p->view))
		rr = view_catch_up(&p->view, 0, st);
	if (rr == IMAP_R_OK)
		rr = take_changes(p, false, st);
	/* By name: the renamed ones' new names (personal has them all). */
	if (rr == IMAP_R_OK && names_current(p) && !p->personal)
		rr = notify_start(p, st);
	return rr;
}

static enum imap_result notified(struct poller *p, struct imap_status *st)
{
	struct idler i = { p->a, p->s, &p->nap, "NOTIFY", has_news, NULL, p, 0 };
	enum imap_result rr = IMAP_R_OK;

	while (rr == IMAP_R_OK && !napper_stopped(&p->nap)) {
		rr = idle_round(&i);
		if (rr == IMAP_R_OK)
			rr = take_news(p, st);
	}
	return rr;
}

/* ---- one connection ---------------------------------------------------------------- */

/* Which folders are polled, for the log: the first names that fit. */
static const char *polled_names(const struct poller *p, char *out, size_t cap)
{
	size_t len = 0, i;
	int n;

	out[0] = '\0';
	for (i = 0; i < p->n; i++) {
		n = snprintf(out + len, cap - len, "%s%s", i ? ", " : "", p->names[i]);
		if (n < 0 || (size_t)n >= cap - len - 24)
			break;
		len += (size_t)n;
	}
	if (i < p->n)
		snprintf(out + len, cap - len, " and %zu more", p->n - i);
	return out;
}

static void say_watching(struct poller *p)
{
	char state[64], names[512];

	if (p->notified) {
		log_info(LOG_CAT_IMAP, "watching %zu folders with NOTIFY on one connection", p->n);
		snprintf(state, sizeof(state), "notified (NOTIFY)");
	} else {
		log_info(LOG_CAT_IMAP, "polling %zu folders every %u s: %s", p->n,
			 p->a->opt->poll_interval, polled_names(p, names, sizeof(names)));
		snprintf(state, sizeof(state), "polled every %u s", p->a->opt->poll_interval);
	}
	set_state(p, state);
}

/* NOTIFY where the server offers it (and IDLE to hear it), else polls. */
static enum imap_result watch_all(struct poller *p, struct imap_status *st)
{
	unsigned caps = imap_session_caps(p->s);
	enum imap_result rr = first_look(p, st);

	p->notified = false;
	p->personal = false;
	if (rr == IMAP_R_OK && (caps & CAP_NOTIFY) && (caps & CAP_IDLE)) {
		rr = notify_start(p, st);
		p->notified = rr == IMAP_R_OK;
		if (rr == IMAP_R_NO || rr == IMAP_R_BAD) {
			log_info(LOG_CAT_IMAP, "NOTIFY refused (%s): polling instead", st->text);
			rr = IMAP_R_OK;
		}
	}
	/* What changed in the tree while not connected: NOTIFY tells of what
	 * comes after this LIST. */
	if (rr == IMAP_R_OK && p->notified)
		rr = relist(p, st);
	if (rr != IMAP_R_OK)
		return rr;
	say_watching(p);
	if (p->notified)
		return notified(p, st);
	while (rr == IMAP_R_OK &&
	       napper_nap(&p->nap, (long long)p->a->opt->poll_interval * 1000))
		rr = poll_all(p, st);
	return rr;
}

static void poll_connection(struct poller *p)
{
	struct imap_status st = { 0 };
	enum imap_result rr;

	view_reset(&p->view);
	p->view.s = p->s;
	p->news = false;
	forget_tree_news(p);
	imap_session_set_untagged(p->s, on_untagged, p);
	rr = watch_all(p, &st);
	if (rr != IMAP_R_OK && !napper_stopped(&p->nap))
		log_info(LOG_CAT_IMAP, "watching %zu folders: %s (%s); reconnecting", p->n,
			 imap_result_name(rr), st.text);
	imap_session_set_untagged(p->s, NULL, NULL);
}

static void *poll_main(void *arg)
{
	struct poller *p = arg;
	struct imap_status st;
	char state[160];

	pthread_setname_np(pthread_self(), "ibx-poll");
	while (!napper_stopped(&p->nap) && !conn_gave_up(&p->conn)) {
		if (conn_ensure(&p->conn, 0, &st) != IMAP_R_OK) {
			snprintf(state, sizeof(state), "disconnected: %.100s", st.text);
			set_state(p, state);
			napper_nap(&p->nap, conn_wait_ms(&p->conn));
			continue;
		}
		poll_connection(p);
		set_state(p, "disconnected");
		conn_close(&p->conn);
	}
	return NULL;
}

static void poller_free(struct poller *p)
{
	view_free(&p->view);
	napper_destroy(&p->nap);
	pthread_mutex_destroy(&p->lock);
	free(p->f);
	for (size_t i = 0; p->names && i < p->n; i++)
		free(p->names[i]);
	free(p->names);
	forget_tree_news(p);
	free(p->last);
	free(p->now);
	free(p);
}

static struct poller *poller_new(struct account *a, struct folder *const *folders, size_t n)
{
	struct poller *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->a = a;
	p->n = n;
	pthread_mutex_init(&p->lock, NULL);
	napper_init(&p->nap, &p->lock);
	view_init(&p->view, a, NULL);
	p->view.news_bodies = true; /* a script woken by the news reads at once */
	conn_init(&p->conn, a, "watching many: ", &p->s, &p->lock, NULL, a->opt->reconnect_tries);
	p->f = calloc(n + 1, sizeof(*p->f));
	p->names = calloc(n + 1, sizeof(*p->names));
	p->last = calloc(n + 1, sizeof(*p->last));
	p->now = calloc(n + 1, sizeof(*p->now));
	if (!p->f || !p->names || !p->last || !p->now) {
		poller_free(p);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		p->f[i] = folders[i];
		if (!(p->names[i] = strdup(folders[i]->imap_name))) {
			poller_free(p);
			return NULL;
		}
	}
	return p;
}

struct poller *poller_start(struct account *a, struct folder *const *folders, size_t n)
{
	struct poller *p = poller_new(a, folders, n);

	if (p && thread_start(&p->thread, poll_main, p) != 0) {
		poller_free(p);
		p = NULL;
	}
	if (!p)
		log_err(LOG_CAT_IMAP, "cannot start polling %zu folders for new mail", n);
	return p;
}

void poller_describe(struct poller *p, struct buf *out)
{
	long long ago;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	ago = p->polled_ms ? (clock_ms() - p->polled_ms) / 1000 : -1;
	for (size_t i = 0; i < p->n; i++) {
		buf_printf(out, "watch %s: %s\n", p->f[i]->imap_name,
			   p->state[0] ? p->state : "connecting");
		if (ago >= 0)
			buf_printf(out, "watch %s last_poll: %lld s ago\n", p->f[i]->imap_name, ago);
	}
	buf_printf(out, "poll connections: %u\n", p->conn.connects);
	pthread_mutex_unlock(&p->lock);
}

void poller_stop(struct poller *p)
{
	if (!p)
		return;
	napper_stop(&p->nap);
	conn_abort(&p->conn);
	pthread_join(p->thread, NULL);
	poller_free(p);
}
