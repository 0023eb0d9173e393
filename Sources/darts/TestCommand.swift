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
      a 'module.' prefix is removed; the file's tensors tell the CIFAR from the ImageNet network \
      (then C = 48, L = 14 and an image folder by default) and whether there is an auxiliary \
      head and its BN(768)). Image folders are tested on DIR/val (or DIR/test), resized to \
      size·256/224 and centre-cropped.
      """)

  @Option(help: "The weights file.") var checkpoint: String
  @Option(help: "Genotype name or JSON file (default: the one the file names, else DARTS_V2).") var genotype: String?
  @Option(help: "Dataset: demo, cifar10, cifar100, mnist, fashion-mnist, image-folder (default: that of the run the file is in, else image-folder for ImageNet-network weights, else demo).") var dataset: DatasetKind?
  @Option(help: "Dataset directory (default: that of the run the file is in, else the dataset's usual location).") var data: String?
  @Option(parsing: .unconditional, help: "Image folders: side of the centre crop (default: the size the network was trained at, else 224).") var imageSize: Int?
  @Option(parsing: .unconditional, help: "Initial channels C (default: as the file says, else 36, or 48 for the ImageNet network).") var initChannels: Int?
  @Option(parsing: .unconditional, help: "Cells L (default: as the file says, else 20, or 14 for the ImageNet network).") var layers: Int?
  @Option(parsing: .unconditional, help: "Test on only the first N test images.") var limit: Int?
  @Option(parsing: .unconditional, help: "Batch size.") var batchSize = 100
  @Option(parsing: .unconditional, help: "Threads.") var threads = 2
  @OptionGroup var backendOption: BackendOption

  func validate() throws {
    guard batchSize >= 1, limit.map({ $0 >= 1 }) ?? true else {
      throw ValidationError("--batch-size and --limit must be positive")
    }
    if let problem = CPUBackend.threadCountProblem(threads) { throw ValidationError(problem) }
  }

  func run() throws {
    try reportingFailures {
      if let warning = CPUBackend.threadCountWarning(threads) { warn(warning) }
      let url = URL(fileURLWithPath: checkpoint)
      let file = try NetworkWeights.read(from: url)
      // A file in a training run directory: test on that run's dataset unless told otherwise.
      let config = url.deletingLastPathComponent().appendingPathComponent("config.json")
      let run = try? JSONDecoder().decode(TrainSettings.self, from: Data(contentsOf: config))
      let dataset = dataset ?? run?.dataset ?? (file.stem == .imageNet ? .imageFolder : .demo)
      let directory = (data ?? (dataset == run?.dataset ? run?.dataDirectory : nil)).map { URL(fileURLWithPath: $0) }
      let testSet: any LabelledImages
      if dataset == .imageFolder {
        guard let directory else { throw ValidationError("--dataset image-folder needs --data DIR (DIR/val/<class>/<image> or DIR/test/<class>/<image>)") }
        let size = imageSize ?? file.description?.inputSize ?? dataset.imageSize
        guard size >= 16 else { throw ValidationError("--image-size must be at least 16") }
        testSet = try ImageFolder.load(.test, from: directory, transform: .evaluation(size: size))
      } else {
        if imageSize != nil { throw ValidationError("--image-size applies to image folders only") }
        testSet = AugmentedDataset(try dataset.load(.test, from: directory), augmentation: .evaluation)
      }
      let (channels, size) = (testSet.imageShape[0], testSet.imageShape[1])
      var description = file.inferredDescription(classes: testSet.classCount, inputChannels: channels, inputSize: size)
      if let genotype { description.genotype = try GenotypeCommand.load(genotype) }
      if let initChannels { description.channels = initChannels }
      if let layers { description.layers = layers }
      guard (description.inputChannels, description.classes) == (channels, testSet.classCount) else {
        throw ValidationError("\(checkpoint): the network takes \(description.inputChannels)-channel images in \(description.classes) classes, \(dataset) has \(channels) and \(testSet.classCount)")
      }
      var evaluated = description  // the test forward: at the test images' size, no auxiliary head
      (evaluated.inputSize, evaluated.auxiliary) = (size, false)
      if let problem = evaluated.problem(batch: batchSize, training: false) { throw ValidationError("\(checkpoint): \(problem)") }
      let backend = backendOption.backend.make(threads: threads)
      var factory = ParameterFactory(backend: backend, seed: 0)
      let network = description.build(using: &factory)
      try NetworkWeights.load(file, into: network)
      let sampler = BatchSampler(
        images: testSet, indices: 0..<min(limit ?? testSet.count, testSet.count), batchSize: batchSize,
        order: .sequential, seed: 0)
      let metrics: SplitMetrics
      do { metrics = try SplitMetrics.evaluate(network, on: sampler, backend: backend) } catch let error as NonFiniteError {
        throw ValidationError("\(checkpoint): \(error)")
      }
      emit(String(format: "test: loss %.4f  top-1 %.2f%%  top-5 %.2f%%  (%d images)", metrics.loss, 100 * metrics.top1, 100 * metrics.top5, metrics.count))
    }
  }
}
