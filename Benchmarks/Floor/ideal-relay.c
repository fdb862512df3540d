/*
 * ideal-relay: the least work any encrypted relay pair of the tunnel's shape can do, as a
 * yardstick for the bulk-throughput goals (Benchmarks/floor-bench). Not part of Warren.
 *
 *   ideal-relay enc LISTEN_PORT TARGET_HOST TARGET_PORT   # plain in, records out
 *   ideal-relay dec LISTEN_PORT TARGET_HOST TARGET_PORT   # records in, plain out
 *
 * Per byte each side does exactly what the shape requires and nothing else: one read
 * (kernel copy out), one AES-128-GCM pass (encrypt into the output buffer, or decrypt in
 * place), one write (kernel copy in). Records are 16 KiB of plaintext, as TLS's largest,
 * framed as [u32 length][ciphertext][16-byte tag]; reads are up to 256 KiB, as Warren's.
 * No handshake, no authentication of the peer, a fixed key: a measuring tool only, it
 * must never carry real traffic. A thread per direction of each connection, blocking
 * sockets: no event loop overhead at all, and all CPU stays in one process, so the
 * harness can charge it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { RECORD = 16384, TAG = 16, HEADER = 4, READ_MAX = 256 * 1024 };
enum { SEALED_MAX = READ_MAX / RECORD * (HEADER + RECORD + TAG) };

static const unsigned char key[16] = "warren-floor-key";

struct pump { int from, to, encrypt; unsigned char direction; };

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w; n -= (size_t)w;
    }
    return 0;
}

static void nonce_for(unsigned char iv[12], unsigned char direction, uint64_t counter) {
    memset(iv, 0, 12);
    iv[0] = direction;
    for (int i = 0; i < 8; i++) iv[4 + i] = (unsigned char)(counter >> (8 * i));
}

/* Plain → records: read, then one AES-GCM pass per 16 KiB straight into the output. */
static void seal_loop(struct pump *p) {
    unsigned char *in = malloc(READ_MAX), *out = malloc(SEALED_MAX), iv[12];
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, key, NULL);
    uint64_t counter = 0;
    for (;;) {
        ssize_t n = read(p->from, in, READ_MAX);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        size_t o = 0;
        for (ssize_t off = 0; off < n; off += RECORD) {
            int len = (int)(n - off < RECORD ? n - off : RECORD), outl = 0;
            uint32_t be = htonl((uint32_t)len);
            memcpy(out + o, &be, HEADER);
            nonce_for(iv, p->direction, counter++);
            EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv);
            EVP_EncryptUpdate(ctx, out + o + HEADER, &outl, in + off, len);
            EVP_EncryptFinal_ex(ctx, out + o + HEADER + len, &outl);
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG, out + o + HEADER + len);
            o += HEADER + (size_t)len + TAG;
        }
        if (write_all(p->to, out, o) < 0) break;
    }
    EVP_CIPHER_CTX_free(ctx);
    free(in); free(out);
}

/* Records → plain: read, decrypt each whole record in place, write the plaintexts. */
static void open_loop(struct pump *p) {
    size_t cap = SEALED_MAX + HEADER + RECORD + TAG;
    unsigned char *buf = malloc(cap), iv[12];
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    EVP_DecryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, key, NULL);
    uint64_t counter = 0;
    size_t have = 0;
    for (;;) {
        ssize_t n = read(p->from, buf + have, cap - have);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        have += (size_t)n;
        size_t at = 0, plain = 0;
        for (;;) {
            if (have - at < HEADER) break;
            uint32_t be; memcpy(&be, buf + at, HEADER);
            size_t len = ntohl(be);
            if (len > RECORD) { fprintf(stderr, "ideal-relay: bad record\n"); exit(1); }
            if (have - at < HEADER + len + TAG) break;
            unsigned char *body = buf + at + HEADER;
            int outl = 0;
            nonce_for(iv, p->direction, counter++);
            EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, iv);
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG, body + len);
            /* Decrypt in place, then slide the plaintext down to form one contiguous
             * write; the slide is the one extra copy any framed protocol pays. */
            EVP_DecryptUpdate(ctx, body, &outl, body, (int)len);
            if (EVP_DecryptFinal_ex(ctx, body + len, &outl) != 1) { fprintf(stderr, "ideal-relay: tag mismatch\n"); exit(1); }
            memmove(buf + plain, body, len);
            plain += len;
            at += HEADER + len + TAG;
        }
        if (plain > 0 && write_all(p->to, buf, plain) < 0) break;
        memmove(buf, buf + at, have - at);
        have -= at;
    }
    EVP_CIPHER_CTX_free(ctx);
    free(buf);
}

static void *pump_main(void *arg) {
    struct pump *p = arg;
    if (p->encrypt) seal_loop(p); else open_loop(p);
    shutdown(p->to, SHUT_WR);
    return NULL;
}

static int dial(const char *host, const char *port) {
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
    if (getaddrinfo(host, port, &hints, &res) != 0) return -1;
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) { close(fd); fd = -1; }
    freeaddrinfo(res);
    return fd;
}

struct connection { int client; const char *host, *port; int sealing; };

static void *connection_main(void *arg) {
    struct connection *c = arg;
    int one = 1, t = dial(c->host, c->port);
    if (t < 0) { close(c->client); free(c); return NULL; }
    setsockopt(c->client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* enc: client→target is sealed, target→client opened; dec: the reverse. */
    struct pump up = { c->client, t, c->sealing, 1 }, down = { t, c->client, !c->sealing, 2 };
    pthread_t th;
    pthread_create(&th, NULL, pump_main, &down);
    pump_main(&up);
    pthread_join(th, NULL);
    close(t); close(c->client); free(c);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5 || (strcmp(argv[1], "enc") != 0 && strcmp(argv[1], "dec") != 0)) {
        fprintf(stderr, "usage: ideal-relay enc|dec LISTEN_PORT TARGET_HOST TARGET_PORT\n");
        return 2;
    }
    int one = 1;
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 4096) != 0) { perror("ideal-relay: listen"); return 1; }
    pthread_attr_t detached;
    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    for (;;) {
        int client = accept(ls, NULL, NULL);
        if (client < 0) continue;
        struct connection *c = malloc(sizeof *c);
        *c = (struct connection){ client, argv[3], argv[4], strcmp(argv[1], "enc") == 0 };
        pthread_t th;
        if (pthread_create(&th, &detached, connection_main, c) != 0) { close(client); free(c); }
    }
}
