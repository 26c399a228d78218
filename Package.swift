// swift-tools-version:6.0
// MedTransfer — transfer learning and domain-shift analysis for medical scans.
// Module layout and dependency direction: see ARCHITECTURE.md.
import PackageDescription

// Language mode. The numeric modules (kernels over raw pointers shared across
// `concurrentPerform` workers, C handles owned by classes) use Swift 5 mode:
// strict Sendable checking in Swift 6 mode rejects exactly the disjoint-range
// pointer sharing those kernels are built on, and wrapping every buffer in
// `@unchecked Sendable` boxes would add noise without adding safety. The
// orchestration modules (Studies, Reports) have no such kernels and use Swift 6
// mode; the CLI stays in 5 because it drives the numeric types directly.
let numeric: [SwiftSetting] = []
let v5 = SwiftLanguageMode.v5
#if arch(x86_64)
  let avx2: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-mavx2", "-Xcc", "-mfma"])]
#else
  let avx2: [SwiftSetting] = []
#endif

let package = Package(
  name: "MedTransfer",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "medtransfer", targets: ["MedTransferCLI"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
  ],
  targets: [
    // MARK: - C libraries (each imported by exactly one Swift module)
    .systemLibrary(
      name: "CBLAS", path: "Sources/CBLAS",
      providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(
      name: "CPNG", path: "Sources/CPNG",
      providers: [.apt(["libpng-dev"])]),
    .systemLibrary(
      name: "CJPEG", path: "Sources/CJPEG",
      providers: [.apt(["libjpeg62-turbo-dev"])]),
    .systemLibrary(
      name: "COpenJPEG", path: "Sources/COpenJPEG",
      providers: [.apt(["libopenjp2-7-dev"])]),
    .target(
      name: "CDCMTK", path: "Sources/CDCMTK",
      cxxSettings: [
        .unsafeFlags(["-I/usr/include/dcmtk"]),
        .define("HAVE_CONFIG_H"),
      ],
      linkerSettings: [
        // Debian's dcmtk.pc requires sndfile.pc, so pkg-config is not used:
        // the libraries are named explicitly, codec libraries first.
        .linkedLibrary("dcmjpls"), .linkedLibrary("dcmtkcharls"),
        .linkedLibrary("dcmjpeg"), .linkedLibrary("ijg8"), .linkedLibrary("ijg12"),
        .linkedLibrary("ijg16"), .linkedLibrary("dcmimage"), .linkedLibrary("dcmimgle"),
        .linkedLibrary("dcmdata"), .linkedLibrary("oflog"), .linkedLibrary("ofstd"),
        .linkedLibrary("z"), .linkedLibrary("stdc++"),
      ]),

    // MARK: - Swift modules (dependencies point down only)
    // LinearAlgebra owns CBLAS (BLAS + LAPACK from OpenBLAS) so that both Neural
    // and Metrics can use GEMM/eigen-decomposition while Metrics stays free of
    // the training engine. The first design had Metrics import CBLAS directly, which
    // contradicts "each C module is imported by exactly one Swift module".
    .target(
      name: "LinearAlgebra", dependencies: ["CBLAS"],
      swiftSettings: numeric),
    // The formats and places every module shares on disk: the JSON coder, SHA-256 (swift-crypto)
    // and the cache root. A leaf, so Datasets and Metrics (neither imports the other) share it.
    .target(
      name: "Interchange", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
    // The one seeded random generator (stable algorithms only), below everything that draws.
    .target(name: "Randomness", swiftSettings: numeric),
    .target(
      name: "ScanIO", dependencies: ["CDCMTK", "CJPEG", "COpenJPEG", "CPNG", "Interchange"],
      swiftSettings: numeric),
    // Neural's kernels (depthwise convolution, BatchNorm, activations) are plain loops that
    // LLVM vectorises; AVX2 doubles their vector width on x86-64 (every x86 CPU since 2013-15;
    // the measured machine is an AMD EPYC with AVX2 + FMA).
    .target(
      name: "Neural", dependencies: ["LinearAlgebra", "Randomness"],
      swiftSettings: numeric + avx2),
    .target(
      name: "Backbones",
      dependencies: [
        "Neural", "Randomness", "Interchange",
      ],
      swiftSettings: numeric),
    .target(
      name: "Datasets",
      dependencies: [
        "ScanIO", "Neural", "Randomness", "Interchange", "Yams",
      ],
      swiftSettings: numeric),
    .target(
      name: "Metrics", dependencies: ["LinearAlgebra", "Randomness", "Interchange"],
      swiftSettings: numeric),
    .target(
      name: "Adaptation",
      dependencies: ["Backbones", "Datasets", "Metrics", "Randomness", "Interchange"],
      swiftSettings: numeric),
    .target(
      name: "Studies",
      dependencies: [
        "Adaptation", "Interchange", "Yams", .product(name: "GRDB", package: "GRDB.swift"),
      ]),
    .target(
      name: "Reports", dependencies: ["Studies", "Metrics", "Interchange"]),
    .executableTarget(
      name: "MedTransferCLI",
      dependencies: [
        "LinearAlgebra", "Interchange", "ScanIO", "Neural", "Randomness", "Backbones", "Datasets",
        "Metrics",
        "Adaptation",
        "Studies", "Reports", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: numeric),

    // MARK: - Tests
    .target(
      name: "TestSupport",
      dependencies: ["Datasets", "Interchange", "Neural", "Randomness", "ScanIO"],
      path: "Tests/TestSupport"),
    .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra", "TestSupport"]),
    .testTarget(
      name: "ScanIOTests", dependencies: ["ScanIO", "TestSupport"], exclude: ["Fixtures"]),
    .testTarget(name: "NeuralTests", dependencies: ["Neural", "Randomness", "TestSupport"]),
    .testTarget(
      name: "BackbonesTests", dependencies: ["Backbones", "Randomness", "TestSupport"],
      exclude: ["Fixtures"]),
    .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Randomness", "TestSupport"]),
    .testTarget(
      name: "MetricsTests", dependencies: ["Metrics", "Randomness", "TestSupport"],
      exclude: ["Fixtures"]),
    .testTarget(
      name: "AdaptationTests", dependencies: ["Adaptation", "Metrics", "Randomness", "TestSupport"]),
    .testTarget(
      name: "StudiesTests", dependencies: ["Studies", "TestSupport"], exclude: ["Fixtures"]),
    .testTarget(name: "ReportsTests", dependencies: ["Reports", "Interchange", "TestSupport"]),
    // Every test that drives the real `medtransfer` binary (CLI, datasets, studies, reports).
    .testTarget(
      name: "CLITests", dependencies: ["Datasets", "Studies", "Reports", "TestSupport"]),
  ],
  swiftLanguageModes: [.v6]
)

// The numeric modules opt into Swift 5 mode (see the comment at the top).
for target in package.targets
where [
  "LinearAlgebra", "Randomness", "ScanIO", "Neural", "Backbones", "Datasets", "Metrics",
  "Adaptation",
  "MedTransferCLI", "TestSupport",
].contains(target.name) || target.type == .test {
  var settings = target.swiftSettings ?? []
  settings.append(.swiftLanguageMode(v5))
  target.swiftSettings = settings
}
