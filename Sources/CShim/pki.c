#define _GNU_SOURCE
#include "CShimPKI.h"
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <time.h>

EVP_PKEY *warren_pki_generate_p256(void) { return EVP_EC_gen("P-256"); }

int warren_pki_key_is_p256(const EVP_PKEY *key) {
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return 0;
    char group[64];
    size_t len = 0;
    if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len)) return 0;
    return OBJ_txt2nid(group) == NID_X9_62_prime256v1;
}

void warren_pki_free(void *p) { OPENSSL_free(p); }

int warren_pki_asn1_time_to_epoch(const ASN1_TIME *t, int64_t *out) {
    struct tm tm;
    if (t == NULL || !ASN1_TIME_to_tm(t, &tm)) return 0;
    *out = (int64_t)timegm(&tm);
    return 1;
}

int warren_pki_set_validity(X509 *cert, int64_t not_before, int64_t not_after) {
    ASN1_TIME *nb = ASN1_TIME_set(NULL, (time_t)not_before);
    ASN1_TIME *na = ASN1_TIME_set(NULL, (time_t)not_after);
    int ok = nb != NULL && na != NULL && X509_set1_notBefore(cert, nb) && X509_set1_notAfter(cert, na);
    ASN1_TIME_free(nb);
    ASN1_TIME_free(na);
    return ok;
}

int warren_pki_get_validity(const X509 *cert, int64_t *not_before, int64_t *not_after) {
    return warren_pki_asn1_time_to_epoch(X509_get0_notBefore(cert), not_before)
        && warren_pki_asn1_time_to_epoch(X509_get0_notAfter(cert), not_after);
}

int warren_pki_set_random_serial(X509 *cert, int bits) {
    BIGNUM *bn = BN_new();
    int ok = 0;
    if (bn != NULL && BN_rand(bn, bits, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY)) {
        ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, NULL);
        ok = serial != NULL && X509_set_serialNumber(cert, serial);
        ASN1_INTEGER_free(serial);
    }
    BN_free(bn);
    return ok;
}

char *warren_pki_serial_hex(const X509 *cert) {
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    if (bn == NULL) return NULL;
    char *hex = BN_bn2hex(bn);
    BN_free(bn);
    return hex;
}

int warren_pki_add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL) return 0;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

GENERAL_NAMES *warren_pki_sans_new(void) { return sk_GENERAL_NAME_new_null(); }
void warren_pki_sans_free(GENERAL_NAMES *sans) { GENERAL_NAMES_free(sans); }

int warren_pki_sans_add(GENERAL_NAMES *sans, int type, const unsigned char *data, int len) {
    if (type != GEN_DNS && type != GEN_URI && type != GEN_IPADD) return 0;
    if (type == GEN_IPADD && len != 4 && len != 16) return 0;
    ASN1_STRING *value = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
    GENERAL_NAME *name = GENERAL_NAME_new();
    if (value == NULL || name == NULL || !ASN1_STRING_set(value, data, len)) {
        ASN1_STRING_free(value);
        GENERAL_NAME_free(name);
        return 0;
    }
    GENERAL_NAME_set0_value(name, type, value);
    if (!sk_GENERAL_NAME_push(sans, name)) {
        GENERAL_NAME_free(name);
        return 0;
    }
    return 1;
}

int warren_pki_add_sans(X509 *cert, GENERAL_NAMES *sans) {
    return X509_add1_ext_i2d(cert, NID_subject_alt_name, sans, 0, X509V3_ADD_DEFAULT) == 1;
}

GENERAL_NAMES *warren_pki_get_sans(const X509 *cert) {
    return X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
}

int warren_pki_sans_count(const GENERAL_NAMES *sans) { return sk_GENERAL_NAME_num(sans); }

int warren_pki_sans_get(const GENERAL_NAMES *sans, int idx, int *type, const unsigned char **data, int *len) {
    const GENERAL_NAME *name = sk_GENERAL_NAME_value(sans, idx);
    if (name == NULL) return 0;
    *type = name->type;
    const ASN1_STRING *value;
    switch (name->type) {
    case GEN_DNS: value = name->d.dNSName; break;
    case GEN_URI: value = name->d.uniformResourceIdentifier; break;
    case GEN_IPADD: value = name->d.iPAddress; break;
    default: return 0;
    }
    *data = ASN1_STRING_get0_data(value);
    *len = ASN1_STRING_length(value);
    return 1;
}

uint32_t warren_pki_extended_key_usage(X509 *cert) { return X509_get_extended_key_usage(cert); }

int warren_pki_is_ca(X509 *cert) { return (X509_get_extension_flags(cert) & EXFLAG_CA) != 0; }

int warren_pki_verify(X509 *leaf, X509 *const *anchors, int n, int64_t at, int purpose) {
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int result = -1;
    if (store == NULL || ctx == NULL) goto done;
    for (int i = 0; i < n; i++) {
        if (!X509_STORE_add_cert(store, anchors[i])) goto done;
    }
    if (!X509_STORE_CTX_init(ctx, store, leaf, NULL)) goto done;
    X509_STORE_CTX_set_time(ctx, 0, (time_t)at);
    if (purpose != 0 && !X509_STORE_CTX_set_purpose(ctx, purpose)) goto done;
    result = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
done:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return result;
}
