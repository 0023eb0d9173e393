import CZlib

/// gzip decompression with the output bounded while it is produced, so that a small file
/// cannot inflate to gigabytes before its size is checked.
public enum Gzip {
  /// How many bytes a stream may inflate to.
  public struct Limit: Sendable {
    /// Output bytes needed before `maximum` can be decided (0: decided before inflating).
    public let headerBytes: Int
    /// What promises the bound, for the error message ("its IDX header promises").
    public let promise: String
    /// The largest allowed output, given its first `headerBytes` bytes. It may throw to reject
    /// the header itself.
    public let maximum: @Sendable (_ header: ArraySlice<UInt8>) throws -> Int

    /// A bound decided from the first `headerBytes` inflated bytes.
    public init(
      headerBytes: Int, promise: String,
      maximum: @escaping @Sendable (_ header: ArraySlice<UInt8>) throws -> Int
    ) {
      self.headerBytes = max(0, headerBytes)
      self.promise = promise
      self.maximum = maximum
    }

    /// At most `bytes` output bytes.
    public static func bytes(_ bytes: Int) -> Limit {
      Limit(headerBytes: 0, promise: "allowed") { _ in bytes }
    }
  }

  /// Decompresses a complete gzip file (one or more members) held in memory, stopping with
  /// `DatasetError.inflatesPastLimit` as soon as the output would exceed `limit`.
  ///
  /// zlib checks each member's CRC-32 and length trailer; input that ends before the last
  /// member's trailer is reported as truncated, anything else zlib rejects as corrupt. If the
  /// whole output is shorter than `limit.headerBytes`, it is returned without a bound being
  /// decided (the caller's parser reports it as truncated).
  /// - Parameter path: the file the bytes came from, for error messages.
  public static func decompress(_ input: [UInt8], path: String, limit: Limit) throws -> [UInt8] {
    var stream = z_stream()
    guard czlib_inflate_init_gzip(&stream) == Z_OK else {
      throw DatasetError.corruptGzip(path: path, reason: "zlib failed to initialise")
    }
    defer { inflateEnd(&stream) }
    var output: [UInt8] = []
    var maximum = limit.headerBytes == 0 ? try limit.maximum([]) : nil
    let chunkBytes = 1 << 18
    var chunk = [UInt8](repeating: 0, count: chunkBytes)
    return try input.withUnsafeBufferPointer { source in
      var consumed = 0
      while true {
        // zlib counts input in UInt32: hand it over in pieces of at most 1 GiB.
        if stream.avail_in == 0 {
          let piece = min(source.count - consumed, 1 << 30)
          stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress.map { $0 + consumed })
          stream.avail_in = UInt32(piece)
          consumed += piece
        }
        // Never ask for more than one byte past the bound, nor past the header while the
        // bound is not yet known.
        let room = maximum.map { min(chunkBytes - 1, max(0, $0 - output.count)) + 1 }
          ?? min(chunkBytes, limit.headerBytes - output.count)
        var produced = 0
        let status = chunk.withUnsafeMutableBufferPointer { buffer in
          stream.next_out = buffer.baseAddress
          stream.avail_out = UInt32(room)
          let status = inflate(&stream, Z_NO_FLUSH)
          produced = room - Int(stream.avail_out)
          return status
        }
        output.append(contentsOf: chunk[0..<produced])
        if maximum == nil, output.count >= limit.headerBytes {
          maximum = try limit.maximum(output.prefix(limit.headerBytes))
        }
        if let maximum, output.count > maximum {
          throw DatasetError.inflatesPastLimit(path: path, limit: maximum, promise: limit.promise)
        }
        switch status {
        case Z_OK:
          continue
        case Z_STREAM_END:
          if stream.avail_in == 0 && consumed == source.count { return output }
          inflateReset(&stream)  // another gzip member follows
        case Z_BUF_ERROR where stream.avail_in == 0:
          guard consumed == source.count else { continue }
          throw DatasetError.corruptGzip(
            path: path, reason: "input ends after \(source.count) bytes, inside the stream")
        default:
          let message = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
          throw DatasetError.corruptGzip(path: path, reason: message)
        }
      }
    }
  }
}
