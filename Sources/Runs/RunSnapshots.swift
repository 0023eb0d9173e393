import Foundation

/// Checkpoints kept per epoch in `snapshots/` (DARTS-ADA rolls a search back to one):
/// `snapshots/epoch-0010.safetensors` holds the checkpoint written at the end of epoch 10
/// (0-based).
extension RunDirectory {
  /// The `snapshots` directory of the run.
  public var snapshotsURL: URL { url.appendingPathComponent("snapshots") }

  /// The snapshot of the end of epoch `epoch`.
  public func snapshotURL(epoch: Int) -> URL {
    snapshotsURL.appendingPathComponent(String(format: "epoch-%04d.safetensors", epoch))
  }

  /// Creates `snapshots/` if it is missing.
  /// - Throws: ``RunDirectoryError`` with the system's reason if it cannot be created.
  public func createSnapshotDirectory() throws(RunDirectoryError) {
    if mkdir(snapshotsURL.path, 0o777) != 0 && errno != EEXIST {
      throw RunDirectoryError(path: snapshotsURL.path, problem: .cannotCreate(errnoDescription()))
    }
  }

  /// The epochs that have a snapshot, ascending.
  public func snapshotEpochs() -> [Int] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: snapshotsURL.path)) ?? []
    return names.compactMap { name -> Int? in
      guard name.hasPrefix("epoch-") && name.hasSuffix(".safetensors") else { return nil }
      return Int(name.dropFirst("epoch-".count).dropLast(".safetensors".count))
    }.sorted()
  }

  /// Deletes the snapshot of `epoch` (nothing if there is none).
  public func removeSnapshot(epoch: Int) {
    unlink(snapshotURL(epoch: epoch).path)
  }
}
