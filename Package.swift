// swift-tools-version:6.0
// Warren: a clustered secure-tunnel gateway. No package dependencies by design:
// TLS and crypto come from the system OpenSSL 3 through COpenSSL + CShim.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Warren",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "warren", targets: ["Node"]),
        .library(name: "Tunnel", targets: ["Tunnel"]),
        .library(name: "Consensus", targets: ["Consensus"]),
    ],
    dependencies: [],
    targets: [
        // The system OpenSSL 3 (libssl-dev), imported as a module.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // What Swift cannot import: OpenSSL's function-like macros, epoll/eventfd/accept4.
        .target(name: "CShim", dependencies: ["COpenSSL"]),
        // The wire: event loops, sockets, TLS, PKI. Knows nothing of Raft.
        .target(name: "Tunnel", dependencies: ["CShim", "COpenSSL"], swiftSettings: strict),
        // Raft: a pure core, its storage and its wire codec. Knows nothing of sockets.
        .target(name: "Consensus", swiftSettings: strict),
        // The `warren` executable: composes Tunnel and Consensus.
        // The console's static files are compiled in (Sources/Node/Console/Static).
        .executableTarget(
            name: "Node", dependencies: ["Tunnel", "Consensus"], resources: [.embedInCode("Console/Static")],
            swiftSettings: strict),
        .testTarget(name: "TunnelTests", dependencies: ["Tunnel"], swiftSettings: strict),
        .testTarget(
            name: "ConsensusTests", dependencies: ["Consensus"], exclude: ["Transcripts/testdata"],
            swiftSettings: strict),
        .testTarget(name: "NodeTests", dependencies: ["Node", "Tunnel"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
