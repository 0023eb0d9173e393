// swift-tools-version: 6.0
//
// darts: differentiable architecture search (DARTS, P-DARTS, PC-DARTS) in Swift.
//
// NOTE: release builds compile for the CPU of the building machine (`-target-cpu native`).
// Without it, swiftc targets baseline x86-64, where `SIMD16<Float>` fused multiply-adds lower
// to library calls and the kernels run about 100x slower. The price is portability: a release
// binary built on an AVX-512 machine will not start on a CPU without AVX-512. Build on the
// machine that runs it (or replace `native` with a named CPU such as `x86-64-v3`). Only the
// kernels (`CPUKernels`, called after TensorCore has checked the shapes) drop overflow and bounds
// checks (`-Ounchecked`); every other target keeps its preconditions, so a wrong shape inside
// the library traps instead of reading past a buffer. Debug builds keep the default flags.
import PackageDescription

let releaseKernelFlags: [SwiftSetting] = [
  .unsafeFlags(["-Ounchecked", "-target-cpu", "native"], .when(configuration: .release))
]
let releaseFlags: [SwiftSetting] = [
  .unsafeFlags(["-target-cpu", "native"], .when(configuration: .release))
]

let package = Package(
  name: "darts",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "darts", targets: ["darts"]),
    .library(name: "TensorCore", targets: ["TensorCore"]),
    .library(name: "NN", targets: ["NN"]),
    .library(name: "Datasets", targets: ["Datasets"]),
    .library(name: "Runs", targets: ["Runs"]),
    .library(name: "SearchSpace", targets: ["SearchSpace"]),
    .library(name: "DataParallel", targets: ["DataParallel"]),
    .library(name: "Search", targets: ["Search"]),
    .library(name: "Evaluation", targets: ["Evaluation"]),
    .library(name: "ONNXExport", targets: ["ONNXExport"]),
    .library(name: "LanguageModels", targets: ["LanguageModels"]),
    .library(name: "_TestSupport", targets: ["_TestSupport"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.0.0")
  ],
  // Each target lists exactly the modules its files import.
  targets: [
    // MARK: Public API
    .target(name: "CCPUFeatures", path: "Sources/CCPUFeatures"),
    .target(name: "CPUKernels", dependencies: ["CCPUFeatures"], swiftSettings: releaseKernelFlags),
    .target(name: "Diagnostics", swiftSettings: releaseFlags),
    .target(name: "ProtobufEncoding", swiftSettings: releaseFlags),
    .target(name: "TensorBoard", dependencies: ["ProtobufEncoding"], swiftSettings: releaseFlags),
    .target(name: "TensorCore", dependencies: ["CPUKernels"], swiftSettings: releaseFlags),
    .target(name: "NN", dependencies: ["TensorCore"], swiftSettings: releaseFlags),
    .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
    .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),
    .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng16", providers: [.apt(["libpng-dev"])]),
    .target(
      name: "Datasets", dependencies: ["TensorCore", "Diagnostics", "CZlib", "CJPEG", "CPNG"], resources: [.copy("Demo"), .copy("DemoText")],
      swiftSettings: releaseFlags),
    .target(name: "SearchSpace", dependencies: ["TensorCore", "NN", "Diagnostics"], swiftSettings: releaseFlags),
    .target(name: "DataParallel", dependencies: ["TensorCore", "NN", "Datasets"], swiftSettings: releaseFlags),
    .target(name: "Search", dependencies: ["TensorCore", "SearchSpace", "NN", "Datasets", "Runs", "DataParallel"], swiftSettings: releaseFlags),
    .target(name: "Evaluation", dependencies: ["TensorCore", "SearchSpace", "NN", "Datasets", "Runs", "Diagnostics", "DataParallel"], swiftSettings: releaseFlags),
    .target(name: "Runs", dependencies: ["TensorCore", "Datasets", "Diagnostics", "DataParallel", "TensorBoard"], swiftSettings: releaseFlags),
    .target(name: "LanguageModels", dependencies: ["TensorCore", "NN", "SearchSpace"], swiftSettings: releaseFlags),
    .target(name: "ONNXExport", dependencies: ["TensorCore", "NN", "SearchSpace", "Evaluation", "ProtobufEncoding"], swiftSettings: releaseFlags),
    .target(name: "Benchmarks", dependencies: ["CPUKernels", "TensorCore", "NN", "SearchSpace", "Search", "Evaluation", "Runs", "DataParallel"], swiftSettings: releaseFlags),
    .executableTarget(
      name: "darts",
      dependencies: [
        "TensorCore", "NN", "Datasets", "SearchSpace", "Search", "Evaluation", "ONNXExport", "Runs", "Benchmarks", "DataParallel",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: releaseFlags),

    // MARK: Test support
    .target(name: "_TestSupport", dependencies: ["TensorCore", "CJPEG", "CPNG"], path: "Sources/_TestSupport"),

    // MARK: Unit test bundles
    .testTarget(name: "CPUKernelsTests", dependencies: ["CPUKernels", "_TestSupport"]),
    .testTarget(name: "DiagnosticsTests", dependencies: ["Diagnostics"]),
    .testTarget(name: "ProtobufEncodingTests", dependencies: ["ProtobufEncoding"]),
    .testTarget(name: "TensorBoardTests", dependencies: ["TensorBoard"]),
    .testTarget(
      name: "TensorCoreTests", dependencies: ["TensorCore", "_TestSupport"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "NNTests", dependencies: ["NN", "TensorCore", "_TestSupport"], resources: [.copy("Fixtures")]),
    .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "TensorCore", "_TestSupport"], resources: [.copy("Fixtures")]),
    .testTarget(name: "DataParallelTests", dependencies: ["DataParallel", "Datasets", "NN", "TensorCore", "_TestSupport"]),
    .testTarget(name: "RunsTests", dependencies: ["Runs", "Datasets", "TensorCore", "TensorBoard"]),
    .testTarget(name: "SearchSpaceTests", dependencies: ["SearchSpace", "NN", "TensorCore", "_TestSupport"]),
    .testTarget(
      name: "SearchTests", dependencies: ["Search", "SearchSpace", "NN", "Datasets", "Runs", "TensorCore", "_TestSupport"], resources: [.copy("Fixtures")]),
    .testTarget(
      name: "EvaluationTests", dependencies: ["Evaluation", "SearchSpace", "NN", "Datasets", "Runs", "TensorCore", "_TestSupport"], resources: [.copy("Fixtures")]),
    .testTarget(name: "LanguageModelsTests", dependencies: ["LanguageModels", "SearchSpace", "NN", "TensorCore", "_TestSupport"], resources: [.copy("Fixtures")]),
    .testTarget(name: "ONNXExportTests", dependencies: ["ONNXExport", "Evaluation", "SearchSpace", "NN", "TensorCore"]),
    .testTarget(name: "DartsCLITests", dependencies: ["darts", "Evaluation", "SearchSpace", "NN", "Runs", "TensorCore", "_TestSupport"]),
  ]
)
