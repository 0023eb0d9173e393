import ArgumentParser
import Foundation
import Runs

struct TensorBoardCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tensorboard",
    abstract: "Rewrite the TensorBoard event files of run directories from their events.jsonl.",
    discussion: """
      Every search, training and selection run writes its events.jsonl and, beside it, \
      events.out.tfevents.<time>.<host>, the same events as TensorBoard summaries (see the \
      README's TensorBoard section; view them with tensorboard --logdir runs/). This command \
      writes that file again from events.jsonl, replacing the directory's event files: for \
      runs from before event files were written, or one whose file is missing. A selection \
      is a run of its own: RUN_DIR/selection-pt.
      """)

  @Argument(help: "Run directories (each holding an events.jsonl).") var runDirs: [String]

  func run() throws {
    try reportingFailures {
      for runDir in runDirs {
        emit("written: \(try TensorBoardMirror.rewrite(runAt: URL(fileURLWithPath: runDir)).path)")
      }
    }
  }
}
