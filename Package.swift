// swift-tools-version: 6.1
import PackageDescription

/// The data flow, as targets (ARCHITECTURE.md): DaxRigSupport, then DaxRigKernel,
/// DaxRigImage and DaxRigMachine, then DaxRigRun, DaxRigResults and DaxRig (the
/// campaigns); `daxrig` only parses arguments and prints; the guest agent is the
/// guest's PID 1, with its pure logic in GuestCore, and shares only DaxRigProtocol
/// with the host.
let package = Package(
    name: "daxrig",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "daxrig", targets: ["daxrig"]),
        .executable(name: "daxrig-agent", targets: ["GuestAgent"]),
        .library(name: "DaxRig", targets: ["DaxRig"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibvirt",
            pkgConfig: "libvirt",
            providers: [.apt(["libvirt-dev"])]
        ),
        .systemLibrary(
            name: "CCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // glibc's memmem (a GNU extension the Glibc module leaves out): libc, nothing to link.
        .systemLibrary(name: "CBytes"),
        .target(
            name: "DaxRigProtocol",
            // Optimized in every configuration, as the agent is: the agent's loops call
            // into it (pattern seeds, stress layouts), and a -Onone seed computed per
            // word made a 32 MiB read-back take 250 s under TCG in `swift test`.
            swiftSettings: [.unsafeFlags(["-O"])]
        ),
        // The floors, lowest first: each target imports only targets above it in this list
        // (ARCHITECTURE.md). The compiler holds the arrows pointing down; FloorsTests holds
        // each target to the dependencies listed here (SwiftPM lets it import transitive ones).
        .target(
            name: "DaxRigSupport",
            dependencies: ["CCrypto", .product(name: "TOMLKit", package: "TOMLKit")]
        ),
        .target(
            name: "DaxRigKernel",
            dependencies: ["DaxRigSupport"],
            // The default fragment lives once, under kernels/configs; Defaults/ links to it
            // so that it is compiled into daxrig and a bare binary still has it.
            resources: [.embedInCode("Defaults/pmem-dax.config")]
        ),
        .target(
            name: "DaxRigImage",
            dependencies: ["DaxRigSupport", "DaxRigProtocol"],
            resources: [.embedInCode("Defaults/guest.recipe")]
        ),
        .target(
            name: "DaxRigMachine",
            dependencies: ["DaxRigSupport", "DaxRigProtocol", "DaxRigImage", "CLibvirt", "CBytes"]
        ),
        .target(
            name: "DaxRigRun",
            dependencies: ["DaxRigSupport", "DaxRigKernel", "DaxRigImage", "DaxRigMachine", "DaxRigProtocol"],
            resources: [.embedInCode("Defaults/default.toml")]
        ),
        .target(
            name: "DaxRigResults",
            dependencies: ["DaxRigSupport", "DaxRigKernel", "DaxRigMachine", "DaxRigRun", "DaxRigProtocol",
                           .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .target(
            name: "DaxRig",
            dependencies: ["DaxRigSupport", "DaxRigKernel", "DaxRigImage", "DaxRigMachine", "DaxRigRun", "DaxRigResults",
                           "DaxRigProtocol"]
        ),
        .executableTarget(
            name: "daxrig",
            dependencies: [
                "DaxRig", "DaxRigSupport", "DaxRigKernel", "DaxRigImage", "DaxRigMachine", "DaxRigRun", "DaxRigResults", "DaxRigProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "GuestCore",
            dependencies: ["DaxRigProtocol"],
            // Optimized in every configuration, as the agent that runs it is.
            swiftSettings: [.unsafeFlags(["-O"])]
        ),
        .executableTarget(
            name: "GuestAgent",
            dependencies: ["DaxRigProtocol", "GuestCore"],
            // Optimized in every configuration: the agent's loops (pattern stores and
            // checks, fault timing) run under TCG, where a debug build is many times
            // slower and its timings mean nothing.
            swiftSettings: [.unsafeFlags(["-O"])],
            // PID 1 of the guest has no libraries around it: link everything in.
            linkerSettings: [.unsafeFlags([
                "-static-executable",
                // FoundationEssentials' own static dependencies, which autolinking misses here.
                "-l_FoundationCollections", "-l_FoundationCShims", "-lswiftSynchronization",
            ])]
        ),
        .testTarget(name: "DaxRigTests", dependencies: ["DaxRig", "DaxRigSupport", "DaxRigKernel", "DaxRigImage", "DaxRigMachine", "DaxRigRun", "DaxRigResults", "DaxRigProtocol", "GuestCore"], exclude: ["Fixtures"]),
        .testTarget(name: "IntegrationTests", dependencies: ["DaxRig", "DaxRigSupport", "DaxRigKernel", "DaxRigImage", "DaxRigMachine", "DaxRigRun", "DaxRigResults", "DaxRigProtocol"]),
    ],
    swiftLanguageModes: [.v6]
)
