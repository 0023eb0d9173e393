import ArgumentParser
import Evaluation
import Foundation
import NN
import SearchSpace
import TensorCore

struct GenotypeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "genotype",
    abstract: "List, show and count built-in or searched genotypes.",
    subcommands: [List.self, Show.self, Params.self])

  /// A built-in genotype name (`DARTS_V2`) or a genotype JSON file.
  static func load(_ nameOrFile: String) throws -> Genotype {
    if let genotype = Genotype.published[nameOrFile] { return genotype }
    guard FileManager.default.fileExists(atPath: nameOrFile) else {
      throw ValidationError("\(nameOrFile): neither a built-in genotype (\(Genotype.published.keys.sorted().joined(separator: ", "))) nor a file")
    }
    return try Genotype.load(from: URL(fileURLWithPath: nameOrFile))
  }

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the built-in genotypes.")
    func run() {
      for name in Genotype.published.keys.sorted() { emit(name) }
    }
  }

  struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a genotype as a table and as JSON.")
    @Argument(help: "A built-in name or a genotype JSON file.") var genotype: String
    func run() throws {
      try reportingFailures {
        let g = try GenotypeCommand.load(genotype)
        for (cell, edges) in [("normal", g.normal), ("reduce", g.reduce)] {
          emit("\(cell) cell")
          for node in 0..<(edges.count / 2) {
            let pair = edges[(2 * node)...(2 * node + 1)].map { "\($0.operation.name) ← \($0.input)" }
            emit("  node \(node + 2): " + pair.joined(separator: ", "))
          }
        }
        emit("normal concat \(g.normalConcat), reduce concat \(g.reduceConcat)")
        emit(String(decoding: try g.jsonData(), as: UTF8.self))
      }
    }
  }

  struct Params: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Count the parameters of the evaluation network of a genotype (auxiliary head excluded, as the reference logs it).")
    @Argument(help: "A built-in name or a genotype JSON file.") var genotype: String
    @Option(help: "Classes.") var classes = 10
    @Option(help: "Cells L.") var layers = 20
    @Option(help: "Initial channels C.") var initChannels = 36
    @Option(help: "Input image channels.") var inputChannels = 3
    func run() throws {
      try reportingFailures {
        let g = try GenotypeCommand.load(genotype)
        var factory = ParameterFactory(backend: CPUBackend(threads: 1), seed: 0)
        let network = EvaluationNetwork(genotype: g, channels: initChannels, layers: layers, classes: classes, inputChannels: inputChannels, auxiliary: false, using: &factory)
        let count = network.referenceParameterCount
        emit(String(format: "param size = %.6fMB", Double(count) / 1e6))
        emit("\(count)")
      }
    }
  }
}
