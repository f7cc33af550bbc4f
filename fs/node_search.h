/* What the two kinds of search directories share (node_search.c): a
 * folder's .search/QUERY/ and the root's .search/QUERY/F/ both list the
 * messages a query found in a folder, as the folder's own entries. */
#ifndef INBOXFS_FS_NODE_SEARCH_H
#define INBOXFS_FS_NODE_SEARCH_H

#define FUSE_USE_VERSION 314
#include <stdbool.h>
#include <stdint.h>
#include <fuse_lowlevel.h>

#include "fs/mail/lookup.h"
#include "fs/node.h"
#include "imap/search.h"

#define SEARCH_DIR_NAME ".search"

/* Parse query, looked up in where (a folder's name, "" for the root): 0,
 * or EINVAL with one log line saying which term and why. */
int search_parse(const char *where, const char *query, struct imap_search *q);
/* Run q in folder f on the server and keep what it found as query id's
 * there: 0 or an errno (logged).  New mail it found is announced first,
 * as for a listing of the folder. */
int search_run(struct account *a, uint32_t id, const struct folder_info *f,
	       const struct imap_search *q);
/* Parse and run query id's text in f. */
int search_rerun(struct account *a, uint32_t id, const struct folder_info *f, const char *query);
/* Attributes of a search directory ino (writable: its entries can be
 * removed), and its entry. */
void search_dir_attr(struct account *a, fuse_ino_t ino, bool writable, struct stat *st);
void search_dir_entry(struct account *a, fuse_ino_t ino, bool writable,
		      struct fuse_entry_param *e);
/* Message name of folder f when query id found it (it runs first if it
 * never ran): 0 and *e, or an errno. */
int search_lookup_found(struct account *a, uint32_t id, const struct folder_info *f,
			const char *query, const char *name, struct fuse_entry_param *e);
/* The messages id found in folder, within account_with_index, as a
 * listing's part; entry i of it. */
int search_list_found(struct account *a, uint32_t id, uint64_t folder, struct node_part *part);
void search_found_entry(struct account *a, const struct node_part *part, size_t i, char *name,
			size_t namelen, struct fuse_entry_param *e);
/* rm and mv of an entry of folder f: those of the message. */
int search_unlink_found(fuse_req_t req, const struct folder_info *f, const char *name);
int search_rename_found(fuse_req_t req, const struct folder_info *f, const char *name,
			fuse_ino_t newparent, const char *newname, unsigned int flags);
/* Creating in a search directory parent: refused; NODE_NOT_MINE elsewhere. */
int search_refuse_new(fuse_ino_t parent, const char *name);

#endif
