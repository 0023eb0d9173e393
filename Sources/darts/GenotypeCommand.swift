import ArgumentParser
import Datasets
import Evaluation
import Foundation
import NN
import SearchSpace
import TensorCore

struct GenotypeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "genotype",
    abstract: "List, show, count and draw built-in or searched genotypes.",
    subcommands: [List.self, Show.self, Params.self, Draw.self])

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
      abstract: "Count the parameters of the evaluation network of a genotype (auxiliary head excluded, as the reference logs it).",
      discussion: """
        CIFAR network (C = 36, L = 20, 10 classes) by default; --imagenet counts the ImageNet \
        network (two-part stem, C = 48, L = 14, 1000 classes). --dataset sets the classes and \
        input channels of a dataset; explicit options override both.
        """)
    @Argument(help: "A built-in name or a genotype JSON file.") var genotype: String
    @Flag(help: "The ImageNet network (the reference NetworkImageNet): C = 48, L = 14, 1000 classes unless given.") var imagenet = false
    @Option(help: "Dataset whose classes and image channels to use.") var dataset: DatasetKind?
    @Option(parsing: .unconditional, help: "Classes (default 10, 1000 with --imagenet, or the dataset's).") var classes: Int?
    @Option(parsing: .unconditional, help: "Cells L (default 20, 14 with --imagenet).") var layers: Int?
    @Option(parsing: .unconditional, help: "Initial channels C (default 36, 48 with --imagenet).") var initChannels: Int?
    @Option(parsing: .unconditional, help: "Input image channels (default 3, or the dataset's).") var inputChannels: Int?
    @OptionGroup var backendOption: BackendOption

    func validate() throws {
      for (name, value) in [("--classes", classes), ("--layers", layers), ("--init-channels", initChannels), ("--input-channels", inputChannels)] {
        if let value, value < 1 { throw ValidationError("\(name) must be positive, got \(value)") }
      }
      if imagenet, let initChannels, initChannels % 2 != 0 {
        throw ValidationError("--init-channels must be even for the ImageNet stem (C/2 channels), got \(initChannels)")
      }
    }

    func run() throws {
      try reportingFailures {
        let description = NetworkDescription(
          genotype: try GenotypeCommand.load(genotype), channels: initChannels ?? (imagenet ? 48 : 36),
          layers: layers ?? (imagenet ? 14 : 20), classes: classes ?? dataset?.classCount ?? (imagenet ? 1000 : 10),
          inputChannels: inputChannels ?? dataset?.imageChannels ?? 3, inputSize: imagenet ? 224 : 32, auxiliary: false,
          stem: imagenet ? .imageNet : .cifar)
        if let problem = description.problem(batch: 0, training: false) { throw ValidationError(problem) }
        var factory = ParameterFactory(backend: backendOption.backend.make(threads: 1), seed: 0)
        let count = description.build(using: &factory).referenceParameterCount
        emit(String(format: "param size = %.6fMB", Double(count) / 1e6))
        emit("\(count)")
      }
    }
  }

  struct Draw: ParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable {
      case svg, dot
    }

    static let configuration = CommandConfiguration(
      abstract: "Draw the normal and reduction cell of a genotype as SVG (laid out here, no Graphviz needed) or Graphviz DOT.")
    @Argument(help: "A built-in name or a genotype JSON file.") var genotype: String
    @Option(help: "Default: dot for an --output ending in .dot or .gv, else svg.") var format: Format?
    @Option(help: "Write to this file instead of standard output.") var output: String?

    func run() throws {
      try reportingFailures {
        let drawing = GenotypeDrawing(try GenotypeCommand.load(genotype))
        let byExtension: Format? = output.map { ["dot", "gv"].contains(URL(fileURLWithPath: $0).pathExtension.lowercased()) ? .dot : .svg }
        let text = (format ?? byExtension ?? .svg) == .dot ? drawing.dot() : drawing.svg()
        guard let output else {
          FileHandle.standardOutput.write(Data(text.utf8))
          return
        }
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic) } catch {
          throw ValidationError("\(output): cannot be written")
        }
      }
    }
  }
}
