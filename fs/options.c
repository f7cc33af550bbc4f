#define FUSE_USE_VERSION 314
#include "fs/options.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <fuse_lowlevel.h>
#include <fuse_opt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { KEY_RO, KEY_WATCH, KEY_ALLOW_OTHER, KEY_DEBUG };

#define CONFIG_LINE_MAX 65536
/* Seconds become milliseconds in an int (and beyond 11 days a timeout or
 * interval is a mistake anyway). */
#define SECONDS_MAX 1000000u

#define OPT(t, f) { t, offsetof(struct options, f), 0 }
static const struct fuse_opt inboxfs_opts[] = {
	OPT("password_file=%s", password_file),
	OPT("password_cmd=%s", password_cmd),
	OPT("cafile=%s", cafile),
	OPT("auth=%s", auth),
	OPT("oauth2_token_url=%s", oauth2_token_url),
	OPT("oauth2_tenant=%s", oauth2_tenant),
	OPT("oauth2_client_id=%s", oauth2_client_id),
	OPT("oauth2_client_secret_file=%s", oauth2_client_secret_file),
	OPT("oauth2_client_cert=%s", oauth2_client_cert),
	OPT("oauth2_client_key=%s", oauth2_client_key),
	OPT("oauth2_scope=%s", oauth2_scope),
	OPT("oauth2_refresh_token_file=%s", oauth2_refresh_token_file),
	OPT("oauth2_cafile=%s", oauth2_cafile),
	OPT("token_cmd=%s", token_cmd),
	OPT("tls=%s", tls),
	OPT("config=%s", config),
	OPT("cache_mem=%s", cache_mem),
	OPT("cache_disk=%s", cache_disk),
	OPT("max_message=%s", max_message),
	OPT("timeout=%u", timeout),
	OPT("expunge=%s", expunge),
	OPT("delete=%s", delete_mode),
	OPT("watch_max=%u", watch_max),
	OPT("poll_interval=%u", poll_interval),
	OPT("idle_interval=%u", idle_interval),
	OPT("idle_timeout=%u", idle_timeout),
	OPT("reconnect_max=%u", reconnect_max),
	OPT("reconnect_tries=%u", reconnect_tries),
	OPT("connections=%u", connections),
	OPT("max_connections=%u", max_connections),
	OPT("compress=%s", compress_opt),
	OPT("append_dedupe=%s", append_dedupe_opt),
	OPT("list_from_watch=%s", list_from_watch_opt),
	{ "allow_plaintext_auth", offsetof(struct options, allow_plaintext_auth), 1 },
	{ "--check", offsetof(struct options, check), 1 },
	FUSE_OPT_KEY("watch=", KEY_WATCH),
	FUSE_OPT_KEY("debug=", KEY_DEBUG),
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_END
};

/* Keys a config file may set (the same as -o). */
static const char *const config_keys[] = {
	"password_file", "password_cmd", "cafile", "tls", "debug", "cache_mem", "cache_disk",
	"max_message",
	"timeout", "ro", "expunge", "delete", "watch", "watch_max", "poll_interval",
	"idle_interval", "idle_timeout", "reconnect_max", "reconnect_tries", "auth", "connections", "max_connections", "compress",
	"append_dedupe", "list_from_watch",
	"oauth2_token_url", "oauth2_tenant", "oauth2_client_id", "oauth2_client_secret_file",
	"oauth2_client_cert", "oauth2_client_key", "oauth2_scope", "oauth2_refresh_token_file",
	"oauth2_cafile", "token_cmd", "allow_plaintext_auth", "allow_other", NULL,
};

/* -o debug=imap,fs would be split at its comma by the option parser (into
 * debug=imap and an unknown option fs): categories are joined with ':' or
 * '+' instead, or given in several -o debug=, which add up. */
static int add_debug(struct options *o, const char *list)
{
	size_t have = o->debug ? strlen(o->debug) : 0;
	char *n = realloc(o->debug, have + strlen(list) + 2);

	if (!n)
		return -1;
	sprintf(n + have, "%s%s", have ? ":" : "", list);
	o->debug = n;
	return 0;
}

static int debug_categories(const char *list, unsigned *cats)
{
	static const struct { const char *name; unsigned bits; } known[] = {
		{ "imap", LOG_CAT_IMAP }, { "fs", LOG_CAT_FS }, { "auth", LOG_CAT_AUTH },
		{ "all", ~0u },
	};
	char *copy = strdup(list), *tok, *save = NULL;
	size_t i;

	if (!copy)
		return -1;
	*cats = LOG_CAT_CORE;
	for (tok = strtok_r(copy, ":+, ", &save); tok; tok = strtok_r(NULL, ":+, ", &save)) {
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(tok, known[i].name) == 0)
				break;
		if (i == sizeof(known) / sizeof(known[0])) {
			fprintf(stderr, "inboxfs: debug=%s: unknown category '%.32s' (imap, fs, "
				"auth, all; joined with ':')\n", list, tok);
			free(copy);
			return -1;
		}
		*cats |= known[i].bits;
	}
	free(copy);
	return 0;
}

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct options *o = data;

	(void)outargs;
	if (key == KEY_DEBUG)
		return add_debug(o, arg + strlen("debug="));
	if (key == KEY_WATCH) {
		char **n = realloc(o->watch, (o->nwatch + 1) * sizeof(*n));

		if (!n || !(n[o->nwatch] = strdup(arg + strlen("watch="))))
			return -1;
		o->watch = n;
		o->nwatch++;
		return 0;
	}
	if (key == KEY_RO) {
		o->ro = 1;
		return 1; /* the kernel should know too */
	}
	if (key == KEY_ALLOW_OTHER) {
		o->allow_other = 1;
		return 1; /* a mount option: fuse_session_new passes it on */
	}
	if (key == FUSE_OPT_KEY_NONOPT && !o->url) {
		o->url = strdup(arg);
		return o->url ? 0 : -1;
	}
	return 1;
}

void options_usage(const char *prog)
{
	/* One screen: every option on one line; details in inboxfs(1). */
	const char *slash = strrchr(prog, '/');

	prog = slash ? slash + 1 : prog;
	printf("usage: %s [options] imaps://USER@HOST[:PORT] MOUNTPOINT\n"
	       "       %s [options] imap://USER@HOST[:PORT] MOUNTPOINT   (STARTTLS)\n"
	       "       %s [options] ACCOUNT MOUNTPOINT      ([ACCOUNT] in the config file)\n"
	       "       %s --check [options] URL|ACCOUNT   log in, list capabilities\n"
	       "Logging in:\n"
	       "  -o password_file=PATH        first line is the password (mode 0600)\n"
	       "  -o password_cmd=CMD          first line of CMD's output is the password\n"
	       "  -o auth=MECH                 plain, login, xoauth2, oauthbearer (auto)\n"
	       "  -o oauth2_tenant=TENANT      Office 365: Microsoft's token URL and IMAP scope\n"
	       "  -o oauth2_token_url=URL      any other OAuth2 token endpoint (https)\n"
	       "  -o oauth2_client_id=ID       the application's client id\n"
	       "  -o oauth2_client_secret_file=PATH   client credentials with a secret\n"
	       "  -o oauth2_client_cert=PATH   client credentials with a certificate, and\n"
	       "  -o oauth2_client_key=PATH      its RSA key (mode 0600)\n"
	       "  -o oauth2_refresh_token_file=PATH   refresh token (rotation is saved)\n"
	       "  -o oauth2_scope=SCOPE        scope to ask for\n"
	       "  -o oauth2_cafile=PATH        CA certificates for the token endpoint\n"
	       "  -o token_cmd=CMD             first line of CMD's output is the access token\n"
	       "  -o cafile=PATH               CA certificates for IMAP (default: the system's)\n"
	       "  -o tls=none                  plaintext IMAP (tests only)\n"
	       "  -o allow_plaintext_auth      ... and credentials to a server not on loopback\n"
	       "Behaviour:\n"
	       "  -o ro                        read-only mount\n"
	       "  -o allow_other               let other users in (default: only you)\n"
	       "  -o delete=trash              rm moves to \\Trash (default: expunge)\n"
	       "  -o expunge=unsafe            allow a bare EXPUNGE (server without UIDPLUS)\n"
	       "  -o append_dedupe=no          append a file even if the folder has it (yes)\n"
	       "  -o watch=FOLDER              IDLE on FOLDER: repeatable, all, none (INBOX)\n"
	       "  -o list_from_watch=yes       ls of a folder IDLE watches asks nothing (no)\n"
	       "  -o watch_max=N               most IDLE connections; other watched folders\n"
	       "                               are polled with STATUS (20)\n"
	       "  -o cache_mem=SIZE            message bodies kept in memory (64M)\n"
	       "  -o cache_disk=SIZE           bodies and folder lists on disk (off)\n"
	       "  -o max_message=SIZE          largest message read or written (512M)\n"
	       "  -o timeout=SECS              a call's wait for a silent server (30)\n"
	       "  -o connections=N             for reading in parallel (3)\n"
	       "  -o max_connections=N         at most N connections at once, all kinds (8)\n"
	       "  -o compress=yes              COMPRESS=DEFLATE where offered (no)\n"
	       "  -o idle_interval=SECS        re-issue IDLE this often (1500)\n"
	       "  -o idle_timeout=SECS         silent this long: the link is dead (300)\n"
	       "  -o poll_interval=SECS        poll this often without IDLE (60)\n"
	       "  -o reconnect_max=SECS        longest wait between reconnects (300)\n"
	       "  -o reconnect_tries=N         give up after N failed tries (never)\n"
	       "  -o config=PATH               key = value lines (~/.config/inboxfs/config)\n"
	       "  -o debug=imap:fs:auth|all    trace (secrets are never shown)\n"
	       "  -f  foreground   -d  FUSE debug   -s  single-threaded   -h  help\n"
	       "  -V, --version    versions of inboxfs and the libraries it runs with\n"
	       "The password may also come from INBOXFS_PASSWORD.  See inboxfs(1).\n",
	       prog, prog, prog, prog);
}

int options_parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case '\0': break;
	default: return -1;
	}
	if (*end || v > (SIZE_MAX >> shift))
		return -1;
	*out = (size_t)(v << shift);
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static bool known_config_key(const char *k)
{
	for (size_t i = 0; config_keys[i]; i++)
		if (strcmp(k, config_keys[i]) == 0)
			return true;
	return false;
}

/* Keys without a value on the command line: "key = yes" in a config file. */
static bool is_flag_key(const char *k)
{
	return !strcmp(k, "ro") || !strcmp(k, "allow_plaintext_auth") || !strcmp(k, "allow_other");
}

/* A comma would split the -o string: fuse_opt needs it escaped. */
static int add_option(struct fuse_args *args, const char *key, const char *val)
{
	char *opt;
	size_t o = 0, len = strlen(key) + 2 * strlen(val) + 2;
	int r;

	opt = malloc(len + 1);
	if (!opt)
		return -1;
	o += (size_t)sprintf(opt, "%s", key);
	if (*val) {
		opt[o++] = '=';
		for (const char *c = val; *c; c++) {
			if (*c == ',' || *c == '\\')
				opt[o++] = '\\';
			opt[o++] = *c;
		}
	}
	opt[o] = '\0';
	r = fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, opt) ? -1 : 0;
	free(opt);
	return r;
}

/* One "key = value" line of a config file: 0, or -1 with err set. */
static int config_line(char *s, const char *path, unsigned lineno, struct fuse_args *args,
		       char **url, char *err, size_t errlen)
{
	char *eq = strchr(s, '='), *key, *val;

	if (eq)
		*eq = '\0';
	key = trim(s);
	val = eq ? trim(eq + 1) : "";
	if (strcmp(key, "url") == 0) {
		free(*url);
		if (!(*url = strdup(val)))
			return -1;
		return 0;
	}
	if (!known_config_key(key)) {
		snprintf(err, errlen, "%s:%u: unknown key '%.64s'", path, lineno, key);
		return -1;
	}
	if (!is_flag_key(key))
		return add_option(args, key, val);
	if (!*val || !strcmp(val, "yes") || !strcmp(val, "true") || !strcmp(val, "1"))
		return add_option(args, key, "");
	return 0;
}

/* "[name]" starts an account's section: NULL when s is no section line. */
static char *section_name(char *s)
{
	size_t n = strlen(s);

	if (n < 3 || s[0] != '[' || s[n - 1] != ']')
		return NULL;
	s[n - 1] = '\0';
	return trim(s + 1);
}

/* Lines are read whole (getline): a line cut at a buffer's end would make
 * the rest of a long value a line of its own, with a key of its own. */
int options_read_account(const char *path, const char *account, struct fuse_args *args,
			 char **url, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, *sec;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;
	bool mine = true, found = account == NULL;
	int rc = 0;

	*url = NULL;
	if (errlen)
		*err = '\0';
	if (!f) {
		snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
		char *s;

		lineno++;
		if (len > CONFIG_LINE_MAX) {
			snprintf(err, errlen, "%s:%u: line longer than %d bytes", path, lineno,
				 CONFIG_LINE_MAX);
			rc = -1;
			break;
		}
		if (memchr(line, '\0', (size_t)len)) {
			/* C strings would silently cut the value at the NUL. */
			snprintf(err, errlen, "%s:%u: NUL byte in line", path, lineno);
			rc = -1;
			break;
		}
		s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		/* Keys before the first section apply to every account. */
		if ((sec = section_name(s))) {
			mine = account && strcmp(sec, account) == 0;
			found |= mine;
			continue;
		}
		if (mine)
			rc = config_line(s, path, lineno, args, url, err, errlen);
	}
	free(line);
	fclose(f);
	if (rc == 0 && !found) {
		snprintf(err, errlen, "no account [%.64s] in %s", account, path);
		rc = -1;
	}
	if (rc < 0 && !*err)
		snprintf(err, errlen, "out of memory");
	return rc;
}

int options_read_config(const char *path, struct fuse_args *args, char *err, size_t errlen)
{
	char *url = NULL;
	int rc = options_read_account(path, NULL, args, &url, err, errlen);

	free(url);
	return rc;
}

static char *default_config_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char *p = NULL;

	if (xdg && *xdg) {
		if (asprintf(&p, "%s/inboxfs/config", xdg) < 0)
			return NULL;
	} else if (home && *home) {
		if (asprintf(&p, "%s/.config/inboxfs/config", home) < 0)
			return NULL;
	}
	if (p && access(p, F_OK) != 0) {
		free(p);
		p = NULL;
	}
	return p;
}

void options_free(struct options *o)
{
	free(o->url);
	free(o->mountpoint);
	free(o->password_file);
	free(o->password_cmd);
	free(o->cafile);
	free(o->auth);
	free(o->oauth2_token_url);
	free(o->oauth2_tenant);
	free(o->oauth2_client_id);
	free(o->oauth2_client_secret_file);
	free(o->oauth2_client_cert);
	free(o->oauth2_client_key);
	free(o->oauth2_scope);
	free(o->oauth2_refresh_token_file);
	free(o->oauth2_cafile);
	free(o->token_cmd);
	free(o->tls);
	free(o->config);
	free(o->debug);
	free(o->cache_mem);
	free(o->cache_disk);
	free(o->compress_opt);
	free(o->append_dedupe_opt);
	free(o->list_from_watch_opt);
	free(o->max_message);
	free(o->expunge);
	free(o->delete_mode);
	for (size_t i = 0; i < o->nwatch; i++)
		free(o->watch[i]);
	free(o->watch);
	memset(o, 0, sizeof(*o));
}

static int parse_pass(struct fuse_args *args, struct options *o)
{
	struct fuse_cmdline_opts copts;

	if (fuse_opt_parse(args, o, inboxfs_opts, opt_proc) != 0)
		return -1;
	if (fuse_parse_cmdline(args, &copts) != 0)
		return -1;
	o->mountpoint = copts.mountpoint;
	o->show_help = copts.show_help;
	o->show_version = copts.show_version;
	o->foreground = copts.foreground;
	o->singlethread = copts.singlethread;
	o->fuse_debug = copts.debug;
	return 0;
}

/* The first argument names the server (imaps://...) or an account of the
 * config file. */
static bool is_url(const char *s) { return strstr(s, "://") != NULL; }

/* First pass only to find the config file and the account; the second
 * pass parses the config's options followed by the command line's. */
static int find_config(int argc, char **argv, char **path, char **account)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct options tmp = { 0 };
	int r = fuse_opt_parse(&args, &tmp, inboxfs_opts, opt_proc);

	*path = r == 0 && tmp.config ? strdup(tmp.config) : NULL;
	if (r == 0 && !*path)
		*path = default_config_path();
	*account = r == 0 && tmp.url && !is_url(tmp.url) ? strdup(tmp.url) : NULL;
	options_free(&tmp);
	fuse_opt_free_args(&args);
	return r;
}

/* Mounting an account by name: its url replaces the name. */
static int resolve_account(struct options *o, const char *config, char *account_url)
{
	if (!o->url || is_url(o->url)) {
		free(account_url);
		return 0;
	}
	if (!account_url) {
		fprintf(stderr, "inboxfs: '%s' is neither a URL (imaps://USER@HOST) nor an account "
			"with a url in %s\n", o->url, config ? config : "a config file (none found)");
		return -1;
	}
	free(o->url);
	o->url = account_url;
	return 0;
}

static int check_seconds(const struct options *o)
{
	const struct { const char *name; unsigned v; } s[] = {
		{ "timeout", o->timeout }, { "poll_interval", o->poll_interval },
		{ "idle_interval", o->idle_interval }, { "idle_timeout", o->idle_timeout },
		{ "reconnect_max", o->reconnect_max },
	};

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		if (s[i].v > SECONDS_MAX) {
			fprintf(stderr, "inboxfs: %s=%u: at most %u seconds\n", s[i].name, s[i].v,
				SECONDS_MAX);
			return -1;
		}
	}
	return 0;
}

static void set_defaults(struct options *o)
{
	if (!o->timeout)
		o->timeout = 30;
	if (!o->poll_interval)
		o->poll_interval = 60;
	if (!o->idle_interval)
		o->idle_interval = 1500; /* below RFC 2177's 29 minutes */
	if (!o->idle_timeout)
		o->idle_timeout = 300;
	if (!o->watch_max)
		o->watch_max = 20;
	if (!o->reconnect_max)
		o->reconnect_max = 300;
	if (!o->connections)
		o->connections = 3;
	if (!o->max_connections)
		o->max_connections = 8; /* below Dovecot's and mailbox.org's 10, Gmail's 15 */
	o->cache_mem_bytes = 64u << 20;
	o->max_message_bytes = 512u << 20;
}

/* An option that is yes or no into *out (unset: dflt); false after
 * saying what is wrong. */
static bool yes_or_no(const char *name, const char *value, bool dflt, bool *out)
{
	if (!value || !strcmp(value, "yes") || !strcmp(value, "no")) {
		*out = value ? strcmp(value, "yes") == 0 : dflt;
		return true;
	}
	fprintf(stderr, "inboxfs: %s=%s: use yes or no\n", name, value);
	return false;
}

/* A size option, when given, into *out; false after saying what is wrong. */
static bool size_ok(const char *name, const char *value, size_t *out)
{
	if (!value || options_parse_size(value, out) == 0)
		return true;
	fprintf(stderr, "inboxfs: bad %s size '%s'\n", name, value);
	return false;
}

static int finish_switches(struct options *o)
{
	return yes_or_no("compress", o->compress_opt, false, &o->compress) &&
	       yes_or_no("append_dedupe", o->append_dedupe_opt, true, &o->append_dedupe) &&
	       yes_or_no("list_from_watch", o->list_from_watch_opt, false, &o->list_from_watch) ?
	       0 : -1;
}

static int finish_amounts(struct options *o)
{
	if (o->connections > 16) {
		fprintf(stderr, "inboxfs: connections=%u: at most 16\n", o->connections);
		return -1;
	}
	if (o->max_connections > 64) {
		fprintf(stderr, "inboxfs: max_connections=%u: at most 64\n", o->max_connections);
		return -1;
	}
	if (!size_ok("cache_mem", o->cache_mem, &o->cache_mem_bytes) ||
	    !size_ok("cache_disk", o->cache_disk && strcmp(o->cache_disk, "none") ? o->cache_disk :
		     NULL, &o->cache_disk_bytes) ||
	    !size_ok("max_message", o->max_message, &o->max_message_bytes))
		return -1;
	return 0;
}

static int finish_choices(struct options *o)
{
	if (o->expunge && strcmp(o->expunge, "unsafe") != 0 && strcmp(o->expunge, "uid") != 0) {
		fprintf(stderr, "inboxfs: expunge=%s: use 'uid' (default) or 'unsafe'\n", o->expunge);
		return -1;
	}
	o->expunge_unsafe = o->expunge && strcmp(o->expunge, "unsafe") == 0;
	if (o->delete_mode && strcmp(o->delete_mode, "trash") != 0 &&
	    strcmp(o->delete_mode, "expunge") != 0) {
		fprintf(stderr, "inboxfs: delete=%s: use 'expunge' (default) or 'trash'\n",
			o->delete_mode);
		return -1;
	}
	o->delete_to_trash = o->delete_mode && strcmp(o->delete_mode, "trash") == 0;
	if (o->auth && strcmp(o->auth, "plain") && strcmp(o->auth, "login") &&
	    strcmp(o->auth, "xoauth2") && strcmp(o->auth, "oauthbearer")) {
		fprintf(stderr, "inboxfs: auth=%s: use plain, login, xoauth2 or oauthbearer\n",
			o->auth);
		return -1;
	}
	if (o->tls && strcmp(o->tls, "none") != 0) {
		fprintf(stderr, "inboxfs: tls=%s: the only value is 'none' (TLS is on by default)\n",
			o->tls);
		return -1;
	}
	return 0;
}

/* Defaults for what was not given, then every value checked. */
static int finish(struct options *o)
{
	set_defaults(o);
	if (check_seconds(o) < 0)
		return -1;
	if (o->debug && debug_categories(o->debug, &o->debug_cats) < 0)
		return -1;
	if (finish_switches(o) < 0 || finish_amounts(o) < 0 || finish_choices(o) < 0)
		return -1;
	return 0;
}

int options_parse(int argc, char **argv, struct options *o, struct fuse_args *out)
{
	char *config = NULL, *account = NULL, *account_url = NULL, err[512] = "";
	int i;

	memset(o, 0, sizeof(*o));
	if (find_config(argc, argv, &config, &account) != 0)
		return -1;
	if (fuse_opt_add_arg(out, argv[0]) != 0)
		goto fail;
	if (config && options_read_account(config, account, out, &account_url, err,
					   sizeof(err)) < 0) {
		fprintf(stderr, "inboxfs: %s\n", err);
		goto fail;
	}
	for (i = 1; i < argc; i++)
		if (fuse_opt_add_arg(out, argv[i]) != 0)
			goto fail;
	if (parse_pass(out, o) != 0)
		goto fail;
	i = resolve_account(o, config, account_url);
	account_url = NULL; /* resolve_account took it */
	if (i != 0)
		goto fail;
	free(config);
	free(account);
	if (o->show_help || o->show_version)
		return 1;
	return finish(o);
fail:
	free(account_url);
	free(config);
	free(account);
	return -1;
}
