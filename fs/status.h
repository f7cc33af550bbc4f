/* .inboxfs/status at the mount root: the health of the connections, for
 * scripts and people.  One "key: value" per line. */
#ifndef INBOXFS_FS_STATUS_H
#define INBOXFS_FS_STATUS_H

#include <stddef.h>

#define STATUS_DIR_NAME ".inboxfs"
#define STATUS_FILE_NAME "status"

struct account;

/* The text now (malloc'd). */
char *status_text(struct account *a, size_t *len);

#endif
