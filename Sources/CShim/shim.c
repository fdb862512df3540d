#define _GNU_SOURCE
#include "CShim.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <linux/filter.h>
#include <unistd.h>

int warren_ssl_ctx_set_min_proto_tls13(SSL_CTX *ctx) { return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION); }
int warren_ssl_ctx_set_min_proto_tls12(SSL_CTX *ctx) { return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION); }

void warren_ssl_ctx_set_defaults(SSL_CTX *ctx) {
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
}
int warren_ssl_ctx_set_groups(SSL_CTX *ctx, const char *groups) { return (int)SSL_CTX_set1_groups_list(ctx, groups); }
void warren_ssl_ctx_disable_session_cache(SSL_CTX *ctx) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
}
void warren_ssl_ctx_set_num_tickets0(SSL_CTX *ctx) { SSL_CTX_set_num_tickets(ctx, 0); }
int warren_ssl_set_sni(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }
void warren_openssl_free(void *p) { OPENSSL_free(p); }
size_t warren_bio_pending(BIO *bio) { return (size_t)BIO_pending(bio); }
int warren_bio_shutdown_wr(BIO *bio) { return (int)BIO_shutdown_wr(bio); }
void warren_ssl_ctx_set_servername_cb(SSL_CTX *ctx, int (*cb)(SSL *, int *, void *), void *arg) {
    SSL_CTX_set_tlsext_servername_callback(ctx, cb);
    SSL_CTX_set_tlsext_servername_arg(ctx, arg);
}

// ---- TLS (Sources/Tunnel/TLS) ----------------------------------------------------
int warren_ssl_ctx_add1_chain_cert(SSL_CTX *ctx, X509 *x509) { return (int)SSL_CTX_add1_chain_cert(ctx, x509); }

static int warren_alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                                 const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl;
    const unsigned char *protos = (const unsigned char *)arg;
    unsigned int length = protos[0] | ((unsigned int)protos[1] << 8);
    unsigned char *selected = NULL;
    if (SSL_select_next_proto(&selected, outlen, protos + 2, length, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}
void warren_ssl_ctx_set_alpn_select(SSL_CTX *ctx, const unsigned char *prefixed) {
    SSL_CTX_set_alpn_select_cb(ctx, warren_alpn_select_cb, (void *)prefixed);
}
struct warren_peer_check {
    warren_peer_check_fn fn;
    void *arg;
};
static pthread_once_t warren_peer_check_once = PTHREAD_ONCE_INIT;
static int warren_peer_check_index = -1;
static void warren_peer_check_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
    (void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
    free(ptr);
}
static void warren_peer_check_init(void) {
    warren_peer_check_index = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL_CTX, 0, NULL, NULL, NULL, warren_peer_check_free);
}
static int warren_verify_cb(int ok, X509_STORE_CTX *store) {
    if (!ok || X509_STORE_CTX_get_error_depth(store) != 0) return ok;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    if (!ssl) return ok;
    struct warren_peer_check *check = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), warren_peer_check_index);
    X509 *leaf = X509_STORE_CTX_get_current_cert(store);
    if (check && leaf && !check->fn(check->arg, leaf)) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REVOKED);
        return 0;
    }
    return ok;
}
void warren_ssl_ctx_set_peer_check(SSL_CTX *ctx, int mode, warren_peer_check_fn fn, void *arg) {
    pthread_once(&warren_peer_check_once, warren_peer_check_init);
    struct warren_peer_check *check = malloc(sizeof *check);
    if (check) {
        check->fn = fn;
        check->arg = arg;
        if (SSL_CTX_set_ex_data(ctx, warren_peer_check_index, check) != 1) free(check);
    }
    SSL_CTX_set_verify(ctx, mode, warren_verify_cb);
}
void warren_bio_set_retry_read(BIO *bio) { BIO_set_retry_read(bio); }
void warren_bio_clear_retry_flags(BIO *bio) { BIO_clear_retry_flags(bio); }
// ---- end TLS --------------------------------------------------------------------

static pthread_once_t warren_session_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t warren_session_lock = PTHREAD_MUTEX_INITIALIZER;
static int warren_session_index = -1;

static void warren_session_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
    (void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
    if (ptr) SSL_SESSION_free((SSL_SESSION *)ptr);
}
static void warren_session_init(void) {
    warren_session_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, warren_session_free);
}
static int warren_new_session(SSL *ssl, SSL_SESSION *session) {
    SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
    pthread_mutex_lock(&warren_session_lock);
    SSL_SESSION *old = SSL_CTX_get_ex_data(ctx, warren_session_index);
    SSL_CTX_set_ex_data(ctx, warren_session_index, session);
    pthread_mutex_unlock(&warren_session_lock);
    if (old) SSL_SESSION_free(old);
    return 1; /* we keep the reference OpenSSL handed us */
}
void warren_ssl_ctx_enable_client_resumption(SSL_CTX *ctx) {
    pthread_once(&warren_session_once, warren_session_init);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_sess_set_new_cb(ctx, warren_new_session);
}
void warren_ssl_ctx_enable_server_tickets(SSL_CTX *ctx) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 1);
    /* Required with SSL_VERIFY_PEER, or OpenSSL fails every resumption attempt. */
    static const unsigned char context[] = "warren";
    SSL_CTX_set_session_id_context(ctx, context, sizeof context - 1);
}
int warren_ssl_offer_cached_session(SSL *ssl) {
    if (warren_session_index < 0) return 0;
    SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
    int offered = 0;
    pthread_mutex_lock(&warren_session_lock);
    SSL_SESSION *session = SSL_CTX_get_ex_data(ctx, warren_session_index);
    if (session && SSL_SESSION_is_resumable(session)) offered = SSL_set_session(ssl, session);
    pthread_mutex_unlock(&warren_session_lock);
    return offered;
}

int warren_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }
int warren_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = token;
    int cop = op == 1 ? EPOLL_CTL_ADD : op == 2 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    return epoll_ctl(epfd, cop, fd, &ev);
}
int warren_epoll_wait(int epfd, uint64_t *tokens, uint32_t *events, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) { tokens[i] = evs[i].data.u64; events[i] = evs[i].events; }
    return n;
}
static long warren_now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1000000000L + now.tv_nsec;
}

int warren_epoll_wait_spinning(int epfd, uint64_t *tokens, uint32_t *events, int max, int timeout_ms,
                               long spin_ns, long handoff_ns, long gap_ns, int *descheduled,
                               long *polled_ns) {
    *descheduled = 0;
    *polled_ns = 0;
    if (timeout_ms >= 0 && spin_ns > (long)timeout_ms * 1000000L) spin_ns = (long)timeout_ms * 1000000L;
    if (spin_ns > 0) {
        long start = warren_now_ns(), last = start, now = start;
        for (;;) {
            int n = warren_epoll_wait(epfd, tokens, events, max, 0);
            if (n != 0) {
                *polled_ns = warren_now_ns() - start;
                return n;
            }
            /* Whatever else is runnable on this CPU goes first: the poll only uses time
               that would otherwise be idle. */
            sched_yield();
            now = warren_now_ns();
            if (now - start >= spin_ns) break;
            /* Off the CPU for longer than a peer's turn: something else wants it, and a
               poller queued behind it answers later than a sleeper woken for the event. */
            if (now - last > gap_ns) {
                *descheduled = 1;
                break;
            }
            /* The yield ran another thread: this CPU has other work and will not halt,
               so polling on would only add switches to a busy machine. */
            if (now - last > handoff_ns) break;
            last = now;
        }
        *polled_ns = now - start;
    }
    return warren_epoll_wait(epfd, tokens, events, max, timeout_ms);
}
int warren_cpu_ticks(uint64_t *busy, uint64_t *idle) {
    char text[512];
    int fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return -1;
    text[n] = 0;
    unsigned long long v[8] = {0};
    /* cpu  user nice system idle iowait irq softirq steal */
    if (sscanf(text, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
               &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 4) return -1;
    *idle = v[3] + v[4];
    *busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return 0;
}
int warren_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
int warren_eventfd_signal(int fd) { uint64_t one = 1; return (int)write(fd, &one, sizeof one); }
int warren_eventfd_drain(int fd) { uint64_t v; return (int)read(fd, &v, sizeof v); }
int warren_accept4(int fd, void *addr, uint32_t *addrlen) {
    return accept4(fd, (struct sockaddr *)addr, (socklen_t *)addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
int warren_socket_nonblocking(int domain, int type) { return socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }
int warren_ignore_sigpipe(void) { return signal(SIGPIPE, SIG_IGN) == SIG_ERR ? -1 : 0; }
int warren_errno(void) { return errno; }

/* Steers every new connection of fd's SO_REUSEPORT group to the group's socket number
 * `index` (the order the sockets joined: bind order): a one-instruction classic BPF
 * program returning the index. The kernel falls back to its hash when the index is out
 * of range. Returns 0, or -1 with errno. */
int warren_reuseport_steer(int fd, uint32_t index) {
    struct sock_filter code[] = {{BPF_RET | BPF_K, 0, 0, index}};
    struct sock_fprog program = {.len = 1, .filter = code};
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program, sizeof program);
}
