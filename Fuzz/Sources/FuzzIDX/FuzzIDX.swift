import Foundation
import FuzzSupport
import Datasets

/// The input is an MNIST-style IDX pair read through ``DatasetReader/idx(_:directory:normalization:)``.
///
/// Layout: a control byte (bit 0: the images file is gzip-compressed, `.gz`; bit 1: the labels
/// file is; bit 2: the test pair `t10k-…` rather than `train-…`), a 4-byte big-endian length
/// `n`, then `n` bytes of the images file (fewer if the input ends) and the labels file.
@main enum FuzzIDX {
  static func main() { runLibFuzzer(fuzz) }
}

/// The target's `LLVMFuzzerTestOneInput`.
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let input = FuzzInput(data, size)
  let length = input.body.prefix(4).reduce(0) { $0 << 8 | Int($1) }
  let files = input.body.dropFirst(4)
  let images = files.prefix(length)
  let labels = files.dropFirst(length)
  let part: DatasetPart = input.flag(2) ? .test : .train
  let prefix = part == .train ? "train" : "t10k"
  for name in ["train", "t10k"].flatMap({ ["\($0)-images-idx3-ubyte", "\($0)-labels-idx1-ubyte"] }) {
    scratch.remove(name)
    scratch.remove(name + ".gz")
  }
  scratch.write(images, to: "\(prefix)-images-idx3-ubyte" + (input.flag(0) ? ".gz" : ""))
  scratch.write(labels, to: "\(prefix)-labels-idx1-ubyte" + (input.flag(1) ? ".gz" : ""))
  _ = try? DatasetReader.idx(part, directory: scratch.url, normalization: .mnist)
  return 0
}

private let scratch = ScratchDirectory(target: "FuzzIDX")
