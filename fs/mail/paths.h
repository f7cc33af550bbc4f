/* Where inboxfs keeps files of its own: XDG base directories, one name per
 * account, directories created private (0700). */
#ifndef INBOXFS_FS_MAIL_PATHS_H
#define INBOXFS_FS_MAIL_PATHS_H

/* $VAR/inboxfs, or $HOME/FALLBACK/inboxfs ("/.local/state", "/.cache");
 * malloc'd. */
char *paths_xdg_dir(const char *var, const char *fallback);
/* "user@host:port" with anything but [A-Za-z0-9.@_-] as %XX: a safe file
 * name whatever the server or user name holds.  malloc'd. */
char *paths_account_id(const char *user, const char *host, unsigned port);
/* mkdir -p with mode 0700 (path is modified and restored). */
int paths_mkdirs(char *path);

#endif
