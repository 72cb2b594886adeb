// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Herald",
    platforms: [.macOS(.v15)],  // Synchronization.Mutex
    products: [
        .executable(name: "herald", targets: ["herald"]),
        .library(name: "HeraldCore", targets: ["HeraldCore"]),
        .library(name: "HeraldChannels", targets: ["HeraldChannels"]),
        .library(name: "HeraldInbox", targets: ["HeraldInbox"]),
        .library(name: "HeraldReports", targets: ["HeraldReports"]),
        .library(name: "HeraldServer", targets: ["HeraldServer"]),
        .library(name: "HeraldRuntime", targets: ["HeraldRuntime"]),
        .library(name: "HeraldSQLite", targets: ["HeraldSQLite"]),
        .library(name: "HeraldPostgres", targets: ["HeraldPostgres"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", exact: "0.2.0"),
        // Without its default ConfigurationSupport trait: nothing here uses swift-configuration (21k lines to build).
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", exact: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        // `swift package generate-documentation` builds the DocC catalogs; CI's build does not use it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", exact: "1.5.0"),
        .package(url: "https://github.com/apple/swift-http-types", exact: "1.8.0"),
    ],
    targets: [
        .target(
            name: "HeraldCore",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .systemLibrary(
            name: "CLibcurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(name: "CCurl", dependencies: ["CLibcurl"]),
        .target(
            name: "HeraldChannels",
            dependencies: ["HeraldCore", "CCurl", "CLibcurl", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "HeraldInbox",
            dependencies: ["HeraldCore"]
        ),
        // The embedded adapter: every store over outbox/herald.sqlite (HeraldPostgres's twin).
        .target(
            name: "HeraldSQLite",
            dependencies: [
                "HeraldCore", "HeraldInbox",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        .target(
            name: "HeraldReports",
            dependencies: ["HeraldCore", .product(name: "Histogram", package: "hdrhistogram-swift")]
        ),
        .target(
            name: "HeraldServer",
            dependencies: [
                "HeraldCore", "HeraldInbox", "HeraldReports",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["openapi.yaml"]
        ),
        .target(
            name: "HeraldPostgres",
            dependencies: [
                "HeraldCore", "HeraldInbox",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "HeraldRuntime",
            dependencies: ["HeraldCore", "HeraldChannels", "HeraldInbox", "HeraldReports", "HeraldSQLite", "HeraldPostgres"]
        ),
        .executableTarget(
            name: "herald",
            dependencies: [
                "HeraldCore",
                "HeraldChannels",
                "HeraldInbox",
                "HeraldReports",
                "HeraldRuntime",
                "HeraldServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "herald-bench", dependencies: ["HeraldCore", "HeraldInbox", "HeraldSQLite"]),
        .target(name: "HeraldTestSupport", dependencies: ["HeraldCore", "HeraldPostgres"], path: "Tests/HeraldTestSupport"),
        .testTarget(name: "HeraldCoreTests", dependencies: ["HeraldCore", "HeraldTestSupport", "HeraldPostgres"]),
        .testTarget(name: "HeraldSQLiteTests", dependencies: [
            "HeraldSQLite", "HeraldCore", "HeraldTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .testTarget(name: "HeraldPostgresTests", dependencies: [
            "HeraldPostgres", "HeraldCore", "HeraldInbox", "HeraldTestSupport", .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        .testTarget(name: "HeraldRuntimeTests", dependencies: [
            "HeraldRuntime", "HeraldSQLite", "HeraldPostgres", "HeraldInbox", "HeraldCore", "HeraldTestSupport",
        ]),
        .testTarget(name: "HeraldChannelsTests", dependencies: ["HeraldChannels", "HeraldCore", "HeraldTestSupport"]),
        .testTarget(name: "HeraldInboxTests", dependencies: ["HeraldInbox", "HeraldCore", "HeraldTestSupport", "HeraldSQLite", "HeraldPostgres"]),
        .testTarget(name: "HeraldReportsTests", dependencies: ["HeraldReports", "HeraldCore", "HeraldTestSupport"]),
        .testTarget(name: "HeraldServerTests", dependencies: [
            "herald", "HeraldServer", "HeraldCore", "HeraldInbox", "HeraldChannels", "HeraldTestSupport",
            .product(name: "Yams", package: "Yams"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "HeraldCLITests", dependencies: ["herald", "HeraldCore", "HeraldTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
