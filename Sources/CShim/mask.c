// RFC 6455 §5.3 masking for the WebSocket data path (WebSocketMask.apply in Tunnel).
// Swift's generic SIMD types are not lowered to vector instructions here, and the 8-byte
// loop cost ~5% of a relay's CPU, so the XOR runs here: 128 bytes per step with AVX2 when
// the CPU has it (checked once at run time), else a word loop the compiler widens to SSE2.
#include "CShim.h"
#include <string.h>

/// Key byte `i` (0…3): the key is in network order, byte 0 is its most significant.
static inline uint8_t key_byte(uint32_t key, size_t i) { return (uint8_t)(key >> (24 - 8 * (i & 3))); }

/// XORs whole 4-byte groups of `p[0..<n]` with `pattern` (4 key bytes in memory order);
/// returns how many bytes it did (a multiple of 4; the caller does the rest).
static size_t mask_words(uint8_t *p, size_t n, uint32_t pattern) {
    uint64_t wide = ((uint64_t)pattern << 32) | pattern;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w ^= wide;
        memcpy(p + i, &w, 8);
    }
    return i;
}

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2"))) static size_t mask_avx2(uint8_t *p, size_t n, uint32_t pattern) {
    const __m256i m = _mm256_set1_epi32((int)pattern);
    size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(p + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(p + i + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(p + i + 64));
        __m256i d = _mm256_loadu_si256((const __m256i *)(p + i + 96));
        _mm256_storeu_si256((__m256i *)(p + i), _mm256_xor_si256(a, m));
        _mm256_storeu_si256((__m256i *)(p + i + 32), _mm256_xor_si256(b, m));
        _mm256_storeu_si256((__m256i *)(p + i + 64), _mm256_xor_si256(c, m));
        _mm256_storeu_si256((__m256i *)(p + i + 96), _mm256_xor_si256(d, m));
    }
    for (; i + 32 <= n; i += 32) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(p + i));
        _mm256_storeu_si256((__m256i *)(p + i), _mm256_xor_si256(a, m));
    }
    return i;
}

/// 1 when AVX2 may be used, 0 when not, -1 before the first call.
static int has_avx2 = -1;
#endif

void warren_ws_mask(uint8_t *bytes, size_t count, uint32_t key, size_t offset) {
    if (count == 0) return;
    // The 4 key bytes in memory order, starting with the one for `offset`; every
    // whole-group step below keeps that rotation because it advances by a multiple of 4.
    uint8_t rotated[4];
    for (size_t j = 0; j < 4; j++) rotated[j] = key_byte(key, offset + j);
    uint32_t pattern;
    memcpy(&pattern, rotated, 4);
    size_t done = 0;
#if defined(__x86_64__)
    if (count >= 64) {
        int avx2 = __atomic_load_n(&has_avx2, __ATOMIC_RELAXED);
        if (avx2 < 0) {
            // Racing first calls on two loops compute the same answer.
            avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
            __atomic_store_n(&has_avx2, avx2, __ATOMIC_RELAXED);
        }
        if (avx2) done = mask_avx2(bytes, count, pattern);
    }
#endif
    done += mask_words(bytes + done, count - done, pattern);
    for (size_t i = done; i < count; i++) bytes[i] ^= rotated[i & 3];
}
