/* Logging in: PLAIN (RFC 4616) or LOGIN (RFC 9051 §6.2.3) with a password,
 * XOAUTH2 or OAUTHBEARER (RFC 7628) with an OAuth2 token. */
#include "fs/mail/login.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "auth/sasl.h"
#include "common/log.h"
#include "imap/commands.h"

static enum login_mech parse_mech(const char *s)
{
	if (!s)
		return MECH_AUTO;
	if (strcmp(s, "plain") == 0)
		return MECH_PLAIN;
	if (strcmp(s, "login") == 0)
		return MECH_LOGIN;
	if (strcmp(s, "xoauth2") == 0)
		return MECH_XOAUTH2;
	return MECH_OAUTHBEARER; /* options.c let nothing else through */
}

static void oauth_config(struct oauth2_config *c, const struct options *o)
{
	memset(c, 0, sizeof(*c));
	c->token_url = o->oauth2_token_url;
	c->tenant = o->oauth2_tenant;
	c->client_id = o->oauth2_client_id;
	c->client_secret_file = o->oauth2_client_secret_file;
	c->client_cert = o->oauth2_client_cert;
	c->client_key = o->oauth2_client_key;
	c->scope = o->oauth2_scope;
	c->refresh_token_file = o->oauth2_refresh_token_file;
	c->token_cmd = o->token_cmd;
	c->cafile = o->oauth2_cafile;
	c->timeout_s = o->timeout;
}

int login_init(struct login *l, const struct options *opt, const struct imap_url *url,
	       char *err, size_t errlen)
{
	struct oauth2_config oc;
	bool token_mech;

	memset(l, 0, sizeof(*l));
	l->user = url->user;
	l->host = url->host;
	l->port = url->port;
	l->mech = parse_mech(opt->auth);
	l->allow_plaintext = opt->allow_plaintext_auth;
	l->secret.file = opt->password_file;
	l->secret.cmd = opt->password_cmd;
	l->secret.env = "INBOXFS_PASSWORD";
	oauth_config(&oc, opt);
	token_mech = l->mech == MECH_XOAUTH2 || l->mech == MECH_OAUTHBEARER;
	if (!oauth2_configured(&oc)) {
		if (token_mech) {
			snprintf(err, errlen, "auth=%s needs a token source: oauth2_tenant or "
				 "oauth2_token_url with a grant, or token_cmd", opt->auth);
			return -1;
		}
		return 0;
	}
	if (l->mech == MECH_PLAIN || l->mech == MECH_LOGIN) {
		snprintf(err, errlen, "auth=%s logs in with a password, but OAuth2 options are "
			 "given: use auth=xoauth2 or auth=oauthbearer", opt->auth);
		return -1;
	}
	if (opt->password_file || opt->password_cmd) {
		snprintf(err, errlen, "both a password and OAuth2 options are given: keep one");
		return -1;
	}
	l->oauth = oauth2_new(&oc, err, errlen);
	return l->oauth ? 0 : -1;
}

int login_start(struct login *l)
{
	return l->oauth ? oauth2_start(l->oauth) : 0;
}

/* ---- passwords ------------------------------------------------------------- */

static enum imap_result password_login(struct login *l, struct imap_session *s,
				       struct imap_status *st)
{
	char err[256], *pw = secret_load(&l->secret, err, sizeof(err)), *b64;
	bool plain = l->mech == MECH_PLAIN ||
		     (l->mech == MECH_AUTO && (imap_session_caps(s) & CAP_AUTH_PLAIN));
	enum imap_result rr;

	if (!pw) {
		imap_status_set(st, IMAP_R_CREDENTIALS, "%s", err);
		return IMAP_R_CREDENTIALS;
	}
	log_add_secret(pw);
	if (plain) {
		b64 = sasl_plain(l->user, pw);
		log_add_secret(b64);
		rr = b64 ? imap_authenticate(s, "PLAIN", b64, "*", st) : IMAP_R_NOMEM;
		sasl_wipe(b64);
	} else {
		rr = imap_login(s, l->user, pw, st);
	}
	sasl_wipe(pw);
	return rr;
}

/* ---- tokens ------------------------------------------------------------------ */

static const char *token_mech(struct login *l, struct imap_session *s, struct imap_status *st)
{
	unsigned caps = imap_session_caps(s);

	if (l->mech == MECH_XOAUTH2)
		return "XOAUTH2";
	if (l->mech == MECH_OAUTHBEARER)
		return "OAUTHBEARER";
	/* The standard one where offered (Gmail offers both); Office 365
	 * offers only XOAUTH2. */
	if (caps & CAP_AUTH_OAUTHBEARER)
		return "OAUTHBEARER";
	if (caps & CAP_AUTH_XOAUTH2)
		return "XOAUTH2";
	imap_status_set(st, IMAP_R_UNSUPPORTED, "the server offers neither AUTH=OAUTHBEARER nor "
			"AUTH=XOAUTH2 (set auth= to try one anyway)");
	return NULL;
}

static enum imap_result token_attempt(struct login *l, struct imap_session *s, const char *mech,
				      const char *token, struct imap_status *st)
{
	bool xo = strcmp(mech, "XOAUTH2") == 0;
	char *b64 = xo ? sasl_xoauth2(l->user, token)
		       : sasl_oauthbearer(l->user, l->host, l->port, token);
	enum imap_result rr;

	if (!b64) {
		imap_status_set(st, IMAP_R_CREDENTIALS, "the user name cannot be sent with %s", mech);
		return IMAP_R_CREDENTIALS;
	}
	log_add_secret(b64);
	/* After a failure challenge XOAUTH2 wants an empty response and
	 * OAUTHBEARER a single ^A (RFC 7628 §3.2.3), base64 "AQ==". */
	rr = imap_authenticate(s, mech, b64, xo ? "" : "AQ==", st);
	log_forget_secret(b64);
	sasl_wipe(b64);
	return rr;
}

static enum imap_result token_login(struct login *l, struct imap_session *s,
				    struct imap_status *st)
{
	const char *mech = token_mech(l, s, st);
	enum imap_result rr = IMAP_R_CREDENTIALS;
	char err[600], *tok;
	bool fresh;

	if (!mech)
		return IMAP_R_UNSUPPORTED;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!(tok = oauth2_token(l->oauth, &fresh, err, sizeof(err)))) {
			imap_status_set(st, IMAP_R_CREDENTIALS, "%s", err);
			return IMAP_R_CREDENTIALS;
		}
		rr = token_attempt(l, s, mech, tok, st);
		if (rr == IMAP_R_LOGIN)
			oauth2_reject(l->oauth, tok);
		sasl_wipe(tok);
		if (rr != IMAP_R_LOGIN || fresh || !imap_session_usable(s))
			break;
		log_info(LOG_CAT_AUTH, "%s refused a token obtained earlier (%s); trying once more "
			 "with a new one", l->host, st->text);
	}
	return rr;
}

/* tls=none is meant for a server on this machine: a password or token sent
 * in clear to any other address could be read on the way.  Decided by the
 * address this connection actually reached, before anything secret is read
 * or sent. */
static bool plaintext_refused(struct login *l, struct imap_session *s, struct imap_status *st)
{
	char addr[64];

	if (imap_session_is_tls(s) || l->allow_plaintext ||
	    imap_session_peer_is_loopback(s, addr, sizeof(addr)))
		return false;
	imap_status_set(st, IMAP_R_TLS, "refusing to send credentials without TLS (tls=none) to "
			"%s (%s), which is not a loopback address: use TLS, or "
			"-o allow_plaintext_auth if the network is trusted", l->host, addr);
	return true;
}

enum imap_result login_run(struct login *l, struct imap_session *s, struct imap_status *st)
{
	if (plaintext_refused(l, s, st))
		return st->result;
	return l->oauth ? token_login(l, s, st) : password_login(l, s, st);
}

void login_session_ended(struct login *l, const struct imap_session *s)
{
	if (!l->oauth || !s || !strstr(imap_session_bye_text(s), "AccessTokenExpired"))
		return;
	log_info(LOG_CAT_AUTH, "%s ended a session because its access token expired", l->host);
	oauth2_expired(l->oauth, imap_session_auth_ms(s));
}

void login_free(struct login *l)
{
	oauth2_free(l->oauth);
	l->oauth = NULL;
}
