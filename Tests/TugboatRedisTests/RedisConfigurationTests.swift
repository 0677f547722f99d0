import Testing

import TugboatCore
@testable import TugboatRedis

@Suite("Redis configuration and URL")
struct RedisConfigurationTests {
    @Test("the Tugboat config example parses")
    func plain() throws {
        let configuration = try RedisConfiguration(url: "redis://127.0.0.1:6379/0")
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 6379)
        #expect(configuration.database == 0)
        #expect(configuration.username == nil)
        #expect(configuration.password == nil)
    }

    @Test("defaults, credentials, IPv6 and percent-encoding")
    func variants() throws {
        let bare = try RedisConfiguration(url: "redis://cache.internal")
        #expect(bare.host == "cache.internal" && bare.port == 6379 && bare.database == 0)
        let slash = try RedisConfiguration(url: "REDIS://h/")
        #expect(slash.host == "h" && slash.database == 0)
        let passwordOnly = try RedisConfiguration(url: "redis://:s3cret@h:7000/2")
        #expect(passwordOnly.username == nil && passwordOnly.password == "s3cret" && passwordOnly.port == 7000 && passwordOnly.database == 2)
        let user = try RedisConfiguration(url: "redis://alice:p%40ss%2Fw%3Ard@h/15")
        #expect(user.username == "alice" && user.password == "p@ss/w:rd" && user.database == 15)
        let raw = try RedisConfiguration(url: "redis://bob:a/b@c@h:1/3")
        #expect(raw.username == "bob" && raw.password == "a/b@c" && raw.host == "h" && raw.port == 1 && raw.database == 3)
        let v6 = try RedisConfiguration(url: "redis://[::1]:6380/1")
        #expect(v6.host == "::1" && v6.port == 6380 && v6.database == 1)
        #expect(v6.tls == nil)
        let tls = try RedisConfiguration(url: "rediss://:pw@redis.internal:6380/2")
        #expect(tls.tls == RedisTLS() && tls.host == "redis.internal" && tls.port == 6380 && tls.password == "pw")
        #expect(tls.description == "rediss://:***@redis.internal:6380/2")
    }

    @Test(
        "bad URLs give clear errors",
        arguments: [
            ("127.0.0.1:6379", "expected redis://"),
            ("http://h", "unsupported scheme"),
            ("redis://", "missing host"),
            ("redis://:6379", "missing host"),
            ("redis://h:0", "port"),
            ("redis://h:70000", "port"),
            ("redis://h:abc", "port"),
            ("redis://h/x", "database"),
            ("redis://h/-1", "database"),
            ("redis://h/0?timeout=1", "query"),
            ("redis://[::1/0", "IPv6"),
            ("redis://topsecret@h", "user:password@"),
            ("redis://u:bad%zzsecret@h", "percent-encoding"),
        ]
    )
    func badURLs(url: String, expected: String) {
        do {
            _ = try RedisConfiguration(url: url)
            Issue.record("\(url) parsed")
        } catch {
            #expect(error.description.contains(expected), "\(error)")
            #expect(!error.description.contains("secret"))
        }
    }

    @Test("the password never shows in description, debugDescription, dump or interpolation")
    func redaction() throws {
        let configuration = try RedisConfiguration(url: "redis://alice:hunter2-secret@h:6379/4")
        #expect(configuration.description == "redis://alice:***@h:6379/4")
        var dumped = ""
        dump(configuration, to: &dumped)
        let renderings = [
            configuration.description, configuration.debugDescription, "\(configuration)", String(reflecting: configuration), dumped,
            "\([configuration])", String(describing: Optional(configuration)),
        ]
        for rendering in renderings {
            #expect(!rendering.contains("hunter2"), "\(rendering)")
            #expect(rendering.contains("***"), "\(rendering)")
        }
        #expect(RedisConfiguration(host: "h").description == "redis://h:6379/0")
        #expect(RedisConfiguration(host: "::1", port: 1).description == "redis://[::1]:1/0")
    }

    @Test("SHA-1 matches the FIPS vectors")
    func sha1() {
        #expect(SHA1.hexDigest("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(SHA1.hexDigest("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1.hexDigest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(SHA1.hexDigest("The quick brown fox jumps over the lazy dog") == "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12")
        #expect(SHA1.hexDigest(String(repeating: "a", count: 1_000_000)) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
        // Padding boundaries: 55, 56, 63 and 64 bytes.
        #expect(SHA1.hexDigest(String(repeating: "a", count: 55)) == "c1c8bbdc22796e28c0e15163d20899b65621d65a")
        #expect(SHA1.hexDigest(String(repeating: "a", count: 56)) == "c2db330f6083854c99d4b5bfb6e8f29f201be699")
        #expect(SHA1.hexDigest(String(repeating: "a", count: 64)) == "0098ba824b5c16427bd7a1122a5a442a25ec644d")
        #expect(RedisScript("return 1").sha1 == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
    }

    @Test("backoff doubles to the maximum, jitters within bounds and resets")
    func backoff() {
        var plain = ReconnectBackoff(initial: .milliseconds(100), maximum: .seconds(5), jitter: 0)
        let delays = (0..<9).map { _ in plain.next() }
        #expect(delays == [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000].map { .milliseconds($0) })
        plain.reset()
        #expect(plain.next() == .milliseconds(100))

        var jittered = ReconnectBackoff(initial: .milliseconds(100), maximum: .seconds(5))
        var seen: Set<Duration> = []
        for nominal in [100, 200, 400] {
            let delay = jittered.next()
            #expect(delay >= .milliseconds(nominal) * 0.8 && delay <= .milliseconds(nominal) * 1.2)
            seen.insert(delay)
        }
        #expect(seen.count == 3)
    }
}
