/* TCP transport with optional TLS (OpenSSL), bounded by timeouts.
 * Every blocking step (connect, handshake, read, write) waits at most the
 * given number of milliseconds, and net_abort() from any thread wakes a
 * blocked caller, so no caller can hang on a silent peer. */
#ifndef INBOXFS_IMAP_NET_H
#define INBOXFS_IMAP_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct net_conn;

enum net_err {
	NET_OK = 0,
	NET_ERR_RESOLVE,   /* host name did not resolve */
	NET_ERR_CONNECT,   /* refused, unreachable */
	NET_ERR_TLS,       /* handshake failed (protocol) */
	NET_ERR_VERIFY,    /* certificate or host name verification failed */
	NET_ERR_TIMEOUT,   /* no data (or no answer to connecting) within the timeout */
	NET_ERR_CLOSED,    /* peer closed the connection */
	NET_ERR_IO,        /* any other socket error */
};

struct net_tls_config {
	const char *cafile;   /* NULL: the system trust store */
	bool no_verify;       /* only ever set by tests that say so */
};

/* Connect to host:port; on failure returns NULL and fills err/errmsg. */
struct net_conn *net_connect(const char *host, unsigned port, int timeout_ms,
			     enum net_err *err, char *errmsg, size_t errlen);
/* Run the TLS client handshake over an open connection, verifying the
 * certificate chain and that it names `host`. */
enum net_err net_start_tls(struct net_conn *c, const char *host, const struct net_tls_config *tc,
			   int timeout_ms, char *errmsg, size_t errlen);
/* Read at most len bytes: >0 bytes read, or -1 with *err set. */
ssize_t net_read(struct net_conn *c, void *buf, size_t len, int timeout_ms, enum net_err *err);
enum net_err net_write_all(struct net_conn *c, const void *buf, size_t len, int timeout_ms);
/* From now on both directions are compressed (RFC 4978); `already` holds
 * bytes read past the server's OK, which are compressed already. */
int net_start_compress(struct net_conn *c, const void *already, size_t len);
/* A bulk transfer with about `bytes` still to come: wake the reader only
 * once that many (at most NET_BATCH_MAX) have arrived, not for every
 * segment (SO_RCVLOWAT).  A shortfall costs at most a 2 ms wait, after
 * which reads are unbatched again.  1: every byte at once (the default).
 * Any thread may call it; a lower mark wakes a waiting reader at once. */
#define NET_BATCH_MAX (64 * 1024)
void net_batch_reads(struct net_conn *c, size_t bytes);
bool net_is_compressed(const struct net_conn *c);
/* Wake any thread blocked on c and make further I/O fail (thread-safe). */
void net_abort(struct net_conn *c);
bool net_is_tls(const struct net_conn *c);
/* Whether the peer's address (of this very connection) is loopback:
 * 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104.  The address as text goes to
 * addr (may be NULL with addrlen 0). */
bool net_peer_is_loopback(const struct net_conn *c, char *addr, size_t addrlen);
void net_close(struct net_conn *c);
const char *net_err_name(enum net_err e);

#endif
