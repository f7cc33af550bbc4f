/* TCP + TLS transport.  RFC 8314 (implicit TLS), RFC 2595/RFC 3501 §6.2.1
 * (STARTTLS, driven from session.c), RFC 6125 (host name checks, done by
 * OpenSSL's X509_VERIFY_PARAM).  TLS 1.2 is the minimum. */
#include "imap/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/clock.h"
#include "common/log.h"
#include "imap/compress.h"

struct net_conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	struct zlayer *z;     /* COMPRESS=DEFLATE, once started */
	atomic_bool aborted;
	atomic_int lowat;     /* SO_RCVLOWAT now set (net_batch_reads) */
};

const char *net_err_name(enum net_err e)
{
	static const char *const names[] = {
		"ok", "host name did not resolve", "connection failed", "TLS handshake failed",
		"TLS verification failed", "timed out", "connection closed by server", "I/O error",
	};
	return names[e];
}

/* How long a batched read waits for its low-water mark before it takes
 * what has come: the mark is a guess from sizes the server announced. */
#define BATCH_WAIT_MS 2

void net_batch_reads(struct net_conn *c, size_t bytes)
{
	int v = bytes > NET_BATCH_MAX ? NET_BATCH_MAX : bytes < 1 ? 1 : (int)bytes;

	if (c->z)
		v = 1; /* compressed: the bytes on the wire say nothing of the sizes */
	if (atomic_exchange(&c->lowat, v) != v)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v));
}

/* Wait for `events` until the deadline.  0 ready, NET_ERR_TIMEOUT, or
 * NET_ERR_IO (aborted or poll failed). */
static enum net_err wait_fd(struct net_conn *c, short events, long long deadline)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };
	bool batched;
	int left, r;

	for (;;) {
		if (atomic_load(&c->aborted))
			return NET_ERR_IO;
		left = (int)(deadline - clock_ms());
		if (left <= 0)
			return NET_ERR_TIMEOUT;
		batched = events == POLLIN && atomic_load(&c->lowat) > 1;
		r = poll(&pfd, 1, batched && left > BATCH_WAIT_MS ? BATCH_WAIT_MS : left);
		if (r == 0 && batched) {
			/* Fewer bytes came than announced: take them, and wait for
			 * single bytes again until told otherwise. */
			net_batch_reads(c, 1);
			return NET_OK;
		}
		if (r > 0)
			return atomic_load(&c->aborted) ? NET_ERR_IO : NET_OK;
		if (r < 0 && errno != EINTR)
			return NET_ERR_IO;
	}
}

/* Dead peers that never send a FIN or RST are found by keepalive probes
 * even while we are not sending anything (IDLE). */
static void set_keepalive(int fd)
{
	int on = 1, idle = 60, intvl = 10, cnt = 6;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

static int connect_one(const struct addrinfo *ai, long long deadline, int *err_no)
{
	struct net_conn tmp = { .fd = -1 };
	socklen_t len = sizeof(*err_no);
	int fd;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		*err_no = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		*err_no = errno;
		close(fd);
		return -1;
	}
	tmp.fd = fd;
	if (wait_fd(&tmp, POLLOUT, deadline) != NET_OK) {
		*err_no = ETIMEDOUT;
		close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err_no, &len) < 0 || *err_no) {
		close(fd);
		return -1;
	}
	return fd;
}

struct net_conn *net_connect(const char *host, unsigned port, int timeout_ms,
			     enum net_err *err, char *errmsg, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res, *ai;
	long long deadline = clock_ms() + timeout_ms;
	char portstr[8];
	struct net_conn *c;
	int fd = -1, err_no = 0, r;

	snprintf(portstr, sizeof(portstr), "%u", port);
	r = getaddrinfo(host, portstr, &hints, &res);
	if (r != 0) {
		*err = NET_ERR_RESOLVE;
		snprintf(errmsg, errlen, "cannot resolve %s: %s", host, gai_strerror(r));
		return NULL;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next)
		fd = connect_one(ai, deadline, &err_no);
	freeaddrinfo(res);
	if (fd < 0) {
		*err = err_no == ETIMEDOUT ? NET_ERR_TIMEOUT : NET_ERR_CONNECT;
		snprintf(errmsg, errlen, "cannot connect to %s port %u: %s", host, port,
			 strerror(err_no ? err_no : ECONNREFUSED));
		return NULL;
	}
	set_keepalive(fd);
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		*err = NET_ERR_IO;
		snprintf(errmsg, errlen, "out of memory");
		return NULL;
	}
	c->fd = fd;
	atomic_init(&c->lowat, 1);
	*err = NET_OK;
	return c;
}

static SSL_CTX *make_ctx(const struct net_tls_config *tc, char *errmsg, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		snprintf(errmsg, errlen, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(ctx, tc->no_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	if (tc->cafile) {
		if (SSL_CTX_load_verify_locations(ctx, tc->cafile, NULL) != 1) {
			snprintf(errmsg, errlen, "cannot load CA certificates from %s", tc->cafile);
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(errmsg, errlen, "cannot load the system's CA certificates");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Name the peer we expect: an IP literal is checked against IP SANs,
 * anything else against DNS names (and sent as SNI). */
static int expect_host(SSL *ssl, const char *host)
{
	unsigned char tmp[16];
	bool is_ip = inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;

	if (is_ip)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 ? 0 : -1;
	if (SSL_set_tlsext_host_name(ssl, host) != 1)
		return -1;
	return SSL_set1_host(ssl, host) == 1 ? 0 : -1;
}

static enum net_err describe_tls_failure(struct net_conn *c, const char *host, enum net_err why,
					 char *errmsg, size_t errlen)
{
	long vr = SSL_get_verify_result(c->ssl);
	unsigned long e = ERR_peek_last_error();

	if (why == NET_ERR_TIMEOUT) {
		snprintf(errmsg, errlen, "TLS handshake timed out");
	} else if (vr == X509_V_ERR_HOSTNAME_MISMATCH || vr == X509_V_ERR_IP_ADDRESS_MISMATCH) {
		snprintf(errmsg, errlen, "TLS verification failed: the server's certificate is "
			 "not valid for '%s' (%s)", host, X509_verify_cert_error_string(vr));
		why = NET_ERR_VERIFY;
	} else if (vr != X509_V_OK) {
		snprintf(errmsg, errlen, "TLS verification failed: %s",
			 X509_verify_cert_error_string(vr));
		why = NET_ERR_VERIFY;
	} else if (e && (ERR_GET_REASON(e) == SSL_R_UNSUPPORTED_PROTOCOL ||
			 ERR_GET_REASON(e) == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION)) {
		/* The server chose TLS 1.1 or older, or (OpenSSL servers, which
		 * see our offer of 1.2 and 1.3 only) said no version fits. */
		snprintf(errmsg, errlen, "TLS handshake failed: no common protocol version "
			 "(inboxfs requires TLS 1.2 or later; the server offers only older ones)");
		why = NET_ERR_TLS;
	} else {
		snprintf(errmsg, errlen, "TLS handshake failed: %s",
			 e ? ERR_reason_error_string(e) : "connection closed");
		why = NET_ERR_TLS;
	}
	ERR_clear_error();
	return why;
}

enum net_err net_start_tls(struct net_conn *c, const char *host, const struct net_tls_config *tc,
			   int timeout_ms, char *errmsg, size_t errlen)
{
	long long deadline = clock_ms() + timeout_ms;
	enum net_err w;
	int r;

	c->ctx = make_ctx(tc, errmsg, errlen);
	if (!c->ctx)
		return NET_ERR_TLS;
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || expect_host(c->ssl, host) < 0) {
		snprintf(errmsg, errlen, "cannot set up TLS for %s", host);
		return NET_ERR_TLS;
	}
	/* Read whole socket buffers, not each record's header and body in
	 * two syscalls: a bulk fetch is thousands of records.  Nothing else
	 * polls this socket, and tls_read polls only on WANT_READ, so bytes
	 * held in OpenSSL's buffer are never waited for. */
	SSL_set_read_ahead(c->ssl, 1);
	for (;;) {
		ERR_clear_error();
		r = SSL_connect(c->ssl);
		if (r == 1)
			break;
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_READ:
			w = wait_fd(c, POLLIN, deadline);
			break;
		case SSL_ERROR_WANT_WRITE:
			w = wait_fd(c, POLLOUT, deadline);
			break;
		default:
			w = NET_ERR_TLS;
			break;
		}
		if (w != NET_OK)
			return describe_tls_failure(c, host, w, errmsg, errlen);
	}
	log_debug(LOG_CAT_IMAP, "TLS established: %s, %s", SSL_get_version(c->ssl),
		  SSL_get_cipher_name(c->ssl));
	return NET_OK;
}

static ssize_t tls_read(struct net_conn *c, void *buf, size_t len, long long deadline,
			enum net_err *err)
{
	int r;

	for (;;) {
		ERR_clear_error();
		r = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
		if (r > 0)
			return r;
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_READ:
			*err = wait_fd(c, POLLIN, deadline);
			break;
		case SSL_ERROR_WANT_WRITE:
			*err = wait_fd(c, POLLOUT, deadline);
			break;
		case SSL_ERROR_ZERO_RETURN:
			*err = NET_ERR_CLOSED;
			break;
		case SSL_ERROR_SYSCALL:
			*err = errno == 0 || errno == ECONNRESET ? NET_ERR_CLOSED : NET_ERR_IO;
			break;
		default:
			*err = NET_ERR_IO;
			break;
		}
		if (*err != NET_OK)
			return -1;
	}
}

static ssize_t plain_read(struct net_conn *c, void *buf, size_t len, long long deadline,
			  enum net_err *err)
{
	ssize_t r;

	for (;;) {
		r = recv(c->fd, buf, len, 0);
		if (r > 0)
			return r;
		if (r == 0) {
			*err = NET_ERR_CLOSED;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			*err = errno == ECONNRESET ? NET_ERR_CLOSED : NET_ERR_IO;
			return -1;
		}
		*err = wait_fd(c, POLLIN, deadline);
		if (*err != NET_OK)
			return -1;
	}
}

static ssize_t raw_read(struct net_conn *c, void *buf, size_t len, long long deadline,
			enum net_err *err)
{
	return c->ssl ? tls_read(c, buf, len, deadline, err) : plain_read(c, buf, len, deadline, err);
}

/* Inflate what has come; read more only when nothing is left to inflate. */
static ssize_t z_read(struct net_conn *c, void *buf, size_t len, long long deadline,
		      enum net_err *err)
{
	char raw[16384];
	ssize_t n;
	long got;

	for (;;) {
		got = zlayer_inflate(c->z, buf, len);
		if (got > 0)
			return got;
		if (got < 0) {
			log_warn(LOG_CAT_IMAP, "the server's compressed stream is corrupt");
			*err = NET_ERR_IO;
			return -1;
		}
		n = raw_read(c, raw, sizeof(raw), deadline, err);
		if (n < 0)
			return -1;
		if (zlayer_feed(c->z, raw, (size_t)n) < 0) {
			*err = NET_ERR_IO;
			return -1;
		}
	}
}

ssize_t net_read(struct net_conn *c, void *buf, size_t len, int timeout_ms, enum net_err *err)
{
	long long deadline = clock_ms() + timeout_ms;

	*err = NET_OK;
	if (atomic_load(&c->aborted)) {
		*err = NET_ERR_IO;
		return -1;
	}
	return c->z ? z_read(c, buf, len, deadline, err) : raw_read(c, buf, len, deadline, err);
}

int net_start_compress(struct net_conn *c, const void *already, size_t len)
{
	if (!(c->z = zlayer_new()))
		return -1;
	return len ? zlayer_feed(c->z, already, len) : 0;
}

bool net_is_compressed(const struct net_conn *c) { return c->z != NULL; }

static enum net_err write_some(struct net_conn *c, const char *p, size_t len, size_t *done,
			       long long deadline)
{
	ssize_t r;
	int e;

	if (c->ssl) {
		ERR_clear_error();
		r = SSL_write(c->ssl, p, len > INT32_MAX ? INT32_MAX : (int)len);
		if (r > 0) {
			*done = (size_t)r;
			return NET_OK;
		}
		e = SSL_get_error(c->ssl, (int)r);
		if (e == SSL_ERROR_WANT_WRITE)
			return wait_fd(c, POLLOUT, deadline);
		if (e == SSL_ERROR_WANT_READ)
			return wait_fd(c, POLLIN, deadline);
		return NET_ERR_IO;
	}
	r = send(c->fd, p, len, MSG_NOSIGNAL);
	if (r >= 0) {
		*done = (size_t)r;
		return NET_OK;
	}
	if (errno == EINTR)
		return NET_OK;
	if (errno == EAGAIN)
		return wait_fd(c, POLLOUT, deadline);
	return errno == EPIPE || errno == ECONNRESET ? NET_ERR_CLOSED : NET_ERR_IO;
}

enum net_err net_write_all(struct net_conn *c, const void *buf, size_t len, int timeout_ms)
{
	long long deadline = clock_ms() + timeout_ms;
	const char *p = buf;
	enum net_err e;
	size_t done;

	if (c->z && len && zlayer_deflate(c->z, buf, len, &p, &len) < 0)
		return NET_ERR_IO;
	while (len > 0) {
		if (atomic_load(&c->aborted))
			return NET_ERR_IO;
		done = 0;
		e = write_some(c, p, len, &done, deadline);
		if (e != NET_OK)
			return e;
		p += done;
		len -= done;
	}
	return NET_OK;
}

void net_abort(struct net_conn *c)
{
	atomic_store(&c->aborted, true);
	shutdown(c->fd, SHUT_RDWR);
}

bool net_is_tls(const struct net_conn *c) { return c->ssl != NULL; }

/* The address actually connected to decides, not the name given: a name
 * may resolve to anything. */
bool net_peer_is_loopback(const struct net_conn *c, char *addr, size_t addrlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)&ss;
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&ss;
	const unsigned char *b;

	if (addrlen)
		snprintf(addr, addrlen, "?");
	if (getpeername(c->fd, (struct sockaddr *)&ss, &len) < 0)
		return false;
	if (ss.ss_family == AF_INET) {
		if (addrlen)
			inet_ntop(AF_INET, &v4->sin_addr, addr, (socklen_t)addrlen);
		return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss.ss_family != AF_INET6)
		return false;
	if (addrlen)
		inet_ntop(AF_INET6, &v6->sin6_addr, addr, (socklen_t)addrlen);
	if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr))
		return true;
	/* ::ffff:127.x.y.z is IPv4 loopback seen through an IPv6 socket. */
	b = v6->sin6_addr.s6_addr;
	return IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && b[12] == 127;
}

void net_close(struct net_conn *c)
{
	if (!c)
		return;
	if (c->ssl) {
		/* A best-effort close_notify; never wait for the peer's. */
		if (!atomic_load(&c->aborted))
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	zlayer_free(c->z);
	close(c->fd);
	free(c);
}
