/* Command line and config file: one options struct, parsed by
 * fuse_opt_parse.  The config file holds the same keys as -o; its lines
 * are turned into -o arguments placed before the command line's, so the
 * command line wins. */
#ifndef INBOXFS_FS_OPTIONS_H
#define INBOXFS_FS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

struct fuse_args;

struct options {
	char *url;
	char *mountpoint;
	char *password_file;
	char *password_cmd;
	char *cafile;
	char *auth;           /* plain|login|xoauth2|oauthbearer; NULL: chosen */
	char *oauth2_token_url, *oauth2_tenant, *oauth2_client_id, *oauth2_client_secret_file;
	char *oauth2_client_cert, *oauth2_client_key, *oauth2_scope, *oauth2_refresh_token_file;
	char *oauth2_cafile;  /* CA file for the token endpoint (default: the system's) */
	char *token_cmd;
	char *tls;            /* "none" for plaintext; anything else is refused */
	char *config;
	char *debug;          /* categories for trace output: imap:fs:auth (every -o debug=) */
	unsigned debug_cats;  /* LOG_CAT_* bits of debug, set by options_parse */
	char *cache_mem;      /* size of the in-memory body cache */
	char *cache_disk;     /* size of the disk cache; 0/none: off */
	char *max_message;    /* the largest message read */
	char *expunge;        /* "unsafe": allow a bare EXPUNGE without UIDPLUS */
	char *delete_mode;    /* "trash": rm moves to the \Trash folder */
	unsigned timeout;     /* seconds a call may wait for a silent server */
	char **watch;         /* watch=FOLDER, repeatable; "all"; "none" */
	size_t nwatch;
	unsigned watch_max;   /* cap on IDLE connections (the rest are polled) */
	unsigned poll_interval, idle_interval, idle_timeout;  /* seconds */
	unsigned reconnect_max;    /* longest wait between tries, seconds */
	unsigned reconnect_tries;  /* 0: never give up */
	unsigned connections;      /* worker + readers (default 3) */
	unsigned max_connections;  /* all kinds together (default 8: fs/mail/budget.h) */
	char *compress_opt;        /* "yes"/"no" */
	bool compress;
	char *append_dedupe_opt;   /* "yes" (default)/"no" */
	bool append_dedupe;        /* skip an append the folder holds already (dedupe.h) */
	char *list_from_watch_opt; /* "yes"/"no" (default) */
	bool list_from_watch;      /* a watched folder is listed from what IDLE said */
	int ro;
	int allow_plaintext_auth; /* send credentials without TLS to a non-loopback peer */
	int allow_other;          /* let other users into the mount (FUSE allow_other) */
	int show_help, show_version, foreground, singlethread, fuse_debug;
	int check;                /* --check: report on the server, mount nothing */
	size_t cache_mem_bytes, max_message_bytes, cache_disk_bytes;
	bool expunge_unsafe, delete_to_trash;
};

/* Parse argv into opts and the remaining FUSE arguments.  Returns 0, 1
 * when the program should exit successfully (help, version), or -1 with
 * a message printed. */
int options_parse(int argc, char **argv, struct options *opts, struct fuse_args *out);
void options_free(struct options *opts);
void options_usage(const char *prog);
/* "64M", "1G", "4096" -> bytes.  -1 on a malformed size. */
int options_parse_size(const char *s, size_t *out);
/* Turn a config file into "-o key=value" arguments appended to args: the
 * keys before the first [section], then those of [account] (NULL: none).
 * *url gets the url key's value (malloc'd, or NULL). */
int options_read_account(const char *path, const char *account, struct fuse_args *args,
			 char **url, char *err, size_t errlen);
/* The same without an account. */
int options_read_config(const char *path, struct fuse_args *args, char *err, size_t errlen);

#endif
