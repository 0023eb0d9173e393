import Foundation
import Runs

/// DARTS- (Chu et al., ICLR 2021; SPEC-ROBUST §5): every edge of both cell types gets an
/// auxiliary skip outside the softmax, `Σ_o softmax(α)_o·o(x) + β(e)·aux(x)`, with `aux` the
/// identity on stride-1 edges and a `FactorizedReduce(C, C, affine: false)` of its own on
/// stride-2 edges. The skip takes part in the weight and the α step (also in the unrolled
/// copy of the second-order step), is not an α column and is discarded at derivation, so the
/// genotype is the DARTS parse of α. Its coefficient β decays over the epochs so that the
/// search ends close to the plain supernet.
///
/// With T = `epochs` (P-DARTS: per stage) and epoch `e` 0-based:
/// - ``Decay/linear``: `β₀(T − e)/T` (the reference: 1, 0.5, 0.02 at epochs 0, 25, 49 of 50,
///   never exactly 0 within the run);
/// - ``Decay/cosine``: `β₀(1 + cos(πe/T))/2`;
/// - ``Decay/slowCosine``: `β₀·cos(πe/(2T))`;
/// - ``Decay/constant``: `β₀`.
///
/// Partial channels (PC-DARTS K > 1) are refused: there the operations see C/K channels and
/// the rest bypass them, so an auxiliary skip of the whole edge would not be one term of the
/// node's mixture (``SearchCell``); with edge normalisation (K = 1) the skip is not weighted
/// by the edge weights either.
public struct AuxiliarySkip: Codable, Equatable, Sendable {
  /// The choices of `--auxiliary-skip-decay`.
  public enum Decay: String, Codable, Sendable, CaseIterable {
    case linear, cosine
    case slowCosine = "slow-cosine"
    case constant
  }

  public var decay: Decay
  /// β at epoch 0 (default 1).
  public var initial: Double

  public init(decay: Decay = .linear, initial: Double = 1) {
    self.decay = decay
    self.initial = initial
  }

  /// β of epoch `epoch` of `epochs` (see the type's schedules).
  public func beta(epoch: Int, epochs: Int) -> Double {
    let progress = Double(epoch) / Double(epochs)
    switch decay {
    case .linear: return initial * Double(epochs - epoch) / Double(epochs)
    case .cosine: return initial * (1 + cos(Double.pi * progress)) / 2
    case .slowCosine: return initial * cos(Double.pi * progress / 2)
    case .constant: return initial
    }
  }

  /// Fields of the epoch events at `beta`.
  public func eventFields(beta: Double) -> [String: JSONValue] {
    ["auxiliary_skip_decay": .string(decay.rawValue), "auxiliary_skip_beta": .double(beta)]
  }

  /// Why the skip cannot be used with partial channels `k`, or nil.
  func settingsProblem(partialChannels k: Int) -> String? {
    if !initial.isFinite || initial < 0 { return "--auxiliary-skip-beta must be finite and not negative, got \(initial)" }
    if k > 1 {
      return "--auxiliary-skip works on whole edges: use --partial-channels 1 (got \(k); PC-DARTS' partial channels bypass the operations)"
    }
    return nil
  }
}
