import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Runs the demo app on `host:port` until the process ends.
enum DemoAppServer {
    static func run(host: String, port: Int, exitWithParent: Bool) async throws {
        if exitWithParent { watchParent() }
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgraders: [HTTPServerProtocolUpgrader & Sendable] = [
                        EchoUpgrader(protocolName: "echo"), EchoUpgrader(protocolName: "websocket"),
                    ]
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: upgraders, completionHandler: { _ in })
                    )
                    try channel.pipeline.syncOperations.addHandler(DemoAppHandler())
                }
            }
            .bind(host: host, port: port)
            .get()
        let bound = channel.localAddress.map { "\($0.ipAddress ?? host):\($0.port ?? port)" } ?? "\(host):\(port)"
        FileHandle.standardError.write("demo-app listening on \(bound) (pid \(getpid()))\n".data(using: .utf8)!)
        try await channel.closeFuture.get()
    }

    /// Exits when the parent process goes away, so demo children never outlive `tugboat demo`.
    private static func watchParent() {
        let parent = getppid()
        Thread.detachNewThread {
            while true {
                Thread.sleep(forTimeInterval: 0.5)
                if getppid() != parent { exit(0) }
            }
        }
    }
}
