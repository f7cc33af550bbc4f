/* OAuth2 access tokens: RFC 6749 §4.4 (client credentials), §6 (refresh
 * token), RFC 7523 (JWT client assertion); Microsoft identity platform's
 * token endpoint conventions (tenant URL, /.default scope, AADSTS errors). */
#include "auth/oauth2.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/http.h"
#include "auth/jwt.h"
#include "auth/sasl.h"
#include "auth/secret.h"
#include "auth/token_response.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/thread.h"

#define MS_TENANT_URL "https://login.microsoftonline.com/%s/oauth2/v2.0/token"
#define MS_IMAP_SCOPE "https://outlook.office365.com/.default"
#define ASSERTION_LIFETIME_S 600
#define UNKNOWN_LIFETIME_MS (3600LL * 1000)  /* no expires_in: RFC 6749 leaves it open */
#define MAX_MARGIN_MS (300LL * 1000)
#define RETRY_MAX_MS (60LL * 1000)

enum grant { GRANT_SECRET, GRANT_CERT, GRANT_REFRESH, GRANT_CMD };

static const char *const grant_names[] = {
	"client credentials (secret)", "client credentials (certificate)", "refresh token",
	"token_cmd",
};

struct oauth2 {
	struct oauth2_config cfg;
	char *token_url, *scope;
	enum grant grant;

	pthread_mutex_t lock;
	pthread_cond_t cond;        /* fetch finished, token dropped, stop */
	char *token;                /* the cached access token */
	long long renew_ms, expires_ms; /* monotonic */
	long long obtained_ms;
	bool fetching;
	char *refresh_mem;          /* a rotated refresh token the file did not take */
	unsigned obtained;

	pthread_t thread;
	bool started, stop;
	unsigned renew_failures;
	long long retry_ms;
};

bool oauth2_configured(const struct oauth2_config *c)
{
	return c->token_url || c->tenant || c->token_cmd || c->refresh_token_file ||
	       c->client_secret_file || c->client_cert;
}

/* ---- configuration --------------------------------------------------------- */

static bool valid_tenant(const char *t)
{
	if (!*t || strlen(t) > 128)
		return false;
	for (; *t; t++)
		if (!isalnum((unsigned char)*t) && *t != '.' && *t != '-')
			return false;
	return true;
}

static int pick_grant(const struct oauth2_config *c, enum grant *g, char *err, size_t errlen)
{
	if (c->token_cmd) {
		if (c->token_url || c->tenant || c->refresh_token_file || c->client_secret_file ||
		    c->client_cert) {
			snprintf(err, errlen, "token_cmd gets tokens by itself: drop the oauth2_* "
				 "grant options, or token_cmd");
			return -1;
		}
		*g = GRANT_CMD;
		return 0;
	}
	if (!c->token_url == !c->tenant) {
		snprintf(err, errlen, "OAuth2 needs exactly one of oauth2_token_url and oauth2_tenant");
		return -1;
	}
	if (!c->client_id) {
		snprintf(err, errlen, "OAuth2 needs oauth2_client_id");
		return -1;
	}
	if (!c->client_cert != !c->client_key) {
		snprintf(err, errlen, "oauth2_client_cert and oauth2_client_key go together");
		return -1;
	}
	if (c->refresh_token_file)
		*g = GRANT_REFRESH;
	else if (c->client_cert)
		*g = GRANT_CERT;
	else if (c->client_secret_file)
		*g = GRANT_SECRET;
	else {
		snprintf(err, errlen, "OAuth2 needs a grant: oauth2_client_secret_file, "
			 "oauth2_client_cert + oauth2_client_key, oauth2_refresh_token_file or "
			 "token_cmd");
		return -1;
	}
	return 0;
}

static int set_endpoint(struct oauth2 *o, char *err, size_t errlen)
{
	const struct oauth2_config *c = &o->cfg;

	if (o->grant == GRANT_CMD)
		return 0;
	if (c->tenant) {
		if (!valid_tenant(c->tenant)) {
			snprintf(err, errlen, "oauth2_tenant must be a tenant id or domain name");
			return -1;
		}
		if (asprintf(&o->token_url, MS_TENANT_URL, c->tenant) < 0)
			o->token_url = NULL;
	} else if (strncasecmp(c->token_url, "https://", 8) != 0) {
		snprintf(err, errlen, "oauth2_token_url must be an https:// URL");
		return -1;
	} else {
		o->token_url = strdup(c->token_url);
	}
	if (c->scope)
		o->scope = strdup(c->scope);
	else if (c->tenant)
		o->scope = strdup(MS_IMAP_SCOPE);
	if (!o->token_url || ((c->scope || c->tenant) && !o->scope)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Read what a grant needs once at mount time, so that a missing or
 * world-readable file is reported before anything is mounted. */
static int check_files(struct oauth2 *o, char *err, size_t errlen)
{
	const struct oauth2_config *c = &o->cfg;
	char *s = NULL;

	if (c->client_secret_file) {
		if (!(s = secret_first_line(c->client_secret_file, "oauth2_client_secret_file",
					    err, errlen)))
			return -1;
		log_add_secret(s);
		sasl_wipe(s);
	}
	if (c->refresh_token_file) {
		if (!(s = secret_first_line(c->refresh_token_file, "oauth2_refresh_token_file",
					    err, errlen)))
			return -1;
		log_add_secret(s);
		sasl_wipe(s);
	}
	if (o->grant == GRANT_CERT) {
		s = jwt_client_assertion(c->client_cert, c->client_key, c->client_id,
					 o->token_url, time(NULL), ASSERTION_LIFETIME_S, err, errlen);
		if (!s)
			return -1;
		sasl_wipe(s);
	}
	return 0;
}

struct oauth2 *oauth2_new(const struct oauth2_config *cfg, char *err, size_t errlen)
{
	struct oauth2 *o = calloc(1, sizeof(*o));
	pthread_condattr_t ca;

	if (!o) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	o->cfg = *cfg;
	if (!o->cfg.timeout_s)
		o->cfg.timeout_s = 30;
	pthread_mutex_init(&o->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&o->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pick_grant(cfg, &o->grant, err, errlen) < 0 || set_endpoint(o, err, errlen) < 0 ||
	    check_files(o, err, errlen) < 0) {
		oauth2_free(o);
		return NULL;
	}
	log_debug(LOG_CAT_AUTH, "oauth2: %s%s%s", grant_names[o->grant],
		  o->token_url ? " from " : "", o->token_url ? o->token_url : "");
	return o;
}

/* ---- one token request ------------------------------------------------------ */

static char *current_refresh_token(struct oauth2 *o, char *err, size_t errlen)
{
	char *rt;

	pthread_mutex_lock(&o->lock);
	rt = o->refresh_mem ? strdup(o->refresh_mem) : NULL;
	pthread_mutex_unlock(&o->lock);
	if (rt)
		return rt;
	/* Read every time: a user who authorises again edits the file. */
	return secret_first_line(o->cfg.refresh_token_file, "oauth2_refresh_token_file",
				 err, errlen);
}

/* The form of the grant; credentials in it are registered as secrets. */
static char *build_form(struct oauth2 *o, char *err, size_t errlen)
{
	const struct oauth2_config *c = &o->cfg;
	char *form = NULL, *v = NULL;
	int bad = 0;

	if (o->grant == GRANT_REFRESH) {
		if (!(v = current_refresh_token(o, err, errlen)))
			return NULL;
		bad |= http_form_add(&form, "grant_type", "refresh_token");
		bad |= http_form_add(&form, "refresh_token", v);
	} else {
		bad |= http_form_add(&form, "grant_type", "client_credentials");
	}
	log_add_secret(v);
	sasl_wipe(v);
	v = NULL;
	bad |= http_form_add(&form, "client_id", c->client_id);
	if (o->grant == GRANT_CERT) {
		v = jwt_client_assertion(c->client_cert, c->client_key, c->client_id, o->token_url,
					 time(NULL), ASSERTION_LIFETIME_S, err, errlen);
		if (!v) {
			sasl_wipe(form);
			return NULL;
		}
		bad |= http_form_add(&form, "client_assertion_type",
				     "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
		bad |= http_form_add(&form, "client_assertion", v);
	} else if (c->client_secret_file) {
		v = secret_first_line(c->client_secret_file, "oauth2_client_secret_file", err, errlen);
		if (!v) {
			sasl_wipe(form);
			return NULL;
		}
		bad |= http_form_add(&form, "client_secret", v);
	}
	log_add_secret(v);
	sasl_wipe(v);
	if (o->scope)
		bad |= http_form_add(&form, "scope", o->scope);
	if (bad) {
		sasl_wipe(form);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return form;
}

static void store_rotated(struct oauth2 *o, const char *rt)
{
	char err[300];

	log_add_secret(rt);
	if (secret_replace_file(o->cfg.refresh_token_file, "oauth2_refresh_token_file", rt,
				err, sizeof(err)) == 0) {
		log_info(LOG_CAT_AUTH, "oauth2: the endpoint rotated the refresh token; saved to %s",
			 o->cfg.refresh_token_file);
		pthread_mutex_lock(&o->lock);
		sasl_wipe(o->refresh_mem);
		o->refresh_mem = NULL;
		pthread_mutex_unlock(&o->lock);
		return;
	}
	/* Keep it in memory: the old one may no longer be accepted. */
	log_err(LOG_CAT_AUTH, "oauth2: cannot save the rotated refresh token: %s", err);
	pthread_mutex_lock(&o->lock);
	sasl_wipe(o->refresh_mem);
	o->refresh_mem = strdup(rt);
	pthread_mutex_unlock(&o->lock);
}

static int request_token(struct oauth2 *o, struct token_response *tr, char *err, size_t errlen)
{
	char why[400];
	struct http_reply rep;
	char *form = build_form(o, err, errlen);
	int rc;

	if (!form)
		return -1;
	log_debug(LOG_CAT_AUTH, "oauth2: POST %s (%s)", o->token_url, grant_names[o->grant]);
	rc = http_post_form(o->token_url, form, o->cfg.cafile, o->cfg.timeout_s, &rep,
			    why, sizeof(why));
	sasl_wipe(form);
	if (rc < 0) {
		snprintf(err, errlen, "token request to %s failed: %s", o->token_url, why);
		return -1;
	}
	rc = token_response_parse(rep.status, rep.content_type, rep.body, rep.len, tr,
				  why, sizeof(why));
	http_reply_free(&rep);
	if (rc < 0) {
		snprintf(err, errlen, "token endpoint %s: %s", o->token_url, why);
		return -1;
	}
	log_add_secret(tr->access_token);
	if (tr->refresh_token && o->grant == GRANT_REFRESH)
		store_rotated(o, tr->refresh_token);
	return 0;
}

static char *run_token_cmd(struct oauth2 *o, char *err, size_t errlen)
{
	char why[300], *t = secret_from_cmd(o->cfg.token_cmd, why, sizeof(why));

	if (!t) {
		snprintf(err, errlen, "token_cmd: %s", why);
		return NULL;
	}
	log_add_secret(t);
	if (!sasl_is_bearer_token(t)) {
		snprintf(err, errlen, "token_cmd printed something that is not an access token");
		sasl_wipe(t);
		return NULL;
	}
	return t;
}

/* ---- the cache ---------------------------------------------------------------- */

/* Under lock: take a fetched token. */
static void install(struct oauth2 *o, struct token_response *tr, long long asked_ms)
{
	long long life = tr->expires_in > 0 ? tr->expires_in * 1000LL : UNKNOWN_LIFETIME_MS;
	long long margin = life / 4 < MAX_MARGIN_MS ? life / 4 : MAX_MARGIN_MS;

	sasl_wipe(o->token);
	o->token = tr->access_token;
	tr->access_token = NULL;
	/* Counted from when it was asked for: never later than the endpoint's clock. */
	o->obtained_ms = clock_ms();
	o->expires_ms = asked_ms + life;
	o->renew_ms = asked_ms + life - margin;
	o->obtained++;
	o->renew_failures = 0;
	o->retry_ms = 0;
	pthread_cond_broadcast(&o->cond);
}

/* Under lock, returns under lock: one fetch at a time; others wait. */
static int fetch_locked(struct oauth2 *o, char *err, size_t errlen)
{
	struct token_response tr;
	long long asked = clock_ms();
	int rc;

	o->fetching = true;
	pthread_mutex_unlock(&o->lock);
	rc = request_token(o, &tr, err, errlen);
	pthread_mutex_lock(&o->lock);
	o->fetching = false;
	if (rc == 0) {
		install(o, &tr, asked);
		token_response_free(&tr);
		log_info(LOG_CAT_AUTH, "oauth2: got an access token (%s), valid %lld s",
			 grant_names[o->grant], (o->expires_ms - asked) / 1000);
	}
	pthread_cond_broadcast(&o->cond);
	return rc;
}

static bool usable_locked(struct oauth2 *o, long long now)
{
	return o->token && now < o->expires_ms;
}

char *oauth2_token(struct oauth2 *o, bool *fresh, char *err, size_t errlen)
{
	char *t = NULL;
	long long now;

	*fresh = false;
	if (o->grant == GRANT_CMD) /* the command keeps its own cache */
		return run_token_cmd(o, err, errlen);
	pthread_mutex_lock(&o->lock);
	for (;;) {
		now = clock_ms();
		if (o->token && now < o->renew_ms)
			break;
		if (o->fetching) {
			if (usable_locked(o, now))
				break; /* renewal under way; this one still works */
			pthread_cond_wait(&o->cond, &o->lock);
			continue;
		}
		if (fetch_locked(o, err, errlen) == 0) {
			*fresh = true;
			break;
		}
		if (!usable_locked(o, clock_ms())) {
			pthread_mutex_unlock(&o->lock);
			return NULL;
		}
		log_warn(LOG_CAT_AUTH, "oauth2: %s; using the current token while it lasts", err);
		break;
	}
	t = strdup(o->token);
	pthread_mutex_unlock(&o->lock);
	if (!t)
		snprintf(err, errlen, "out of memory");
	return t;
}

void oauth2_reject(struct oauth2 *o, const char *token)
{
	if (o->grant == GRANT_CMD || !token)
		return;
	pthread_mutex_lock(&o->lock);
	if (o->token && strcmp(o->token, token) == 0) {
		log_info(LOG_CAT_AUTH, "oauth2: the server refused the access token; "
			 "a new one will be requested");
		sasl_wipe(o->token);
		o->token = NULL;
		pthread_cond_broadcast(&o->cond);
	}
	pthread_mutex_unlock(&o->lock);
}

void oauth2_expired(struct oauth2 *o, long long since_ms)
{
	pthread_mutex_lock(&o->lock);
	if (o->token && o->obtained_ms <= since_ms) {
		sasl_wipe(o->token);
		o->token = NULL;
		pthread_cond_broadcast(&o->cond);
	}
	pthread_mutex_unlock(&o->lock);
}

void oauth2_stats(struct oauth2 *o, long *left_s, unsigned *obtained)
{
	pthread_mutex_lock(&o->lock);
	*left_s = o->token ? (long)((o->expires_ms - clock_ms()) / 1000) : -1;
	*obtained = o->obtained;
	pthread_mutex_unlock(&o->lock);
}

/* ---- renewing in the background ---------------------------------------------- */

static void wait_until(struct oauth2 *o, long long when_ms)
{
	struct timespec ts;

	if (when_ms <= 0) {
		pthread_cond_wait(&o->cond, &o->lock);
		return;
	}
	ts.tv_sec = (time_t)(when_ms / 1000);
	ts.tv_nsec = (long)(when_ms % 1000) * 1000000L;
	pthread_cond_timedwait(&o->cond, &o->lock, &ts);
}

static void renew_failed(struct oauth2 *o, const char *err)
{
	long long now = clock_ms(), wait = 1000LL << (o->renew_failures < 6 ? o->renew_failures : 6);

	o->renew_failures++;
	if (wait > RETRY_MAX_MS)
		wait = RETRY_MAX_MS;
	if (!usable_locked(o, now)) {
		/* Expired: the next login asks for a token itself. */
		log_err(LOG_CAT_AUTH, "oauth2: cannot renew the access token: %s", err);
		sasl_wipe(o->token);
		o->token = NULL;
		return;
	}
	log_warn(LOG_CAT_AUTH, "oauth2: cannot renew the access token: %s; trying again in "
		 "%lld s", err, wait / 1000);
	o->retry_ms = now + wait;
}

static void *renewer(void *arg)
{
	struct oauth2 *o = arg;
	char err[512];
	long long due;

	pthread_setname_np(pthread_self(), "ibx-oauth2"); /* named in top, gdb, perf */
	pthread_mutex_lock(&o->lock);
	while (!o->stop) {
		due = o->retry_ms > o->renew_ms ? o->retry_ms : o->renew_ms;
		if (!o->token || o->fetching) {
			wait_until(o, 0);
			continue;
		}
		if (clock_ms() < due) {
			wait_until(o, due);
			continue;
		}
		if (fetch_locked(o, err, sizeof(err)) < 0)
			renew_failed(o, err);
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

int oauth2_start(struct oauth2 *o)
{
	if (o->grant == GRANT_CMD || o->started)
		return 0;
	if (thread_start(&o->thread, renewer, o) != 0)
		return -1;
	o->started = true;
	return 0;
}

void oauth2_free(struct oauth2 *o)
{
	if (!o)
		return;
	if (o->started) {
		pthread_mutex_lock(&o->lock);
		o->stop = true;
		pthread_cond_broadcast(&o->cond);
		pthread_mutex_unlock(&o->lock);
		pthread_join(o->thread, NULL);
	}
	sasl_wipe(o->token);
	sasl_wipe(o->refresh_mem);
	free(o->token_url);
	free(o->scope);
	pthread_cond_destroy(&o->cond);
	pthread_mutex_destroy(&o->lock);
	free(o);
}
