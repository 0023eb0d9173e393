// swift-tools-version: 6.0
//
// libFuzzer targets for the parsers of untrusted bytes in the root package (safetensors, run
// config and checkpoint state JSON, genotype JSON, IDX with gzip, CIFAR binaries, PNG and JPEG).
//
// Build and run through `Scripts/fuzz.sh`, which passes the instrumentation to every module
// (the root package's parsers included, so that libFuzzer sees their coverage):
//
//     swift build -c release --package-path Fuzz \
//       -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//
// Each executable is a libFuzzer binary: libFuzzer provides `main` and calls the target's
// `LLVMFuzzerTestOneInput` once per input. A target only decodes and lets errors be thrown and
// caught; a trap, crash, timeout or allocation over the memory limit is a finding.
import Foundation
import PackageDescription

// SwiftPM names a path dependency after its directory, which differs between checkouts.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let darts = root.lastPathComponent

func fuzzTarget(_ name: String, _ products: [String]) -> Target {
  .executableTarget(
    name: name,
    dependencies: ["FuzzSupport"] + products.map { .product(name: $0, package: darts) })
}

let package = Package(
  name: "DartsFuzz",
  platforms: [.macOS(.v15)],
  dependencies: [.package(path: root.path)],
  targets: [
    .systemLibrary(name: "CLibFuzzer"),
    .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"]),
    fuzzTarget("FuzzSafetensors", ["Runs", "TensorCore"]),
    fuzzTarget("FuzzConfig", ["Runs", "Search", "Evaluation", "TensorCore"]),
    fuzzTarget("FuzzGenotype", ["SearchSpace"]),
    fuzzTarget("FuzzIDX", ["Datasets"]),
    fuzzTarget("FuzzCIFAR", ["Datasets"]),
    fuzzTarget("FuzzImage", ["Datasets"]),
    .executableTarget(
      name: "FuzzCorpus",
      dependencies: ["Datasets", "Evaluation", "Runs", "Search", "SearchSpace", "TensorCore", "_TestSupport"].map { .product(name: $0, package: darts) }),
  ]
)
