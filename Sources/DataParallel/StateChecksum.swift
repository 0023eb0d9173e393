import Datasets
import TensorCore

/// A 64-bit checksum of named tensors' exact bits, for checking that the replicas of a
/// data-parallel job still hold the same state (``ProcessGroup/agree(on:)``).
///
/// The names are visited in sorted order; each name and each tensor's float bits are folded in
/// 64 bits at a time with a multiply–rotate mix. Equal inputs give equal sums on every process;
/// any bit that differs changes the sum with overwhelming probability.
public enum StateChecksum {
  public static func of(_ tensors: [String: Tensor]) -> UInt64 {
    var hash: UInt64 = 0x9E37_79B9_7F4A_7C15
    func mix(_ word: UInt64) {
      hash = (hash ^ word) &* 0xFF51_AFD7_ED55_8CCD
      hash = (hash << 29) | (hash >> 35)
    }
    for name in tensors.keys.sorted() {
      for byte in name.utf8 { mix(UInt64(byte)) }
      let tensor = tensors[name]!
      mix(UInt64(tensor.count))
      tensor.withHostBytes { bytes in
        let words = bytes.count / 8
        let base = bytes.baseAddress!
        for index in 0..<words { mix(base.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)) }
        for index in (words * 8)..<bytes.count { mix(UInt64(bytes[index])) }
      }
    }
    return hash
  }
}

extension ProcessGroup {
  /// Checks that every process holds the same `tensors` (``StateChecksum``, agreed with one
  /// all-reduce): what a run does before each checkpoint.
  /// - Throws: a ``JobFailure`` on every process when they differ, naming `position`, what
  ///   `tensors` hold, and `lastGood` (what is left to resume from).
  public func requireIdenticalReplicas(_ tensors: [String: Tensor], holding what: String, before position: BatchPosition, lastGood: String) throws {
    guard try !agree(on: StateChecksum.of(tensors)) else { return }
    throw JobFailure(message: "before \(position): the processes' \(what) differ (their checksums disagree), so the replicas have diverged; \(lastGood)", rank: 0)
  }
}
