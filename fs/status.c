#include "fs/status.h"

#include <stdatomic.h>
#include <time.h>

#include "common/buf.h"
#include "fs/mail/account.h"
#include "fs/mail/diskcache.h"
#include "fs/mail/watch.h"

/* The file system's own connection. */
static void describe_worker(struct account *a, struct buf *b)
{
	long long quiet = -1, wait;
	bool up;

	pthread_mutex_lock(&a->conn_lock);
	up = a->session && imap_session_usable(a->session);
	if (a->session)
		quiet = imap_session_quiet_ms(a->session);
	pthread_mutex_unlock(&a->conn_lock);
	wait = conn_wait_ms(&a->conn);
	if (up)
		buf_printf(b, "connection: connected\n");
	else if (conn_gave_up(&a->conn))
		buf_printf(b, "connection: given up (reconnect_tries)\n");
	else if (wait > 0)
		buf_printf(b, "connection: disconnected, next try in %lld s\n", (wait + 999) / 1000);
	else
		buf_printf(b, "connection: disconnected, connects when needed\n");
	if (quiet >= 0)
		buf_printf(b, "last_contact: %lld s ago\n", quiet / 1000);
	buf_printf(b, "connections: %u\n", a->conn.connects);
	buf_printf(b, "last_error: %s\n", a->conn.last_error[0] ? a->conn.last_error : "none");
}

static void describe_caches(struct account *a, struct buf *b)
{
	long left;
	unsigned got;

	buf_printf(b, "readers: %u\n", a->budget.readers);
	buf_printf(b, "connections_open: %u of max_connections %u (worker 1, readers %u, idle %zu, "
		   "poll %d)%s\n", atomic_load(&a->conns_open), atomic_load(&a->conns_limit),
		   a->budget.readers, a->budget.idle, a->budget.poller ? 1 : 0,
		   atomic_load(&a->conns_limit) < a->budget.max ? ": lowered to the server's limit" :
		   "");
	if (a->disk)
		buf_printf(b, "disk_cache: %zu of %zu bytes\n", diskcache_used(a->disk),
			   a->opt->cache_disk_bytes);
	else
		buf_printf(b, "disk_cache: off\n");
	if (a->login.oauth) {
		oauth2_stats(a->login.oauth, &left, &got);
		buf_printf(b, "oauth2: %u tokens obtained, current one valid %ld s more\n", got, left);
	}
}

char *status_text(struct account *a, size_t *len)
{
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "server: %s://%s@%s:%u\n", a->url.implicit_tls ? "imaps" : "imap",
		   a->url.user, a->url.host, a->url.port);
	describe_worker(a, &b);
	describe_caches(a, &b);
	watchers_describe(a->watchers, &b);
	return buf_steal(&b, len);
}
