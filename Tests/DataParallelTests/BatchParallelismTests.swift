import DataParallel
import Datasets
import NN
import TensorCore
import XCTest

/// Micro-batches in one process: the weighted chunk gradients sum to the whole batch's
/// gradient, and BatchNorm's running statistics end as the mean of the chunks' updates.
final class BatchParallelismTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  /// A small classifier `[n, 3, 4, 4] → 5` with a BatchNorm (or without, where chunks must
  /// reproduce the whole batch exactly).
  final class Classifier: Module {
    let norm: BatchNorm2d?
    let linear: Linear
    init(batchNorm: Bool, using factory: inout ParameterFactory) {
      norm = batchNorm ? BatchNorm2d(3, using: &factory) : nil
      linear = Linear(48, 5, using: &factory)
      super.init()
    }
    func logits(_ x: Tensor) -> Tensor {
      let y = norm.map { $0(x) } ?? x
      return linear(y.reshaped(to: [x.shape[0], 48]))
    }
  }

  func batch(_ n: Int) -> (Tensor, [Int]) {
    var generator = SeededGenerator(seed: 7)
    let x = Tensor(shape: [n, 3, 4, 4], scalars: (0..<(n * 48)).map { _ in Float.random(in: -2...2, using: &generator) }, on: backend)
    return (x, (0..<n).map { ($0 * 3) % 5 })
  }

  func gradients(_ model: Classifier, _ x: Tensor, _ labels: [Int], shard: BatchShard) throws -> BatchParallelism.Result {
    let parallelism = BatchParallelism(group: .single(), shard: shard)
    let weights = model.parameters(.weight).map(\.value)
    return try parallelism.gradients(batchCount: labels.count, wrt: weights, buffers: model.parameters(.buffer), valueCount: 1) { _, rows in
      let part = withoutGradients { x.sliced(lower: [rows.lowerBound, 0, 0, 0], upper: [rows.upperBound, 3, 4, 4]) }
      let loss = model.logits(part).crossEntropy(labels: Array(labels[rows]))
      return .init(objective: loss, values: [Double(loss.scalar)], correct: rows.count)
    }
  }

  func testChunkGradientsSumToTheWholeBatchGradient() throws {
    for (n, k) in [(12, 2), (11, 3), (5, 4), (3, 4)] {  // even, uneven, a partial batch, an empty chunk
      var factory = ParameterFactory(backend: backend, seed: 3)
      let model = Classifier(batchNorm: false, using: &factory)
      let (x, labels) = batch(n)
      let whole = try gradients(model, x, labels, shard: .whole)
      let chunked = try gradients(model, x, labels, shard: BatchShard(chunks: 0..<k, chunkCount: k))
      XCTAssertEqual(chunked.count, n)
      XCTAssertEqual(chunked.correct, n)
      XCTAssertEqual(chunked.values[0], whole.values[0], accuracy: 1e-6 * abs(whole.values[0]), "n \(n) K \(k)")
      for (a, b) in zip(chunked.gradients, whole.gradients) {
        for (u, v) in zip(a.scalars, b.scalars) { XCTAssertEqual(u, v, accuracy: 1e-6 + 1e-5 * abs(v), "n \(n) K \(k)") }
      }
    }
  }

  func testRunningStatisticsAreTheMeanOfTheChunksUpdates() throws {
    var factory = ParameterFactory(backend: backend, seed: 3)
    let model = Classifier(batchNorm: true, using: &factory)
    let (x, labels) = batch(8)
    _ = try gradients(model, x, labels, shard: BatchShard(chunks: 0..<2, chunkCount: 2))
    // running = 0.9·0 + 0.1·mean of the chunk means (mean); 0.9·1 + 0.1·mean of the unbiased chunk variances.
    let values = x.scalars
    for channel in 0..<3 {
      var means: [Double] = [], variances: [Double] = []
      for chunk in 0..<2 {
        let samples = (chunk * 4..<(chunk + 1) * 4).flatMap { image in (0..<16).map { Double(values[image * 48 + channel * 16 + $0]) } }
        let mean = samples.reduce(0, +) / Double(samples.count)
        means.append(mean)
        variances.append(samples.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(samples.count - 1))
      }
      let runningMean = Double(model.norm!.runningMean.value.scalars[channel])
      let runningVariance = Double(model.norm!.runningVariance.value.scalars[channel])
      XCTAssertEqual(runningMean, 0.1 * (means[0] + means[1]) / 2, accuracy: 1e-6)
      XCTAssertEqual(runningVariance, 0.9 + 0.1 * (variances[0] + variances[1]) / 2, accuracy: 1e-5)
    }
  }

  func testOneChunkIsThePlainGradient() throws {
    var factory = ParameterFactory(backend: backend, seed: 3)
    let model = Classifier(batchNorm: true, using: &factory)
    let (x, labels) = batch(6)
    let result = try gradients(model, x, labels, shard: .whole)
    var again = ParameterFactory(backend: backend, seed: 3)
    let twin = Classifier(batchNorm: true, using: &again)
    let loss = twin.logits(x).crossEntropy(labels: labels)
    let plain = TensorCore.gradients(of: loss, wrt: twin.parameters(.weight).map(\.value))
    for (a, b) in zip(result.gradients, plain) { XCTAssertEqual(a.scalars, b.scalars) }
    XCTAssertEqual(model.norm!.runningMean.value.scalars, twin.norm!.runningMean.value.scalars)
  }

  func testBatchesThatCannotBeSharedAreNamed() {
    XCTAssertNil(BatchParallelism.problem(batchSize: 64, microBatches: nil, processes: 2))
    XCTAssertNil(BatchParallelism.problem(batchSize: 64, microBatches: 4, processes: 2))
    XCTAssertEqual(BatchParallelism.problem(batchSize: 63, microBatches: nil, processes: 2),
                   "--batch-size 63 does not divide across 2 processes (the global batch is split evenly among them)")
    XCTAssertEqual(BatchParallelism.problem(batchSize: 64, microBatches: 3, processes: 1), "--batch-size 64 does not split into 3 equal micro-batches")
    XCTAssertEqual(BatchParallelism.problem(batchSize: 64, microBatches: 0, processes: 1), "--micro-batches must be in 1...64 (the batch size), got 0")
    XCTAssertTrue(BatchParallelism.problem(batchSize: 64, microBatches: 2, processes: 4)!.contains("4 processes cannot share"))
  }

  func testStateChecksumSeesEveryBit() {
    let a = Tensor(shape: [3], scalars: [1, 2, 3], on: backend)
    let b = Tensor(shape: [3], scalars: [1, 2, Float(bitPattern: Float(3).bitPattern ^ 1)], on: backend)
    XCTAssertEqual(StateChecksum.of(["w": a]), StateChecksum.of(["w": a.copied()]))
    XCTAssertNotEqual(StateChecksum.of(["w": a]), StateChecksum.of(["w": b]))
    XCTAssertNotEqual(StateChecksum.of(["w": a]), StateChecksum.of(["v": a]))
  }
}
