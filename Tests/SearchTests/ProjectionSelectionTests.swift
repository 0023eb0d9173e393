import NN
import Search
import SearchSpace
import TensorCore
import XCTest
import _TestSupport

/// DARTS-PT (SPEC-ROBUST §3): the decision rules on injected scores, the schedule and the
/// decision count over a whole selection, and the projected weights with their gradient.
final class ProjectionSelectionTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  /// A scoring function of fixed accuracies (loss `1 − accuracy`) by index.
  func scores(_ accuracies: [Double]) -> (Int) -> ProjectionScore {
    { ProjectionScore(loss: 1 - accuracies[$0], accuracy: accuracies[$0]) }
  }

  // MARK: Decision rules

  /// The toy edge {skip, conv}: 85 % accuracy without skip, 60 % without conv: conv is
  /// kept although α (and W) favour skip; the rule never looks at W.
  func testOperationDecisionKeepsTheOperationWhoseRemovalHurtsMost() {
    let weights: [Float] = [0.7, 0.3]  // softmax(α) with α_skip > α_conv
    XCTAssertGreaterThan(weights[0], weights[1])
    let (chosen, recorded) = ProjectionDecisions.operation(count: 2, criterion: .accuracy, score: scores([0.85, 0.60]))
    XCTAssertEqual(chosen, 1, "conv")
    XCTAssertEqual(recorded.map(\.accuracy), [0.85, 0.60])
  }

  func testOperationDecisionTiesGoToTheFirstIndex() {
    XCTAssertEqual(ProjectionDecisions.operation(count: 2, criterion: .accuracy, score: scores([0.5, 0.5])).chosen, 0)
    XCTAssertEqual(ProjectionDecisions.operation(count: 4, criterion: .accuracy, score: scores([0.9, 0.4, 0.4, 0.7])).chosen, 1)
  }

  /// `--criterion loss`: the operation whose removal gives the largest loss (first of equal).
  func testLossCriterionKeepsTheOperationWhoseRemovalRaisesTheLossMost() {
    let losses = [0.3, 1.2, 0.8, 1.2]
    let (chosen, _) = ProjectionDecisions.operation(count: 4, criterion: .loss) { ProjectionScore(loss: losses[$0], accuracy: 0.5) }
    XCTAssertEqual(chosen, 1)
  }

  /// Node 4 (edges 5…8): round 1 drops the edge whose removal leaves the highest accuracy
  /// (7 ties with 6: the later goes); round 2 is scored with edge 7 already zeroed and drops 6.
  func testTopologyDecisionDropsTheLeastNeededEdgeAndTiesDropTheLaterEdge() {
    var calls: [([Int], Int)] = []
    let round1: [Int: Double] = [5: 0.5, 6: 0.7, 7: 0.7, 8: 0.6]
    let round2: [Int: Double] = [5: 0.4, 6: 0.6, 8: 0.3]
    let (dropped, rounds) = ProjectionDecisions.topology(candidates: [5, 6, 7, 8], criterion: .accuracy) { dropped, edge in
      calls.append((dropped, edge))
      let accuracy = dropped.isEmpty ? round1[edge]! : round2[edge]!
      return ProjectionScore(loss: 0, accuracy: accuracy)
    }
    XCTAssertEqual(dropped, [7, 6])
    XCTAssertEqual(rounds.map { $0.map(\.edge) }, [[5, 6, 7, 8], [5, 6, 8]])
    XCTAssertEqual(calls.map(\.0), [[], [], [], [], [7], [7], [7]])
    // A three-input node with all equal scores: the last edge goes.
    XCTAssertEqual(ProjectionDecisions.topology(candidates: [2, 3, 4], criterion: .accuracy) { _, _ in ProjectionScore(loss: 0, accuracy: 0.5) }.dropped, [4])
    // By loss: the removal leaving the lowest loss (later of equal) is dropped.
    let losses: [Int: Double] = [2: 0.9, 3: 0.4, 4: 0.4]
    XCTAssertEqual(ProjectionDecisions.topology(candidates: [2, 3, 4], criterion: .loss) { _, e in ProjectionScore(loss: losses[e]!, accuracy: 0) }.dropped, [4])
  }

  // MARK: Schedule and counts

  func testDARTSSpaceScheduleHas81EpochsAndSeventeenDecisionEpochs() {
    let schedule = ProjectionSchedule(interval: 5, topology: CellTopology(steps: 4))
    XCTAssertEqual(schedule.tuningEpochs, 81)
    XCTAssertEqual(ProjectionSchedule.nodesWithChoices(CellTopology(steps: 4)), [1, 2, 3])
    let decisions = (0..<81).compactMap { epoch in schedule.decision(atEpoch: epoch).map { (epoch, $0) } }
    XCTAssertEqual(decisions.map(\.0), Array(stride(from: 0, through: 80, by: 5)))
    XCTAssertEqual(decisions.map(\.1), (0..<14).map { .operation(index: $0) } + (0..<3).map { .topology(index: $0) })
    XCTAssertEqual(decisions.map { schedule.ordinal($0.1) }, Array(0..<17))
    XCTAssertNil(schedule.decision(atEpoch: 81))
    let two = ProjectionSchedule(interval: 1, topology: CellTopology(steps: 2))
    XCTAssertEqual(two.tuningEpochs, 1 * (5 + 1 - 1) + 1)
    XCTAssertEqual((0..<two.tuningEpochs).compactMap(two.decision(atEpoch:)), (0..<5).map { .operation(index: $0) } + [.topology(index: 0)])
  }

  /// Every decision of a whole selection with seeded random scores: 2×(E + M) decisions at
  /// the schedule's epochs; afterwards every row of W is one-hot or zero and each node has
  /// exactly two non-zero incoming rows (4-node and 2-node cells).
  func testWholeSelectionDecidesEveryEdgeAndLeavesTwoInputsPerNode() throws {
    for (steps, interval, ops) in [(4, 5, 7), (2, 1, 8)] {
      let topology = CellTopology(steps: steps)
      let schedule = ProjectionSchedule(interval: interval, topology: topology)
      var projection = ArchitectureProjection(edges: topology.edgeCount)
      var noise = SeededGenerator(seed: 5)
      var records: [ProjectionDecisions.Record] = []
      for epoch in 0..<schedule.tuningEpochs {
        guard let decision = schedule.decision(atEpoch: epoch) else { continue }
        for kind in CellKind.allCases {
          var generator = SeededGenerator(seed: UInt64(100 * epoch + records.count))
          records.append(try ProjectionDecisions.decide(
            decision, cell: &projection[kind], topology: topology, ops: ops, criterion: .accuracy, generator: &generator
          ) { _ in ProjectionScore(loss: 0, accuracy: Double(noise.next() % 5) / 4) })
        }
      }
      let nodes = ProjectionSchedule.nodesWithChoices(topology).count
      XCTAssertEqual(records.count, 2 * (topology.edgeCount + nodes), "\(steps) nodes")
      var generator = SeededGenerator(seed: 3)
      let alphas = OperationWeights(
        normal: Tensor.randomNormal([topology.edgeCount, ops], generator: &generator, on: backend).softmax(alongAxis: -1),
        reduce: Tensor.randomNormal([topology.edgeCount, ops], generator: &generator, on: backend).softmax(alongAxis: -1))
      let w = projection.weights(alphas)
      for (kind, tensor) in zip(CellKind.allCases, w.tensors) {
        let values = tensor.scalars
        let rows = (0..<topology.edgeCount).map { Array(values[($0 * ops)..<(($0 + 1) * ops)]) }
        for (edge, row) in rows.enumerated() {
          XCTAssert(row.allSatisfy { $0 == 0 || $0 == 1 } && row.filter { $0 == 1 }.count <= 1, "\(kind) edge \(edge): \(row)")
        }
        for step in 0..<steps {
          XCTAssertEqual(topology.edges(ofStep: step).filter { rows[$0].contains(1) }.count, 2, "\(kind) node \(step + 2)")
        }
        XCTAssertEqual(Set(projection[kind].decidedNodes), Set(ProjectionSchedule.nodesWithChoices(topology)))
      }
    }
  }

  // MARK: Projected weights

  /// W: undecided rows are softmax(α) bit for bit, decided rows one-hot, discarded rows zero;
  /// the gradient reaches α only through undecided rows (and matches finite differences).
  func testProjectedWeightsAndTheirGradientFlowOnlyThroughUndecidedRows() {
    var generator = SeededGenerator(seed: 11)
    let alphas = Tensor.randomNormal([5, 4], generator: &generator, on: backend)
    var projection = ArchitectureProjection(edges: 5)
    let untouched = withoutGradients { projection.weights(OperationWeights(normal: alphas.softmax(alongAxis: -1), reduce: alphas.softmax(alongAxis: -1))) }
    XCTAssertEqual(untouched.normal.scalars, withoutGradients { alphas.softmax(alongAxis: -1) }.scalars)
    projection.normal.operations[1] = 2
    projection.normal.operations[3] = 0
    projection.normal.discarded = [3]
    func normalW(_ a: Tensor) -> Tensor {
      projection.weights(OperationWeights(normal: a.softmax(alongAxis: -1), reduce: a.softmax(alongAxis: -1))).normal
    }
    let w = withoutGradients { normalW(alphas) }.scalars
    let p = withoutGradients { alphas.softmax(alongAxis: -1) }.scalars
    XCTAssertEqual(Array(w[4..<8]), [0, 0, 1, 0])
    XCTAssertEqual(Array(w[12..<16]), [0, 0, 0, 0])
    for row in [0, 2, 4] { XCTAssertEqual(Array(w[(row * 4)..<(row * 4 + 4)]), Array(p[(row * 4)..<(row * 4 + 4)]), "row \(row)") }
    let leaf = alphas.requiringGradient()
    var seed = SeededGenerator(seed: 12)
    let r = Tensor.randomUniform([5, 4], low: -1, high: 1, generator: &seed, on: backend)
    let g = gradients(of: (normalW(leaf) * r).sum(), wrt: [leaf])[0].scalars
    XCTAssertEqual(Array(g[4..<8]) + Array(g[12..<16]), [Float](repeating: 0, count: 8), "decided and discarded rows")
    XCTAssert(g[0..<4].contains { $0 != 0 }, "an undecided row learns")
    checkGradients("W(α)", inputs: [alphas], rtol: 1e-2, atol: 1e-4) { normalW($0[0]) }
  }

  /// The hook in the search iteration: with every row decided, the α step's gradient is zero
  /// (α stays bit for bit without weight decay) and the weight step's loss is that of the
  /// network mixing by W.
  func testSearchStepMixesByTheProjectedWeights() throws {
    var factory = ParameterFactory(backend: backend, seed: 21)
    let network = SearchNetwork(SearchNetworkConfiguration(channels: 4, layers: 3, steps: 2, classes: 5), using: &factory)
    var projection = ArchitectureProjection(edges: 5)
    for edge in 0..<5 {
      projection.normal.operations[edge] = edge % 8
      projection.reduce.operations[edge] = (edge + 3) % 8
    }
    var optimization = SearchOptimization(
      weights: SGD(learningRate: 0.05, momentum: 0.9, weightDecay: 3e-4),
      architecture: Adam(learningRate: 3e-3, beta1: 0.5, beta2: 0.999, weightDecay: 0), architect: Architect(order: .first))
    optimization.projection = projection
    var data = SeededGenerator(seed: 13)
    let (train, valid) = (randomBatch(count: 2, channels: 3, size: 8, classes: 5, generator: &data, on: backend),
                          randomBatch(count: 2, channels: 3, size: 8, classes: 5, generator: &data, on: backend))
    let alphas = network.architectureParameters.map(\.parameter.value.scalars)
    let expected = withoutGradients { network(train.images, operationWeights: projection.weights(network.operationWeights)).crossEntropy(labels: train.labels).scalar }
    let result = try optimization.step(
      network: network, train: LabelledBatch(images: train.images, labels: train.labels),
      valid: LabelledBatch(images: valid.images, labels: valid.labels), updateArchitecture: true)
    XCTAssertEqual(network.architectureParameters.map(\.parameter.value.scalars), alphas)
    XCTAssertEqual(result.loss, expected, accuracy: 1e-5)
  }

  /// The selection's settings: bounds, and P-DARTS searches are refused in one line.
  func testSelectionSettingsBoundsAndRefuseProgressiveSearches() {
    XCTAssertNil(SelectionSettings().validationProblem())
    XCTAssertEqual(SelectionSettings(decisionInterval: 0).validationProblem(), "--decision-interval must be in 1...100, got 0")
    XCTAssertEqual(SelectionSettings(maxStepsPerEpoch: 0).validationProblem(), "--max-steps-per-epoch must be positive, got 0")
    XCTAssertNil(SelectionSettings.searchProblem(.reference(for: .pcDarts)))
    XCTAssertNotNil(SelectionSettings.searchProblem(.reference(for: .pDarts)))
    var search = SearchSettings.reference(for: .pDarts)
    search.selection = SelectionSettings()
    XCTAssertEqual(search.validationProblem()?.contains("not P-DARTS"), true)
    XCTAssertEqual(SelectionSettings.learningRate(epoch: 0, epochs: 81, search: SearchSettings()), 0.0025, accuracy: 1e-12)
  }
}
