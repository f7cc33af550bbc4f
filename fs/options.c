#define FUSE_USE_VERSION 314
#include "fs/options.h"

#include <ctype.h>
#include <errno.h>
#include <fuse_lowlevel.h>
#include <fuse_opt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { KEY_RO, KEY_WATCH, KEY_ALLOW_OTHER };

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
	OPT("debug=%s", debug),
	OPT("cache_mem=%s", cache_mem),
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
	{ "allow_plaintext_auth", offsetof(struct options, allow_plaintext_auth), 1 },
	FUSE_OPT_KEY("watch=", KEY_WATCH),
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_END
};

/* Keys a config file may set (the same as -o). */
static const char *const config_keys[] = {
	"password_file", "password_cmd", "cafile", "tls", "debug", "cache_mem", "max_message",
	"timeout", "ro", "expunge", "delete", "watch", "watch_max", "poll_interval",
	"idle_interval", "idle_timeout", "reconnect_max", "reconnect_tries", "auth",
	"oauth2_token_url", "oauth2_tenant", "oauth2_client_id", "oauth2_client_secret_file",
	"oauth2_client_cert", "oauth2_client_key", "oauth2_scope", "oauth2_refresh_token_file",
	"oauth2_cafile", "token_cmd", "allow_plaintext_auth", "allow_other", NULL,
};

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct options *o = data;

	(void)outargs;
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
	printf("usage: %s [options] imaps://USER@HOST[:PORT] MOUNTPOINT\n"
	       "       %s [options] imap://USER@HOST[:PORT] MOUNTPOINT   (STARTTLS)\n\n"
	       "inboxfs options:\n"
	       "    -o password_file=PATH  first line is the password (mode 0600)\n"
	       "    -o password_cmd=CMD    first line of CMD's output is the password\n"
	       "    -o cafile=PATH         trust these CA certificates, not the system's\n"
	       "    -o auth=MECH           plain, login, xoauth2 or oauthbearer (default: chosen)\n"
	       "    -o oauth2_tenant=T     Microsoft tenant (Office 365 token endpoint and scope)\n"
	       "    -o oauth2_token_url=URL  any other OAuth2 token endpoint\n"
	       "    -o oauth2_client_id=ID\n"
	       "    -o oauth2_client_secret_file=PATH  client-credentials grant (mode 0600)\n"
	       "    -o oauth2_client_cert=PATH,oauth2_client_key=PATH  ... with a certificate\n"
	       "    -o oauth2_refresh_token_file=PATH  refresh-token grant (rotation saved)\n"
	       "    -o oauth2_scope=SCOPE  scope asked for\n"
	       "    -o oauth2_cafile=PATH  CA certificates for the token endpoint\n"
	       "    -o token_cmd=CMD       first line of CMD's output is the access token\n"
	       "    -o tls=none            plaintext connection (tests only)\n"
	       "    -o config=PATH         key = value lines (default ~/.config/inboxfs/config)\n"
	       "    -o timeout=SECONDS     server operation timeout (default 30)\n"
	       "    -o cache_mem=SIZE      message bodies kept in memory (default 64M)\n"
	       "    -o max_message=SIZE    largest message read (default 512M)\n"
	       "    -o debug=imap,fs,auth  trace these (secrets are never shown)\n"
	       "    -o delete=trash        rm moves to the \\Trash folder (default: expunge)\n"
	       "    -o expunge=unsafe      allow a bare EXPUNGE when the server lacks UIDPLUS\n"
	       "    -o watch=FOLDER        IDLE on FOLDER (repeatable; 'all'; 'none'; default INBOX)\n"
	       "    -o idle_interval=SECS  re-issue IDLE this often (default 1500)\n"
	       "    -o idle_timeout=SECS   no word from the server this long: reconnect (300)\n"
	       "    -o poll_interval=SECS  NOOP this often without IDLE (default 60)\n"
	       "    -o reconnect_max=SECS  longest wait between reconnects (default 300)\n"
	       "    -o reconnect_tries=N   give up after N failed tries (default: never)\n"
	       "    -o ro                  read-only mount\n"
	       "    -o allow_other         let other users in (default: only you)\n"
	       "    -o allow_plaintext_auth  send credentials without TLS to a\n"
	       "                           non-loopback server (with tls=none)\n"
	       "The password may also come from INBOXFS_PASSWORD.\n\n", prog, prog);
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

/* One "key = value" line (already without its line break). */
static int config_line(char *line, const char *path, unsigned lineno, struct fuse_args *args,
		       char *err, size_t errlen)
{
	char *s = trim(line), *eq, *key, *val;

	if (*s == '\0' || *s == '#')
		return 0;
	eq = strchr(s, '=');
	if (eq)
		*eq = '\0';
	key = trim(s);
	val = eq ? trim(eq + 1) : "";
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

/* Lines are read whole (getline): a line cut at a buffer's end would make
 * the rest of a long value a line of its own, with a key of its own. */
int options_read_config(const char *path, struct fuse_args *args, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;
	int rc = 0;

	if (errlen)
		*err = '\0';
	if (!f) {
		snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (len > CONFIG_LINE_MAX) {
			snprintf(err, errlen, "%s:%u: line longer than %d bytes", path, lineno,
				 CONFIG_LINE_MAX);
			rc = -1;
		} else if (memchr(line, '\0', (size_t)len)) {
			/* C strings would silently cut the value at the NUL. */
			snprintf(err, errlen, "%s:%u: NUL byte in line", path, lineno);
			rc = -1;
		} else {
			rc = config_line(line, path, lineno, args, err, errlen);
			if (rc < 0 && !*err)
				snprintf(err, errlen, "out of memory");
		}
	}
	free(line);
	fclose(f);
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

/* First pass only to find the config file; the second pass parses the
 * config's options followed by the command line's. */
static int find_config(int argc, char **argv, char **path)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct options tmp = { 0 };
	int r = fuse_opt_parse(&args, &tmp, inboxfs_opts, opt_proc);

	*path = r == 0 && tmp.config ? strdup(tmp.config) : NULL;
	if (r == 0 && !*path)
		*path = default_config_path();
	options_free(&tmp);
	fuse_opt_free_args(&args);
	return r;
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

static int finish(struct options *o)
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
	if (check_seconds(o) < 0)
		return -1;
	o->cache_mem_bytes = 64u << 20;
	o->max_message_bytes = 512u << 20;
	if (o->cache_mem && options_parse_size(o->cache_mem, &o->cache_mem_bytes) < 0) {
		fprintf(stderr, "inboxfs: bad cache_mem size '%s'\n", o->cache_mem);
		return -1;
	}
	if (o->max_message && options_parse_size(o->max_message, &o->max_message_bytes) < 0) {
		fprintf(stderr, "inboxfs: bad max_message size '%s'\n", o->max_message);
		return -1;
	}
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

int options_parse(int argc, char **argv, struct options *o, struct fuse_args *out)
{
	char *config = NULL, err[512];
	int i;

	memset(o, 0, sizeof(*o));
	if (find_config(argc, argv, &config) != 0)
		return -1;
	if (fuse_opt_add_arg(out, argv[0]) != 0)
		goto fail;
	if (config && options_read_config(config, out, err, sizeof(err)) < 0) {
		fprintf(stderr, "inboxfs: %s\n", err);
		goto fail;
	}
	for (i = 1; i < argc; i++)
		if (fuse_opt_add_arg(out, argv[i]) != 0)
			goto fail;
	free(config);
	if (parse_pass(out, o) != 0)
		return -1;
	if (o->show_help || o->show_version)
		return 1;
	return finish(o);
fail:
	free(config);
	return -1;
}
