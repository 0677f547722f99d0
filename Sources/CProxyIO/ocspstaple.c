#include "cproxyio.h"

/* BoringSSL as swift-nio-ssl links it into every binary that uses NIOSSL: its symbols carry the
 * CNIOBoringSSL_ prefix. swift-nio-ssl has no API for OCSP stapling, so these few are called
 * directly; the types are opaque pointers on both sides. */
extern int CNIOBoringSSL_SSL_CTX_set_tlsext_status_cb(void *ctx, int (*callback)(void *ssl, void *arg));
extern int CNIOBoringSSL_SSL_CTX_set_tlsext_status_arg(void *ctx, void *arg);
extern const char *CNIOBoringSSL_SSL_get_servername(const void *ssl, int type);
extern int CNIOBoringSSL_SSL_set_ocsp_response(void *ssl, const unsigned char *response, size_t length);

int tugboat_tls_set_status_callback(void *ssl_ctx, tugboat_tls_status_callback callback, void *arg) {
    return CNIOBoringSSL_SSL_CTX_set_tlsext_status_cb(ssl_ctx, callback)
        && CNIOBoringSSL_SSL_CTX_set_tlsext_status_arg(ssl_ctx, arg);
}

const char *tugboat_tls_server_name(const void *ssl) {
    return CNIOBoringSSL_SSL_get_servername(ssl, 0 /* TLSEXT_NAMETYPE_host_name */);
}

int tugboat_tls_staple(void *ssl, const unsigned char *der, size_t length) {
    return CNIOBoringSSL_SSL_set_ocsp_response(ssl, der, length);
}
