import ArgumentParser
import DataParallel
import Foundation
import Runs

/// Runs a command's work as one process of its job: alone, or one of the processes Open MPI's
/// `mpirun` started (``ProcessGroup/launched(environment:)``).
///
/// Only the leader (rank 0) writes to the console: `say` is silent elsewhere. A failure ends
/// the whole job with one line on standard error and exit status 1: a failure every process
/// shares (``JobFailure``, a numeric ``RunFault``) is reported by the leader, and every process
/// leaves the job cleanly; a failure of one process alone is reported by it, with its rank, and
/// aborts the job, so no process waits forever for it.
func runningAsJob(_ body: (_ group: ProcessGroup, _ say: @escaping (String) -> Void) throws -> Void) throws {
  let group: ProcessGroup
  do { group = try ProcessGroup.launched() } catch {
    warn("error: \(error)")
    throw ExitCode.failure
  }
  let leader = group.isLeader
  let say: (String) -> Void = { line in if leader { emit(line) } }
  do {
    try body(group, say)
    group.finish()
  } catch let error as ExitCode {
    group.finish()
    throw error
  } catch {
    let shared = error is JobFailure || error is RunFault
    if group.isLeader {
      warn("error: \(error)")
    } else if !shared {
      warn("error: process \(group.rank) of \(group.size): \(error)")
    }
    guard shared || !group.isDistributed else { group.abort(code: 1) }
    group.finish()
    throw ExitCode.failure
  }
}

/// The console of a run's journal: the terminal for the leader, nothing for the others.
func consoleOutput(_ group: ProcessGroup) -> (String) -> Void {
  let leader = group.isLeader
  return { text in if leader { ProgressDisplay.writeToStandardOutput(text) } }
}

/// One line saying how a job shares its batches.
func jobDescription(_ group: ProcessGroup, microBatches: Int, batchSize: Int) -> String {
  let perProcess = microBatches / group.size
  return "data parallel: \(group.size) processes, each batch of \(batchSize) cut into \(microBatches) micro-batches of \(batchSize / microBatches) (\(perProcess) per process)"
}
