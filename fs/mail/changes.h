/* Changes to the mailbox made from the shell: each mapped to the IMAP
 * commands that do exactly that and nothing more (RFC 4315 UIDPLUS,
 * RFC 6851 MOVE, RFC 3501 CREATE/DELETE/RENAME).  Never lose mail: when a
 * step fails, the message stays where it was (or in both places) and the
 * caller gets an error.  All called with a->session_lock held. */
#ifndef INBOXFS_FS_MAIL_CHANGES_H
#define INBOXFS_FS_MAIL_CHANGES_H

#include <stddef.h>
#include <stdint.h>

#include "fs/mail/account.h"

/* rm: UID STORE +\Deleted then UID EXPUNGE of that UID only (or a move
 * to \Trash with delete=trash). */
enum imap_result change_delete_message(struct account *a, struct folder *f, uint32_t uid,
				       struct imap_status *st);
/* mv to another folder: UID MOVE, or UID COPY + STORE + UID EXPUNGE.
 * *new_uid: the UID in the target (COPYUID), 0 when the server did not say. */
enum imap_result change_move_message(struct account *a, struct folder *from, uint32_t uid,
				     struct folder *to, uint32_t *new_uid, struct imap_status *st);
/* mkdir: CREATE <parent's name><delimiter><name>. */
enum imap_result change_create_folder(struct account *a, struct folder *parent, const char *name,
				      struct folder **out, struct imap_status *st);
/* rmdir: DELETE, only when the folder holds nothing. */
enum imap_result change_delete_folder(struct account *a, struct folder *f,
				      struct imap_status *st);
/* Renaming a directory: RENAME. */
enum imap_result change_rename_folder(struct account *a, struct folder *f,
				      struct folder *newparent, const char *newname,
				      struct imap_status *st);
/* getfattr user.imap.flags: UID FETCH (FLAGS [MODSEQ]); modseq only where
 * the server has CONDSTORE (else left 0). */
enum imap_result change_get_flags(struct account *a, struct folder *f, uint32_t uid,
				  char *flags, size_t cap, uint64_t *modseq, struct imap_status *st);
/* setfattr user.imap.flags: UID STORE FLAGS, replacing them all. */
enum imap_result change_set_flags(struct account *a, struct folder *f, uint32_t uid,
				  const char *flags, struct imap_status *st);
/* cp into a folder: APPEND with INTERNALDATE date (epoch seconds, UTC);
 * *uid from APPENDUID (0 when the server did not say). */
enum imap_result change_append(struct account *a, struct folder *f, const char *data, size_t len,
			       int64_t date, uint32_t *uid, struct imap_status *st);
/* A name typed at the shell may become a folder name: no delimiter, no
 * control characters, valid UTF-8, not a message file name. */
bool change_valid_folder_name(const struct account *a, const char *name);

#endif
