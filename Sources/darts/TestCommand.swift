import ArgumentParser
import Datasets
import Evaluation
import Foundation
import NN
import TensorCore

struct TestCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "test",
    abstract: "Top-1 / top-5 accuracy and loss of trained weights on a test split (evaluation mode).",
    discussion: """
      --checkpoint takes a weights.safetensors or checkpoint.safetensors of a darts run (which \
      name their network), or a state_dict exported from the PyTorch reference network with \
      safetensors (then give --genotype, --init-channels, --layers and --dataset as trained; \
      a 'module.' prefix is removed; the auxiliary head is built if the file has one).
      """)

  @Option(help: "The weights file.") var checkpoint: String
  @Option(help: "Genotype name or JSON file (default: the one the file names, else DARTS_V2).") var genotype: String?
  @Option(help: "Dataset: demo, cifar10, cifar100, mnist, fashion-mnist (default: that of the run the file is in, else demo).") var dataset: DatasetKind?
  @Option(help: "Dataset directory (default: that of the run the file is in, else the dataset's usual location).") var data: String?
  @Option(help: "Initial channels C (default: as the file says, else 36).") var initChannels: Int?
  @Option(help: "Cells L (default: as the file says, else 20).") var layers: Int?
  @Option(help: "Test on only the first N test images.") var limit: Int?
  @Option(help: "Batch size.") var batchSize = 100
  @Option(help: "Threads.") var threads = 2

  func validate() throws {
    guard batchSize >= 1, threads >= 1, limit.map({ $0 >= 1 }) ?? true else {
      throw ValidationError("--batch-size, --threads and --limit must be positive")
    }
  }

  func run() throws {
    try reportingFailures {
      let url = URL(fileURLWithPath: checkpoint)
      let file = try NetworkWeights.read(from: url)
      // A file in a training run directory: test on that run's dataset unless told otherwise.
      let config = url.deletingLastPathComponent().appendingPathComponent("config.json")
      let run = try? JSONDecoder().decode(TrainSettings.self, from: Data(contentsOf: config))
      let dataset = dataset ?? run?.dataset ?? .demo
      let directory = data ?? (dataset == run?.dataset ? run?.dataDirectory : nil)
      let testSet = try dataset.load(.test, from: directory.map { URL(fileURLWithPath: $0) })
      var description = file.description ?? NetworkDescription(
        genotype: .dartsV2, channels: 36, layers: 20, classes: testSet.classCount, inputChannels: testSet.channels,
        inputSize: testSet.height, auxiliary: file.hasAuxiliaryHead)
      if let genotype { description.genotype = try GenotypeCommand.load(genotype) }
      if let initChannels { description.channels = initChannels }
      if let layers { description.layers = layers }
      guard (description.inputChannels, description.classes) == (testSet.channels, testSet.classCount) else {
        throw ValidationError("\(checkpoint): the network takes \(description.inputChannels)-channel images in \(description.classes) classes, \(dataset) has \(testSet.channels) and \(testSet.classCount)")
      }
      let backend = CPUBackend(threads: threads)
      var factory = ParameterFactory(backend: backend, seed: 0)
      let network = description.build(using: &factory)
      try NetworkWeights.load(file, into: network)
      let sampler = BatchSampler(
        dataset: testSet, indices: 0..<min(limit ?? testSet.count, testSet.count), batchSize: batchSize,
        order: .sequential, augmentation: .evaluation, seed: 0)
      let metrics = try SplitMetrics.evaluate(network, on: sampler, backend: backend)
      emit(String(format: "test: loss %.4f  top-1 %.2f%%  top-5 %.2f%%  (%d images)", metrics.loss, 100 * metrics.top1, 100 * metrics.top5, metrics.count))
    }
  }
}
