import Foundation
import Testing
@testable import TugboatScaling

/// Status objects turned into log lines and scaling event text.
struct KubernetesErrorTests {
    @Test("a 403 names the RBAC verb, resource and namespace and points at the README")
    func forbidden() {
        let body = #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \"web\" is forbidden: User \"system:serviceaccount:shop:tugboat\" cannot patch resource \"deployments/scale\" in API group \"apps\" in the namespace \"shop\"","reason":"Forbidden","details":{"name":"web","group":"apps","kind":"deployments"},"code":403}"#
        let error = KubernetesError.from(status: 403, body: Data(body.utf8), retryAfterHeader: nil, verb: "patch", resource: "deployments/scale", namespace: "shop")
        #expect(error.reason == "Forbidden")
        #expect(error.description.contains("403 Forbidden"))
        #expect(error.description.contains("verb 'patch' on resource 'deployments/scale' in namespace 'shop'"))
        #expect(error.description.contains("README"))
    }

    @Test("429 keeps Retry-After; 410 and Expired are gone; a body that is not a Status keeps the code")
    func others() {
        let limited = KubernetesError.from(status: 429, body: Data(#"{"kind":"Status","code":429,"reason":"TooManyRequests","message":"slow down","details":{"retryAfterSeconds":3}}"#.utf8),
                                           retryAfterHeader: "2", verb: "list", resource: "endpointslices", namespace: "default")
        #expect(limited.retryAfter == .seconds(2))
        #expect(limited.description.contains("retry after"))
        let gone = KubernetesError.from(status: 410, body: Data(), retryAfterHeader: nil, verb: "watch", resource: "endpointslices", namespace: "default")
        #expect(gone.isGone)
        let proxy = KubernetesError.from(status: 502, body: Data("<html>bad gateway</html>".utf8), retryAfterHeader: nil, verb: "get",
                                         resource: "deployments/scale", namespace: "default")
        #expect(proxy.code == 502 && proxy.reason == nil)
    }

    @Test("an unreachable server names the kubeconfig and says which TLS setting to check")
    func unreachable() {
        struct Failure: Error, CustomStringConvertible { var description: String }
        let wrongCA = KubernetesUnreachable(server: "https://127.0.0.1:6443", origin: "kubeconfig /etc/tugboat/kubeconfig (context prod)",
                                            error: Failure(description: "handshakeFailed(NIOSSL.BoringSSLError.sslError([Error: 268435581 error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED]))"))
        #expect(wrongCA.description.hasPrefix("cannot reach the Kubernetes API at https://127.0.0.1:6443 (credentials: kubeconfig /etc/tugboat/kubeconfig (context prod)): "))
        #expect(wrongCA.description.contains("does not verify against the cluster's certificate authority (check certificate-authority or certificate-authority-data"))
        let refused = KubernetesUnreachable(server: "https://127.0.0.1:6443", origin: "in-cluster",
                                            error: Failure(description: "sslError([Error: 268436572 error:1000045c:SSL routines:OPENSSL_internal:TLSV1_ALERT_CERTIFICATE_REQUIRED])"))
        #expect(refused.description.contains("the server refused the client certificate"))
        let closed = KubernetesUnreachable(server: "https://127.0.0.1:6443", origin: "in-cluster", error: Failure(description: "connection refused"))
        #expect(closed.description.hasSuffix("(credentials: in-cluster): connection refused"))
    }
}
