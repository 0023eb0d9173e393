import ArgumentParser
import Foundation
import Search

extension SelectionSettings.Method: ExpressibleByArgument {}
extension SelectionCriterion: ExpressibleByArgument {}

/// The options of an architecture selection that `darts select` and `darts search --select`
/// share.
struct SelectionOptions: ParsableArguments {
  @Option(parsing: .unconditional, help: "DARTS-PT: tuning epochs between decisions (1...\(SelectionSettings.maximumDecisionInterval); default 5, the reference scripts').")
  var decisionInterval: Int?
  @Option(help: "DARTS-PT: rank perturbed architectures by accuracy (the paper) or loss.") var criterion: SelectionCriterion?

  /// Whether any option was given.
  var isGiven: Bool { decisionInterval != nil || criterion != nil }

  /// The settings of a selection by `method` with these options.
  func settings(method: SelectionSettings.Method, maxStepsPerEpoch: Int? = nil) -> SelectionSettings {
    let defaults = SelectionSettings()
    return SelectionSettings(
      method: method, decisionInterval: decisionInterval ?? defaults.decisionInterval, criterion: criterion ?? defaults.criterion,
      maxStepsPerEpoch: maxStepsPerEpoch)
  }
}

struct SelectCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "select",
    abstract: "Select the architecture of a finished search by DARTS-PT's perturbation-based selection.",
    discussion: """
      DARTS-PT (Wang et al., ICLR 2021) over the finished DARTS or PC-DARTS search in RUN_DIR: \
      from its final weights, α and Adam state it tunes the supernet for \
      interval·(E + M − 1) + 1 epochs (E edges, M nodes with more than two inputs: 81 epochs \
      for 4-node cells at --decision-interval 5) with a new SGD (the search's lr / 10, cosine \
      to its minimum), α still learning. Every interval epochs it decides, for the normal and \
      then the reduction cell: first the operation of a randomly drawn edge (the one whose \
      removal lowers the architecture-split accuracy most, each scored on the whole split in \
      training mode), then, once every edge has its operation, the two inputs of a randomly \
      drawn node (dropping the edge whose removal leaves the highest accuracy until two \
      remain). Decided rows are one-hot (dropped edges zero) in every forward pass; the \
      genotype is the DARTS parse of the final weights. Writes RUN_DIR/selection-pt/ \
      (config.json, events.jsonl with every decision and its scores, checkpoint.safetensors, \
      genotype.json, architecture.json). Rerunning the same command continues a stopped \
      selection from its checkpoint exactly (a finished one prints its genotype). Costs about \
      as much as the search again. One process (not under mpirun).
      """)

  @Option(help: "Selection method: pt (DARTS-PT).") var method: SelectionSettings.Method = .pt
  @Argument(help: "The directory of a finished search run.") var runDir: String
  @OptionGroup var selection: SelectionOptions
  @Option(parsing: .unconditional, help: "Stop each tuning epoch after N steps (smoke runs; default: the search's cap).") var maxStepsPerEpoch: Int?
  @OptionGroup var backendOption: BackendOption

  var settings: SelectionSettings { selection.settings(method: method, maxStepsPerEpoch: maxStepsPerEpoch) }

  func validate() throws {
    if let problem = settings.validationProblem() { throw ValidationError(problem) }
  }

  func run() throws {
    try runningAsJob { group, say in
      if group.isDistributed { throw SearchRunError(SelectionSettings.singleProcessProblem) }
      let search = try SearchRun.finished(URL(fileURLWithPath: runDir), backend: backendOption.backend)
      try runSelection(over: search, settings: settings, output: consoleOutput(group), say: say)
    }
  }
}

/// Runs (or continues, or reports) the selection of `settings` over the finished `search`.
func runSelection(over search: SearchRun, settings: SelectionSettings, output: @escaping (String) -> Void, say: (String) -> Void) throws {
  let selection = try SelectionRun(over: search, settings: settings, output: output)
  say(selection.isFinished ? "selection \(selection.directory.url.path) has already finished" : "selection directory: \(selection.directory.url.path)")
  let genotype = try selection.run()
  say("selected genotype: \(genotype)")
  say("written: \(selection.directory.url(of: .genotype).path)")
}
