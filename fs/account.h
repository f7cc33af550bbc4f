/* The mounted account: the IMAP session that serves the file system, the
 * index built from it and the body cache.  It knows nothing of FUSE
 * requests: ops.c turns its results into replies. */
#ifndef INBOXFS_FS_ACCOUNT_H
#define INBOXFS_FS_ACCOUNT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/secret.h"
#include "fs/bodycache.h"
#include "fs/index.h"
#include "fs/options.h"
#include "imap/session.h"
#include "imap/url.h"

struct notifier;

struct account {
	const struct options *opt;
	struct imap_url url;
	struct imap_session_config scfg;
	struct secret_source secret;

	/* Held while using the session or changing the index. */
	pthread_mutex_t lock;
	struct imap_session *session;
	struct folder *selected;   /* the folder selected on the session */
	uint32_t sel_exists;       /* last EXISTS for the selected folder */
	bool sel_dirty;            /* an EXPUNGE could not be applied: reload */

	struct index *index;
	struct bodycache *bodies;
	struct notifier *notifier; /* set once mounted */

	/* Read-ahead: the last message opened and how long the run is. */
	struct folder *ra_folder;
	long ra_pos;
	unsigned ra_run;
};

/* Parse the URL, load the password, connect, log in, list the folders.
 * On failure returns -1 with a one-line reason in err. */
int account_open(struct account *a, const struct options *opt, char *err, size_t errlen);
void account_close(struct account *a);

/* Everything below is called with a->lock held. */

/* Make the folder's message list current (SELECT/EXAMINE on first use,
 * NOOP or a resync afterwards). */
enum imap_result account_refresh_folder(struct account *a, struct folder *f,
					struct imap_status *st);
/* Load the folder's messages if they never were. */
enum imap_result account_ensure_loaded(struct account *a, struct folder *f,
				       struct imap_status *st);
/* The body of folder f's message uid, pinned (release with
 * bodycache_release), fetching it and maybe the next ones. */
enum imap_result account_load_body(struct account *a, struct folder *f, uint32_t uid,
				   struct body **out, struct imap_status *st);

#endif
