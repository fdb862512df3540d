#ifndef WARREN_CSHIM_PKI_H
#define WARREN_CSHIM_PKI_H
// libcrypto helpers for the cluster PKI: the macros, variadics and unions Swift cannot
// import, as thin wrappers. Errors come back as 0/NULL with the OpenSSL error queue set,
// except where a comment says otherwise.
#include <stdint.h>
#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/// A fresh ECDSA P-256 key (EVP_EC_gen is a variadic macro). NULL on failure.
EVP_PKEY *warren_pki_generate_p256(void);
/// 1 when the key is an EC key on P-256.
int warren_pki_key_is_p256(const EVP_PKEY *key);
/// OPENSSL_free (a macro).
void warren_pki_free(void *p);

/// Seconds since the epoch of an ASN1_TIME. Returns 1 and sets *out, 0 on failure.
int warren_pki_asn1_time_to_epoch(const ASN1_TIME *t, int64_t *out);
/// Sets notBefore and notAfter from seconds since the epoch. 1 on success.
int warren_pki_set_validity(X509 *cert, int64_t not_before, int64_t not_after);
/// notBefore / notAfter as seconds since the epoch. 1 on success.
int warren_pki_get_validity(const X509 *cert, int64_t *not_before, int64_t *not_after);

/// A random positive serial of `bits` bits (top bit forced, so the length is fixed), set on
/// the certificate. 1 on success.
int warren_pki_set_random_serial(X509 *cert, int bits);
/// The serial as upper-case hex; free with warren_pki_free. NULL on failure.
char *warren_pki_serial_hex(const X509 *cert);

/// Adds one v3 extension from its configuration text (e.g. "critical,CA:TRUE"), with
/// `issuer` as the issuer for authorityKeyIdentifier (may equal cert). 1 on success.
int warren_pki_add_ext(X509 *cert, X509 *issuer, int nid, const char *value);

/// A SAN list under construction (GENERAL_NAMES, a macro-typed stack).
GENERAL_NAMES *warren_pki_sans_new(void);
void warren_pki_sans_free(GENERAL_NAMES *sans);
/// Appends a name: type is GEN_DNS, GEN_URI (text, IA5) or GEN_IPADD (4 or 16 raw bytes).
int warren_pki_sans_add(GENERAL_NAMES *sans, int type, const unsigned char *data, int len);
/// Adds the list as a non-critical subjectAltName extension. 1 on success.
int warren_pki_add_sans(X509 *cert, GENERAL_NAMES *sans);

/// The certificate's SANs, or NULL when it has none (not an error).
GENERAL_NAMES *warren_pki_get_sans(const X509 *cert);
int warren_pki_sans_count(const GENERAL_NAMES *sans);
/// The idx-th name: sets its type (GEN_*) and borrowed bytes. 1 for DNS/URI/IP, 0 for
/// other types (which callers skip).
int warren_pki_sans_get(const GENERAL_NAMES *sans, int idx, int *type, const unsigned char **data, int *len);

/// Extended key usage bits of a certificate (XKU_SSL_SERVER, XKU_SSL_CLIENT, ...), or
/// UINT32_MAX when it has no EKU extension.
uint32_t warren_pki_extended_key_usage(X509 *cert);
/// 1 when basicConstraints says CA:TRUE.
int warren_pki_is_ca(X509 *cert);

/// Verifies `leaf` against the trust anchors in `anchors` (count `n`) at time `at`
/// (seconds since the epoch), with partial chains off. `purpose` is 0 (none) or an
/// X509_PURPOSE_* id (X509_PURPOSE_SSL_CLIENT, X509_PURPOSE_SSL_SERVER) the leaf's
/// extended key usage must allow. Returns the X509_V_* code (X509_V_OK on success), or
/// -1 when the verification could not run (allocation).
int warren_pki_verify(X509 *leaf, X509 *const *anchors, int n, int64_t at, int purpose);
#endif
