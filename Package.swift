// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [.swiftLanguageMode(.v6)]
/// The proxy's hot path: release builds skip dynamic exclusivity checks (they showed as ~3 % of the
/// proxy's CPU under `bench/proxy.sh`); debug builds, and so the tests, keep them.
let hotPathSettings: [SwiftSetting] = swiftSettings + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Tugboat",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tugboat", targets: ["tugboat"]),
        .library(name: "FlameGraph", targets: ["FlameGraph"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
    ],
    targets: [
        .target(
            name: "TugboatCore",
            dependencies: [
                "CSpawn",
                "CBuildInfo",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TugboatNetwork",
            dependencies: [
                "TugboatCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TugboatProxy",
            dependencies: [
                "CProxyIO",
                "TugboatNetwork",
                "TugboatCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: hotPathSettings
        ),
        // ACME (RFC 8555): the client, the renewal decisions and the service that keeps the
        // public listener's ACME certificates; its own module so that Crypto and X509 stay out of
        // the data plane.
        .target(
            name: "TugboatACME",
            dependencies: [
                "TugboatCluster",
                "TugboatCore",
                "TugboatProxy",
                "TugboatStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TugboatHealth",
            dependencies: [
                "TugboatNetwork",
                "TugboatCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TugboatStore",
            dependencies: [
                "TugboatCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TugboatAlerts",
            dependencies: [
                "TugboatNetwork",
                "TugboatCore",
                "TugboatStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TugboatScaling",
            dependencies: [
                "TugboatNetwork",
                "TugboatCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),  // Kubernetes: the cluster CA, client certificates
                .product(name: "Yams", package: "Yams"),  // Kubernetes: kubeconfig files
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TugboatAdmin",
            dependencies: [
                "FlameGraph",
                "TugboatCore",
                "TugboatProxy",
                "TugboatStore",
                "TugboatAlerts",
                "TugboatScaling",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),  // admin.tls
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TugboatRedis",
            dependencies: [
                "TugboatNetwork",
                "TugboatCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),  // rediss://
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TugboatCluster",
            dependencies: [
                "TugboatCore",
                "TugboatRedis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TugboatCapture",
            dependencies: [
                "TugboatNetwork",
                "TugboatCore",
                "FlameGraph",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(name: "CSpawn"),
        .target(name: "CProxyIO"),
        .target(name: "CBuildInfo"),
        .target(
            name: "FlameGraph",
            dependencies: ["CZlib"],
            swiftSettings: swiftSettings
        ),
        // The running system: one ServiceGroup wiring the modules (`TugboatRuntime`), the glue
        // services (cluster bridge and its pure registry reconciler, crash forensics, reload,
        // scaling setup); the executable keeps only the commands.
        .target(
            name: "TugboatRuntime",
            dependencies: [
                "TugboatNetwork",
                "TugboatCore",
                "TugboatProxy",
                "TugboatHealth",
                "TugboatAdmin",
                "TugboatAlerts",
                "TugboatScaling",
                "TugboatStore",
                "TugboatCapture",
                "TugboatCluster",
                "TugboatRedis",
                "TugboatACME",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tugboat",
            dependencies: [
                "TugboatRuntime",
                "TugboatCore",
                "TugboatAlerts",  // `demo`'s monitors and rules
                "TugboatCapture",  // `demo`'s profiling
                "TugboatProxy",
                "FlameGraph",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),  // `healthcheck` on an admin listener with TLS
            ],
            swiftSettings: swiftSettings
        ),
        // Not shipped: the listener both contract servers share.
        .target(
            name: "ContractSupport",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),  // tugboat-kube-contract's HTTPS with client certificates
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tugboat-contract",
            dependencies: [
                "ContractSupport",
                "TugboatCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Not shipped: a stand-in for the Kubernetes API (scale, EndpointSlices, Leases) whose pods are demo-app processes.
        .executableTarget(
            name: "tugboat-kube-contract",
            dependencies: [
                "ContractSupport",
                "TugboatCore",
                "TugboatScaling",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Not shipped: the differential fuzz harness of fuzz/run.sh (the byte-level request path
        // against NIO's llhttp decoder).
        .executableTarget(
            name: "tugboat-fuzz-diff",
            dependencies: [
                "TugboatProxy",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "fuzz/diff",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TugboatAlertsTests",
            dependencies: [
                "TugboatAlerts", "TugboatStore", "TugboatCore", "TestSupport",
                // The email, PagerDuty and Opsgenie senders' live tests (a real SMTP server, the contract server).
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                // A real store made to refuse writes, as on a full disk (Support/RefusingStore.swift).
                .product(name: "GRDB", package: "GRDB.swift"),
                // The outbox shut down mid-delivery as `tugboat serve` does.
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["Support/smtp_test_server.py"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TugboatScalingTests", dependencies: ["TugboatScaling", "TugboatCore", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "TugboatCoreTests", dependencies: ["TugboatCore", "TestSupport", .product(name: "Yams", package: "Yams")],
                    swiftSettings: swiftSettings),
        .testTarget(
            name: "TugboatProxyTests",
            dependencies: [
                "TugboatProxy", "TugboatCore", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TugboatACMETests",
            dependencies: ["TugboatACME", "TugboatCore", "TugboatStore", "TugboatProxy", "TestSupport", .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "X509", package: "swift-certificates"), .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TugboatAdminTests",
            dependencies: ["TugboatAdmin", "TugboatProxy", "TugboatCore", "TugboatAlerts", "TugboatScaling", .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TugboatHealthTests", dependencies: ["TugboatHealth", "TugboatCore", "TestSupport", .product(name: "NIOPosix", package: "swift-nio")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "TugboatStoreTests", dependencies: ["TugboatStore", "TugboatCore", .product(name: "GRDB", package: "GRDB.swift")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "FlameGraphTests", dependencies: ["FlameGraph"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        // Not shipped: test helpers shared by test targets (a real redis-server, loopback HTTP checks).
        .target(
            name: "TestSupport",
            dependencies: ["TugboatRedis", .product(name: "NIOPosix", package: "swift-nio"), .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport", swiftSettings: swiftSettings
        ),
        .testTarget(name: "TugboatRedisTests", dependencies: ["TugboatRedis", "TugboatCore", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "TugboatClusterTests", dependencies: ["TugboatCluster", "TugboatRedis", "TugboatCore", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "TugboatRuntimeTests", dependencies: ["TugboatRuntime", "TugboatCluster", "TugboatScaling", "TugboatCore", "TugboatStore", "TestSupport",
                                                           // The whole config's load (Config/): every section's module.
                                                           "TugboatAdmin", "TugboatAlerts", "TugboatCapture", "TugboatProxy", "TugboatRedis"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "TugboatCaptureTests", dependencies: ["TugboatCapture", "TugboatCore", "FlameGraph", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TugboatEndToEndTests",
            dependencies: [
                "TugboatCore",
                "TestSupport",  // TestCertificates
                // The Twilio callback routes run in-process on a real listener (TwilioCallbackRouteTests).
                "TugboatAdmin", "TugboatAlerts",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                // The HTTP/2 attack tests speak raw frames over TLS (HTTP2Tests).
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
