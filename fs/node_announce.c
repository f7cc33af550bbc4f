/* The announcer's own calls on its mount (announce.c): it mknod()s a new
 * message so that watchers get IN_CREATE, and unlinks one another client
 * expunged so that they get IN_DELETE; it mkdir()s, rmdir()s and
 * renames folders another client created, deleted or renamed
 * (fs/mail/tree.h) for the same events on the parents.  These requests change nothing on the server.  The kind
 * has no inodes: it claims requests by who makes them, before any other
 * kind. */
#include <errno.h>
#include <string.h>

#include "fs/attr.h"
#include "fs/mail/account.h"
#include "fs/mail/events.h"
#include "fs/mail/tree.h"
#include "fs/node.h"
#include "fs/node_announce.h"

/* A folder deleted (or moved) elsewhere, for the announcer's rmdir (or
 * rename): a directory once more; one created (or moved) elsewhere is not
 * there yet for its mkdir (or rename). */
static int tree_lookup(struct account *a, fuse_ino_t parent, const char *name,
		       struct fuse_entry_param *e)
{
	uint64_t ino;
	bool born;

	if (!tree_pending(a, parent, name, &born, &ino))
		return NODE_NOT_MINE;
	if (born)
		return ENOENT;
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	attr_fill(&e->attr, ino, S_IFDIR | 0500, 2, attr_mount_time());
	return 0;
}

/* The announcer unlinks what another client expunged: it needs the name
 * once more. */
static int announce_lookup(fuse_req_t req, fuse_ino_t parent, const char *name,
			   struct fuse_entry_param *e)
{
	struct account *a = fuse_req_userdata(req);
	uint64_t ino;
	struct msg m;
	uint32_t uid;

	if (!node_from_announcer(req))
		return NODE_NOT_MINE;
	if (!index_parse_msg_name(name, &uid))
		return tree_lookup(a, parent, name, e);
	if (!events_departure(a, parent, uid, &m, &ino))
		return NODE_NOT_MINE;
	attr_message_entry(a, ino, &m, e);
	return 0;
}

bool announce_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct account *a = fuse_req_userdata(req);
	struct fuse_entry_param e;
	struct folder_info f;
	uint64_t ino;
	bool born;

	if (!node_from_announcer(req))
		return false;
	if (!tree_pending(a, parent, name, &born, &ino) || !born || !lookup_folder(a, ino, &f)) {
		fuse_reply_err(req, EEXIST);
		return true;
	}
	attr_folder_entry(a, &f, &e);
	fuse_reply_entry(req, &e);
	return true;
}

bool announce_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct account *a = fuse_req_userdata(req);
	uint64_t ino;
	bool born;

	if (!node_from_announcer(req))
		return false;
	fuse_reply_err(req, tree_pending(a, parent, name, &born, &ino) && !born ? 0 : ENOENT);
	return true;
}

bool announce_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		     const char *newname)
{
	struct account *a = fuse_req_userdata(req);

	if (!node_from_announcer(req))
		return false;
	fuse_reply_err(req, tree_move_pending(a, parent, name, newparent, newname) ? 0 : ENOENT);
	return true;
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
