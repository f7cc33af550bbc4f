/* The announcer's own calls on its mount (announce.c): it mknod()s a new
 * message so that watchers get IN_CREATE, and unlinks one another client
 * expunged so that they get IN_DELETE.  These requests change the index
 * only; nothing is sent to the server.  The kind has no inodes: it claims
 * requests by who makes them, before any other kind. */
#include <errno.h>
#include <string.h>

#include "fs/attr.h"
#include "fs/mail/account.h"
#include "fs/mail/events.h"
#include "fs/node.h"

/* The announcer unlinks what another client expunged: it needs the name
 * once more. */
static int announce_lookup(fuse_req_t req, fuse_ino_t parent, const char *name,
			   struct fuse_entry_param *e)
{
	struct account *a = fuse_req_userdata(req);
	uint64_t ino;
	struct msg m;
	uint32_t uid;

	if (!node_from_announcer(req) || !index_parse_msg_name(name, &uid) ||
	    !events_departure(a, parent, uid, &m, &ino))
		return NODE_NOT_MINE;
	attr_message_entry(a, ino, &m, e);
	return 0;
}

/* A new message becomes visible; the kernel raises IN_CREATE for it. */
static int announce_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			  struct fuse_entry_param *e)
{
	struct account *a = fuse_req_userdata(req);
	uint64_t ino;
	struct msg m;
	uint32_t uid;

	if (!node_from_announcer(req))
		return NODE_NOT_MINE;
	if (!index_parse_msg_name(name, &uid) || !events_publish(a, parent, uid, &m, &ino))
		return EEXIST;
	attr_message_entry(a, ino, &m, e);
	return 0;
}

/* A message another client expunged: IN_DELETE is raised, nothing sent. */
static int announce_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct account *a = fuse_req_userdata(req);
	uint32_t uid;

	if (!node_from_announcer(req))
		return NODE_NOT_MINE;
	if (index_parse_msg_name(name, &uid))
		events_forget_departure(a, parent, uid);
	return 0;
}

const struct node_kind node_announce = {
	.names_first = true,
	.lookup = announce_lookup,
	.mknod = announce_mknod,
	.unlink = announce_unlink,
};
