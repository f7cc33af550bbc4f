/* Kernel cache invalidations, sent from a thread of their own: a request
 * handler that sent one itself could deadlock against the kernel (libfuse
 * docs, notify_inval_entry.c).  Handlers only queue. */
#ifndef INBOXFS_FS_NOTIFY_H
#define INBOXFS_FS_NOTIFY_H

#include <stdint.h>

struct fuse_session;
struct notifier;
struct body;
struct bodycache;
struct mail_hooks;

struct notifier *notifier_start(struct fuse_session *se);
/* Forget attributes and cached pages of an inode. */
void notifier_inval_inode(struct notifier *n, uint64_t ino);
/* Forget a name in a directory (dentry and the directory's attributes). */
void notifier_inval_entry(struct notifier *n, uint64_t parent, const char *name);
/* Put a message's bytes into the kernel's page cache ahead of its
 * reader, so that a read-ahead message is read with no request at all.
 * Takes over one pin of b, released once stored. */
void notifier_store(struct notifier *n, uint64_t ino, struct bodycache *bc, struct body *b);
/* Send the stores queued so far (they wait for a batch otherwise). */
void notifier_flush(struct notifier *n);
/* Point the engine's hooks at n (its invalidations and stores). */
void notifier_hooks(struct notifier *n, struct mail_hooks *h);
/* Stop the thread; queued items still pending are dropped. */
void notifier_stop(struct notifier *n);

#endif
