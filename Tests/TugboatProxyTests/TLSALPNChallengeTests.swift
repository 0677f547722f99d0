import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOSSL
import TestSupport
import Testing
@testable import TugboatProxy

/// TLS-ALPN-01's first step: the ClientHello read before a TLS context is chosen, and the handler
/// that picks the validation context or the usual pipeline.
@Suite("TLS-ALPN-01: ClientHello peek")
struct TLSALPNChallengeTests {
    /// The ClientHello swift-nio-ssl's client sends for `serverName` offering `protocols`.
    func clientHello(serverName: String?, protocols: [String]) throws -> [UInt8] {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.applicationProtocols = protocols
        configuration.certificateVerification = .none
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: NIOSSLContext(configuration: configuration),
                                                                              serverHostname: serverName))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        var bytes: [UInt8] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readBytes(length: buffer.readableBytes) ?? [] }
        _ = try? channel.finish()
        return bytes
    }

    @Test("the server name and the offered protocols are read from a real ClientHello")
    func readsHello() throws {
        let validation = try clientHello(serverName: "Tugboat.Test", protocols: ["acme-tls/1"])
        #expect(ClientHelloPeek.peek(validation) == .hello(serverName: "tugboat.test", protocols: ["acme-tls/1"]))
        let browser = try clientHello(serverName: nil, protocols: ["h2", "http/1.1"])
        #expect(ClientHelloPeek.peek(browser) == .hello(serverName: nil, protocols: ["h2", "http/1.1"]))
    }

    @Test("every prefix waits for more, other bytes are not a ClientHello, corruptions never crash or read past the input")
    func malformed() throws {
        let hello = try clientHello(serverName: "tugboat.test", protocols: ["acme-tls/1"])
        for length in 0..<hello.count {
            #expect(ClientHelloPeek.peek(hello.prefix(length)) == .needMore)
        }
        #expect(ClientHelloPeek.peek(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)) == .other)
        #expect(ClientHelloPeek.peek([22, 3, 1, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 100)) == .other)  // a record over 16 KiB
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var corrupted = hello
            for _ in 0..<4 { corrupted[Int.random(in: 5..<corrupted.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            _ = ClientHelloPeek.peek(corrupted)
        }
    }

    @Test("only a handshake offering acme-tls/1 alone, for a name being validated, gets the validation context")
    func choosesValidation() throws {
        let challenges = ACMEChallenges()
        let context = try NIOSSLContext(configuration: .makeClientConfiguration())
        challenges.setValidation(domain: "Tugboat.Test", context: context)
        #expect(challenges.validationContext(serverName: "tugboat.test", protocols: ["acme-tls/1"]) === context)
        #expect(challenges.validationContext(serverName: "tugboat.test", protocols: ["acme-tls/1", "http/1.1"]) == nil)
        #expect(challenges.validationContext(serverName: "other.test", protocols: ["acme-tls/1"]) == nil)
        #expect(challenges.validationContext(serverName: nil, protocols: ["acme-tls/1"]) == nil)
        challenges.removeValidation(domain: "tugboat.test")
        #expect(challenges.validationContext(serverName: "tugboat.test", protocols: ["acme-tls/1"]) == nil)
    }

    @Test("the handler passes the bytes on unchanged to the usual pipeline, or to the validation handshake; a silent client is closed")
    func handler() throws {
        let certificates = try TestCertificates()
        let site = try certificates.leaf("site", commonName: "tugboat.test", names: ["tugboat.test"])
        let validation = try NIOSSLContext(configuration: .makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(site.cert).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: site.key, format: .pem))))
        let challenges = ACMEChallenges()
        challenges.setValidation(domain: "tugboat.test", context: validation)
        let hello = try clientHello(serverName: "www.tugboat.test", protocols: ["h2"])

        // Not a validation: the usual pipeline, set up once, gets every byte in order.
        final class Collect: ChannelInboundHandler {
            typealias InboundIn = ByteBuffer
            var bytes: [UInt8] = []
            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                var buffer = unwrapInboundIn(data)
                bytes += buffer.readBytes(length: buffer.readableBytes) ?? []
            }
        }
        let collect = Collect()
        var normal = 0
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(Self.handler(challenges) { channel in
            normal += 1
            try channel.pipeline.syncOperations.addHandler(collect)
        })
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(ByteBuffer(bytes: hello.prefix(10)))
        #expect(normal == 0)
        try channel.writeInbound(ByteBuffer(bytes: hello.dropFirst(10)))
        try channel.writeInbound(ByteBuffer(bytes: [1, 2, 3]))
        #expect(normal == 1)
        #expect(collect.bytes == hello + [1, 2, 3])
        #expect((try? channel.pipeline.syncOperations.handler(type: ClientHelloHandler.self)) == nil)

        // A validation: its own TLS handler answers (the server's first flight goes out).
        let validating = EmbeddedChannel()
        try validating.pipeline.syncOperations.addHandler(Self.handler(challenges) { _ in
            Issue.record("a validation must not get the usual pipeline")
        })
        try validating.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try validating.writeInbound(ByteBuffer(bytes: try clientHello(serverName: "tugboat.test", protocols: ["acme-tls/1"])))
        #expect((try? validating.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)) != nil)
        let serverHello = try validating.readOutbound(as: ByteBuffer.self)
        #expect(serverHello?.readableBytesView.first == 22)
        _ = try? validating.finish()

        // A client that never sends its ClientHello is closed at the timeout.
        let silent = EmbeddedChannel()
        try silent.pipeline.syncOperations.addHandler(Self.handler(challenges) { _ in })
        try silent.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        silent.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(!silent.isActive)
    }

    /// The ClientHello handler as the listener sets it up for TLS-ALPN-01: the validation, or `usual`.
    static func handler(_ challenges: ACMEChallenges, usual: @escaping (Channel) throws -> Void) -> ClientHelloHandler {
        ClientHelloHandler(timeout: .seconds(5)) { hello, context, _ in
            if try !TLSALPNValidation.answer(hello, challenges: challenges, on: context.channel) { try usual(context.channel) }
            return .here
        }
    }
}
