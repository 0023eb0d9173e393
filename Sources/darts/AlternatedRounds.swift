import ArgumentParser
import Foundation

/// Benchmark commands run alternately, `rounds` times (A, B, A, B, …), so that the drift of a
/// noisy machine's speed reaches every command alike: `darts bench … --rounds N` compares its
/// engines (or process counts) by the medians of the rounds and the ratio of those medians.
///
/// Each command is a separate process that prints its results as JSON lines (`darts bench …
/// --json`, the PyTorch reference script's `bench`).
struct AlternatedRounds {
  struct Command {
    var executable: String
    var arguments: [String]
    var environment: [String: String]?
  }

  var commands: [Command]
  var rounds: Int

  /// The JSON object lines of every command in every round: `results[command][round]`.
  func run() throws -> [[[[String: Any]]]] {
    var results = [[[[String: Any]]]](repeating: [], count: commands.count)
    for round in 0..<rounds {
      for (index, command) in commands.enumerated() {
        let (status, data) = try standardOutput(of: command.executable, command.arguments, environment: command.environment)
        guard status == 0 else {
          throw ValidationError("\(command.executable) \(command.arguments.joined(separator: " ")) failed (exit \(status))")
        }
        results[index].append(String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
          try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        })
      }
      FileHandle.standardError.write(Data("# round \(round + 1)/\(rounds) done\n".utf8))
    }
    return results
  }

  /// The median of `key` over `lines` (the lower middle value of an even count).
  /// - Throws: `ValidationError` naming `key` and `source` when no line holds a finite value of
  ///   it (a run that printed no result is never reported as a number).
  static func median(_ lines: [[String: Any]], _ key: String, of source: String) throws -> Double {
    let values = lines.compactMap { ($0[key] as? Double) ?? ($0[key] as? Int).map(Double.init) }.filter(\.isFinite).sorted()
    guard !values.isEmpty else { throw ValidationError("\(source) printed no finite \"\(key)\" in \(lines.count) result lines") }
    return values[(values.count - 1) / 2]
  }

  /// This `darts` executable and its command-line arguments with `options` (each followed by
  /// its value) and `flags` taken out.
  static func ownCommand(removing options: Set<String>, flags: Set<String>) -> (executable: String, arguments: [String]) {
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    let arguments = Array(CommandLine.arguments.dropFirst())
    var kept: [String] = []
    var index = 0
    while index < arguments.count {
      let argument = arguments[index]
      let name = String(argument.prefix { $0 != "=" })
      if options.contains(name) {
        index += argument.contains("=") ? 1 : 2
        continue
      }
      if !flags.contains(argument) { kept.append(argument) }
      index += 1
    }
    return (executable, kept)
  }
}
