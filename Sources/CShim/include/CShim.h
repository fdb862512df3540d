#ifndef WARREN_CSHIM_H
#define WARREN_CSHIM_H
// What Swift cannot import directly: OpenSSL's function-like macros and the Linux
// syscalls Glibc's module leaves out (epoll, eventfd, accept4, packed epoll_event).
// Every function here is a thin, allocation-free wrapper; semantics are those of the
// wrapped call, errors come back through errno / the OpenSSL error queue.
#include <stdint.h>
#include <stddef.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "CShimPKI.h"

// ---- OpenSSL macros -------------------------------------------------------------
int warren_ssl_ctx_set_min_proto_tls13(SSL_CTX *ctx);
int warren_ssl_ctx_set_min_proto_tls12(SSL_CTX *ctx);
/// Partial writes, moving write buffers, release idle buffers; no renegotiation,
/// no compression, server cipher preference.
void warren_ssl_ctx_set_defaults(SSL_CTX *ctx);
int warren_ssl_ctx_set_groups(SSL_CTX *ctx, const char *groups);
void warren_ssl_ctx_disable_session_cache(SSL_CTX *ctx);
void warren_ssl_ctx_set_num_tickets0(SSL_CTX *ctx);
int warren_ssl_set_sni(SSL *ssl, const char *name);
void warren_openssl_free(void *p);
size_t warren_bio_pending(BIO *bio);
int warren_bio_shutdown_wr(BIO *bio);
/// Sets the servername callback that swaps the SSL's context on the server (SNI).
void warren_ssl_ctx_set_servername_cb(SSL_CTX *ctx, int (*cb)(SSL *, int *, void *), void *arg);

// ---- TLS (Sources/Tunnel/TLS) ----------------------------------------------------
/// SSL_CTX_add1_chain_cert: appends an intermediate to the context's chain (up-refs x509).
int warren_ssl_ctx_add1_chain_cert(SSL_CTX *ctx, X509 *x509);
/// Installs a server ALPN select callback choosing the first of the server's protocols
/// that the client offered; no overlap is a fatal no_application_protocol alert
/// (RFC 7301 §3.2). `prefixed` = a 2-byte little-endian length, then the ALPN wire list
/// (length-prefixed names, server preference order); it must outlive ctx.
void warren_ssl_ctx_set_alpn_select(SSL_CTX *ctx, const unsigned char *prefixed);
/// BIO_set_retry_read: marks a custom BIO read as "retry later" (no data yet).
void warren_bio_set_retry_read(BIO *bio);
/// BIO_clear_retry_flags.
void warren_bio_clear_retry_flags(BIO *bio);
/// The peer check (revocation) run inside certificate verification, on the leaf, after
/// the chain verified: `fn(arg, leaf)` returns 1 to accept, 0 to refuse — then the
/// verification fails with X509_V_ERR_CERT_REVOKED and OpenSSL sends the peer a
/// certificate_revoked alert. Installs `mode` with this callback (SSL_CTX_set_verify).
/// `arg` must outlive ctx. Resumed sessions skip verification: the caller re-checks those.
typedef int (*warren_peer_check_fn)(void *arg, X509 *leaf);
void warren_ssl_ctx_set_peer_check(SSL_CTX *ctx, int mode, warren_peer_check_fn fn, void *arg);
// ---- end TLS --------------------------------------------------------------------

// ---- TLS 1.3 session resumption ------------------------------------------------
/// Client: keep the newest session ticket in a one-slot cache on the SSL_CTX (so one
/// context must serve one server identity). Server: issue one stateless ticket per
/// handshake.
void warren_ssl_ctx_enable_client_resumption(SSL_CTX *ctx);
void warren_ssl_ctx_enable_server_tickets(SSL_CTX *ctx);
/// Offers the cached session (if any) on a new client SSL; returns 1 if one was offered.
int warren_ssl_offer_cached_session(SSL *ssl);

// ---- WebSocket masking (Sources/CShim/mask.c) -------------------------------------
/// RFC 6455 §5.3: XORs `bytes[0..<count]` in place with the mask `key` (network order:
/// its most significant byte is key byte 0) as if they started at payload offset
/// `offset`, so byte i gets key byte (offset + i) mod 4. AVX2 when the CPU has it.
void warren_ws_mask(uint8_t *bytes, size_t count, uint32_t key, size_t offset);

// ---- Linux syscalls -------------------------------------------------------------
int warren_epoll_create(void);
/// op: 1 add, 2 del, 3 mod; events: EPOLLIN=1, EPOLLOUT=4, EPOLLRDHUP=0x2000, EPOLLET=1u<<31.
int warren_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token);
/// Copies ready events into two parallel arrays (epoll_event is packed on x86_64).
int warren_epoll_wait(int epfd, uint64_t *tokens, uint32_t *events, int max, int timeout_ms);
/// `warren_epoll_wait` that first polls (timeout 0) for up to `spin_ns` — never past
/// `timeout_ms` — yielding the CPU between polls to any runnable thread, then blocks.
/// Polling stops early when one yield kept the caller off the CPU for more than
/// `handoff_ns` (another thread ran), and also sets `*descheduled` past `gap_ns`
/// (another thread is using this CPU for real). `*polled_ns`: time spent polling.
int warren_epoll_wait_spinning(int epfd, uint64_t *tokens, uint32_t *events, int max, int timeout_ms,
                               long spin_ns, long handoff_ns, long gap_ns, int *descheduled,
                               long *polled_ns);
/// The machine's CPU time so far from /proc/stat, in clock ticks: `busy` (user, nice,
/// system, irq, softirq, steal) and `idle` (idle, iowait). 0, or -1 if unreadable.
int warren_cpu_ticks(uint64_t *busy, uint64_t *idle);
int warren_eventfd(void);
int warren_eventfd_signal(int fd);
int warren_eventfd_drain(int fd);
int warren_accept4(int fd, void *addr, uint32_t *addrlen);
/// Steers new connections of fd's SO_REUSEPORT group to its socket number `index`.
int warren_reuseport_steer(int fd, uint32_t index);
int warren_socket_nonblocking(int domain, int type);
int warren_ignore_sigpipe(void);
int warren_errno(void);
#endif
