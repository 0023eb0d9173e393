import ArgumentParser

@main
struct DartsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "darts",
    abstract: "Differentiable architecture search (DARTS, P-DARTS, PC-DARTS) in Swift.",
    version: "0.1.0",
    subcommands: [SearchCommand.self, TrainCommand.self, TestCommand.self, GenotypeCommand.self, BenchCommand.self])
}
