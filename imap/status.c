/* STATUS of many mailboxes (see status.h). */
#include "imap/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/commands.h"
#include "imap/parser.h"

/* The index of the mailbox a STATUS reply names (INBOX in any case), n
 * when none. */
static size_t index_of(const struct imap_value *mbox, const char *const *names, size_t n)
{
	if (!imap_value_is_string(mbox))
		return n;
	for (size_t i = 0; i < n; i++) {
		bool inbox = strcasecmp(names[i], "INBOX") == 0;

		if (strlen(names[i]) == mbox->len &&
		    (inbox ? strncasecmp(mbox->str, "INBOX", 5) == 0 :
			     memcmp(mbox->str, names[i], mbox->len) == 0))
			return i;
	}
	return n;
}

/* One "name value" pair of the attribute list into e; a value out of
 * range is ignored. */
static void take_item(struct imap_mbox_status *e, const struct imap_value *name,
		      const struct imap_value *v)
{
	if (v->type != IV_NUMBER)
		return;
	if (imap_value_is(name, "HIGHESTMODSEQ"))
		e->highestmodseq = v->num;
	else if (v->num > UINT32_MAX)
		return;
	else if (imap_value_is(name, "MESSAGES"))
		e->messages = (uint32_t)v->num;
	else if (imap_value_is(name, "UIDNEXT"))
		e->uidnext = (uint32_t)v->num;
	else if (imap_value_is(name, "UIDVALIDITY"))
		e->uidvalidity = (uint32_t)v->num;
}

long imap_status_take(const struct imap_response *r, const char *const *names, size_t n,
		      struct imap_mbox_status *out)
{
	const struct imap_value *items = imap_list_item(&r->data, 2);
	size_t i;

	if (r->cond != IMAP_COND_NONE || !imap_value_is(imap_list_item(&r->data, 0), "STATUS"))
		return -1;
	i = index_of(imap_list_item(&r->data, 1), names, n);
	if (i == n || !items || items->type != IV_LIST)
		return (long)n; /* not one we asked for: nothing to learn */
	out[i].answered = true;
	for (size_t k = 0; k + 1 < items->n; k += 2)
		take_item(&out[i], &items->items[k], &items->items[k + 1]);
	return (long)i;
}

struct status_ctx {
	const char *const *names;
	size_t n;
	struct imap_mbox_status *out;
};

static bool on_status(struct imap_session *s, struct imap_response *r, void *vctx)
{
	struct status_ctx *c = vctx;

	(void)s;
	return imap_status_take(r, c->names, c->n, c->out) >= 0;
}

static const char *items(struct imap_session *s)
{
	return (imap_session_caps(s) & CAP_CONDSTORE) ? "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"
						      : "(MESSAGES UIDNEXT UIDVALIDITY)";
}

/* LIST-STATUS's LIST lines are not ours to keep (tree.h LISTs for that). */
static bool on_list_status(struct imap_session *s, struct imap_response *r, void *vctx)
{
	if (r->cond == IMAP_COND_NONE && imap_value_is(imap_list_item(&r->data, 0), "LIST"))
		return true;
	return on_status(s, r, vctx);
}

/* RFC 5819: every mailbox's STATUS in one short command, not one each. */
static enum imap_result list_status(struct imap_session *s, struct status_ctx *c,
				    struct imap_status *st)
{
	return imap_simple(s, st, on_list_status, c, "LIST \"\" \"*\" RETURN (STATUS %s)", items(s));
}

/* The commands' lines (one malloc'd block each); NULL when out of memory. */
static struct imap_cmd *build(struct imap_session *s, const char *const *names, size_t n,
			      size_t *sent)
{
	const char *what = items(s);
	struct imap_cmd *cmds = calloc(n + 1, sizeof(*cmds));
	char q[1024], *line;

	*sent = 0;
	for (size_t i = 0; cmds && i < n; i++) {
		if (imap_quote(q, sizeof(q), names[i]) < 0)
			continue;
		line = malloc(strlen(q) + strlen(what) + 16);
		if (!line)
			continue;
		sprintf(line, "STATUS %s %s", q, what);
		cmds[(*sent)++].line = line;
	}
	return cmds;
}

enum imap_result imap_status_many(struct imap_session *s, const char *const *names, size_t n,
				  struct imap_mbox_status *out, struct imap_status *st)
{
	struct status_ctx c = { names, n, out };
	enum imap_result rr;
	size_t sent;
	struct imap_cmd *cmds;

	memset(out, 0, n * sizeof(*out));
	if (n > 1 && (imap_session_caps(s) & CAP_LIST_STATUS)) {
		rr = list_status(s, &c, st);
		if (rr != IMAP_R_NO && rr != IMAP_R_BAD)
			return rr;
		memset(out, 0, n * sizeof(*out)); /* refused: one STATUS each */
	}
	cmds = build(s, names, n, &sent);
	if (!cmds) {
		imap_status_set(st, IMAP_R_NOMEM, "out of memory");
		return IMAP_R_NOMEM;
	}
	rr = imap_run(s, cmds, sent, on_status, &c);
	if (rr != IMAP_R_OK)
		imap_status_set(st, rr, "STATUS: %s", imap_result_name(rr));
	for (size_t i = 0; i < sent; i++)
		free((char *)cmds[i].line);
	free(cmds);
	return rr;
}
