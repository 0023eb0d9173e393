import ArgumentParser
import DataParallel
import Foundation

@main
struct DartsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "darts",
    abstract: "Differentiable architecture search (DARTS, P-DARTS, PC-DARTS) in Swift.",
    version: "0.1.0",
    subcommands: [SearchCommand.self, SelectCommand.self, TrainCommand.self, TestCommand.self, ExportCommand.self, GenotypeCommand.self, BenchCommand.self, TensorBoardCommand.self])

  /// Parses and runs the command. Under `mpirun` every process parses the same arguments, so
  /// only the leader reports a usage error (the others exit with the same status silently).
  static func main() {
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch {
      if LaunchEnvironment.rank(ProcessInfo.processInfo.environment) != 0 { Foundation.exit(exitCode(for: error).rawValue) }
      exit(withError: error)
    }
  }
}
