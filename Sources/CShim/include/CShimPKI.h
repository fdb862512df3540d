#ifndef WARREN_CSHIM_PKI_H
#define WARREN_CSHIM_PKI_H
// libcrypto helpers for the cluster PKI (macros and variadics Swift cannot import).
#include <openssl/evp.h>
#include <openssl/x509.h>
#endif
