import Foundation
import TestSupport
import Testing
@testable import TugboatCore
import TugboatProxy
import TugboatRedis
@testable import TugboatRuntime

@Suite("TLS config: tls and pool.tls")
struct TLSConfigTests {
    func parse(_ yaml: String) throws -> TugboatConfig { try ConfigLoader.parse(yaml, file: "t.yaml") }

    @Test("tls.certificates and pool.tls parse; paths are kept, lines are remembered")
    func parses() throws {
        let key = NSTemporaryDirectory() + "tugboat-tls-config-\(UUID().uuidString).key"
        try #require(FileManager.default.createFile(atPath: key, contents: Data("k".utf8), attributes: [.posixPermissions: 0o600]))
        defer { try? FileManager.default.removeItem(atPath: key) }
        let config = try parse("""
        tls:
          certificates:
            - { cert: /etc/passwd, key: \(key) }
          redirect: 127.0.0.1:8080
          http2: false
          http2-max-streams: 50
        pool:
          tls: { verify: false, ca: /etc/passwd, sni: app.internal }
        """)
        #expect(config.tls?.certificates.first?.cert == "/etc/passwd")
        #expect(config.tls?.certificates.first?.configLine == 3)
        #expect(config.tls?.redirect == HostPort(host: "127.0.0.1", port: 8080))
        #expect(config.pool.tls?.verify == false)
        #expect(config.pool.tls?.sni == "app.internal")
        #expect(config.tls?.http2 == false)
        #expect(config.tls?.http2MaxStreams == 50)
        #expect(config.pool.tls?.caLine == 8)
    }

    @Test("admin.tls.certificates parse beside the public tls: paths relative to the config file, line and key remembered; the scheme and default URL follow")
    func adminTLS() throws {
        let directory = NSTemporaryDirectory() + "tugboat-admin-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try #require(FileManager.default.createFile(atPath: directory + "/admin.pem", contents: Data("c".utf8)))
        try #require(FileManager.default.createFile(atPath: directory + "/admin.key", contents: Data("k".utf8), attributes: [.posixPermissions: 0o600]))
        let config = try ConfigLoader.parse("""
        admin:
          listen: 127.0.0.1:8443
          token: t
          tls:
            certificates:
              - { cert: admin.pem, key: admin.key }
        """, file: directory + "/t.yaml")
        let files = try #require(config.admin.tls?.certificates.first)
        #expect(files.cert == directory + "/admin.pem" && files.key == directory + "/admin.key")
        #expect(files.configLine == 6 && files.configFile == directory + "/t.yaml")
        #expect(files.keyName("key") == "admin.tls.certificates[0].key")
        #expect(config.tls == nil)
        #expect(config.admin.scheme == "https")
        #expect(config.admin.baseURL(bound: "127.0.0.1:8443") == "https://127.0.0.1:8443")
        #expect(try parse("admin: { listen: 127.0.0.1:8081 }\n").admin.baseURL(bound: "127.0.0.1:8081") == "http://127.0.0.1:8081")
        var named = config.admin
        named.url = "https://ops.example.com:8443"
        #expect(named.baseURL(bound: "127.0.0.1:8443") == "https://ops.example.com:8443")
    }

    @Test("tls.acme alone (no certificate files) parses: directory, email, domains lowercased, ca")
    func acme() throws {
        let config = try parse("""
        tls:
          acme:
            directory: https://acme-v02.api.letsencrypt.org/directory
            email: ops@example.com
            domains: [Example.com, www.example.com]
            ca: /etc/passwd
          redirect: 127.0.0.1:8080
        """)
        #expect(config.tls?.certificates.isEmpty == true)
        #expect(config.tls?.acme == TLSSettings.ACME(directory: "https://acme-v02.api.letsencrypt.org/directory", email: "ops@example.com",
                                                      domains: ["example.com", "www.example.com"], ca: "/etc/passwd"))
    }

    @Test("mistakes are reported with file, line and key", arguments: [
        ("tls: {}\n", "t.yaml:1: 'tls' needs 'certificates'"),
        ("tls:\n  certificates:\n    - { cert: /nonexistent.pem, key: /etc/passwd }\n", "t.yaml:3: 'tls.certificates[0].cert': cannot read /nonexistent.pem"),
        ("tls:\n  certificates:\n    - { cert: /etc/passwd }\n", "t.yaml:3: 'tls.certificates[0]' needs 'cert' and 'key'"),
        ("tls:\n  certificates:\n    - { cert: /etc/passwd, key: /etc/passwd }\n", "t.yaml:3: 'tls.certificates[0].key': the private key /etc/passwd is readable by every user"),
        ("pool:\n  tls: { sni: \"a b\" }\n", "t.yaml:2: 'pool.tls.sni' must be a host name"),
        ("pool:\n  tls: { ca: /nonexistent-ca.pem }\n", "t.yaml:2: 'pool.tls.ca': cannot read /nonexistent-ca.pem"),
        ("pool:\n  tls: { verify: maybe }\n", "t.yaml:2: 'pool.tls.verify' must be true or false"),
        ("tls:\n  acme:\n    directory: https://acme.test/dir\n    email: ops@example.com\n    domains: [example.com]\n",
         "t.yaml:3: 'tls.acme' needs 'tls.redirect'"),
        ("tls:\n  redirect: 127.0.0.1:80\n  acme:\n    directory: https://acme.test/dir\n    email: ops@example.com\n    domains: []\n",
         "t.yaml:6: 'tls.acme.domains' needs at least one domain name"),
        ("tls:\n  redirect: 127.0.0.1:80\n  acme:\n    directory: http://acme.test/dir\n    email: ops@example.com\n    domains: [example.com]\n",
         "t.yaml:4: 'tls.acme.directory' must be an https:// URL, got 'http://acme.test/dir'"),
        ("tls:\n  redirect: 127.0.0.1:80\n  acme:\n    directory: https://acme.test/dir\n    email: ops-example.com\n    domains: [example.com]\n",
         "t.yaml:5: 'tls.acme.email' must be an email address, got 'ops-example.com'"),
        ("tls:\n  redirect: 127.0.0.1:80\n  acme:\n    directory: https://acme.test/dir\n    email: ops@example.com\n    domains:\n      - example.com\n      - \"*.example.com\"\n",
         "t.yaml:8: 'tls.acme.domains[1]' must be a DNS name"),
        ("tls:\n  redirect: 127.0.0.1:80\n  acme:\n    directory: https://acme.test/dir\n    domains: [example.com]\n",
         "t.yaml:4: 'tls.acme' needs 'directory', 'email' and 'domains'"),
        ("tls:\n  redirect: 127.0.0.1:80\n  acme:\n    directory: https://acme.test/dir\n    email: ops@example.com\n    domains: [example.com]\n    ca: /nonexistent-ca.pem\n",
         "t.yaml:7: 'tls.acme.ca': cannot read /nonexistent-ca.pem"),
        ("tls:\n  certificates:\n    - { cert: /etc/passwd, key: /etc/passwd }\n  http2: sometimes\n", "t.yaml:4: 'tls.http2' must be true or false"),
        ("tls:\n  http2-max-streams: 0\n  certificates:\n    - { cert: /etc/passwd, key: /etc/passwd }\n", "t.yaml:2: 'tls.http2-max-streams' must be"),
        ("admin:\n  tls: {}\n", "t.yaml:2: 'admin.tls' needs 'certificates'"),
        ("admin:\n  tls:\n    certificates: []\n", "t.yaml:3: 'admin.tls.certificates' needs at least one { cert, key }"),
        ("admin:\n  tls:\n    certificates:\n      - { cert: /nonexistent.pem, key: /etc/passwd }\n",
         "t.yaml:4: 'admin.tls.certificates[0].cert': cannot read /nonexistent.pem"),
        ("admin:\n  tls:\n    certificates:\n      - { key: /etc/passwd }\n", "t.yaml:4: 'admin.tls.certificates[0]' needs 'cert' and 'key'"),
        ("admin:\n  tls:\n    certificates:\n      - { cert: /etc/passwd, key: /etc/passwd }\n",
         "t.yaml:4: 'admin.tls.certificates[0].key': the private key /etc/passwd is readable by every user"),
        ("admin:\n  tls:\n    certificates:\n      - { cert: /etc/passwd, key: /etc/passwd, chain: x }\n", "t.yaml:4: unknown key 'admin.tls.certificates[0].chain'"),
        ("admin:\n  tls:\n    acme: {}\n", "t.yaml:3: unknown key 'admin.tls.acme'"),
    ])
    func errors(yaml: String, expected: String) {
        expectConfigError(expected) { try parse(yaml) }
    }

    @Test("state: rediss:// takes state-tls { ca, cert, key }; state-tls needs rediss://, both cert and key, a private key")
    func stateTLS() throws {
        let key = NSTemporaryDirectory() + "tugboat-redis-tls-\(UUID().uuidString).key"
        _ = FileManager.default.createFile(atPath: key, contents: Data("k".utf8), attributes: [.posixPermissions: 0o600])
        defer { try? FileManager.default.removeItem(atPath: key) }
        let config = try parse("state: rediss://:pw@redis.internal:6380/1\nstate-tls:\n  ca: /etc/passwd\n  cert: /etc/hostname\n  key: \(key)\n")
        #expect(config.redisURL == "rediss://:pw@redis.internal:6380/1")
        #expect(config.redisAddress == HostPort(host: "redis.internal", port: 6380))
        var settings = try #require(config.stateTLS)
        #expect(settings.line > 1)
        settings.line = 0
        #expect(settings == StateTLSSettings(ca: "/etc/passwd", cert: "/etc/hostname", key: key))
        #expect(try parse("state: rediss://10.0.0.5\n").redisAddress == HostPort(host: "10.0.0.5", port: 6379))

        let errors = [
            ("state: redis://h:6379/0\nstate-tls: { ca: /etc/passwd }\n", "t.yaml:2: 'state-tls' applies to 'state: rediss://…' (TLS to Redis) only"),
            ("state: rediss://h\nstate-tls: { cert: /etc/passwd }\n", "t.yaml:2: 'state-tls' needs both 'cert' and 'key', or neither"),
            ("state: rediss://h\nstate-tls: { ca: /nonexistent/ca.pem }\n", "t.yaml:2: 'state-tls.ca': cannot read /nonexistent/ca.pem"),
            ("state: rediss://h\nstate-tls: { cert: /etc/hostname, key: /etc/passwd }\n", "t.yaml:2: 'state-tls.key': the private key /etc/passwd is readable by every user"),
        ]
        for (yaml, expected) in errors {
            do {
                _ = try parse(yaml)
                Issue.record("parsed: \(yaml)")
            } catch {
                #expect("\(error)".hasPrefix(expected), "got: \(error)")
            }
        }
    }
}

