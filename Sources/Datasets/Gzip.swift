import CZlib

/// Decompresses a complete gzip file (one or more members) held in memory.
///
/// zlib checks each member's CRC-32 and length trailer; input that ends before the last
/// member's trailer is reported as truncated, anything else zlib rejects as corrupt.
/// - Parameter path: the file the bytes came from, for error messages.
func gunzip(_ input: [UInt8], path: String) throws -> [UInt8] {
  var stream = z_stream()
  guard czlib_inflate_init_gzip(&stream) == Z_OK else {
    throw DatasetError.corruptGzip(path: path, reason: "zlib failed to initialise")
  }
  defer { inflateEnd(&stream) }
  var output: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 1 << 18)
  return try input.withUnsafeBufferPointer { source in
    stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
    stream.avail_in = UInt32(source.count)
    while true {
      var produced = 0
      let status = chunk.withUnsafeMutableBufferPointer { buffer in
        stream.next_out = buffer.baseAddress
        stream.avail_out = UInt32(buffer.count)
        let status = inflate(&stream, Z_NO_FLUSH)
        produced = buffer.count - Int(stream.avail_out)
        return status
      }
      output.append(contentsOf: chunk[0..<produced])
      switch status {
      case Z_OK:
        continue
      case Z_STREAM_END:
        if stream.avail_in == 0 { return output }
        inflateReset(&stream)  // another gzip member follows
      case Z_BUF_ERROR where stream.avail_in == 0:
        throw DatasetError.corruptGzip(
          path: path, reason: "input ends after \(source.count) bytes, inside the stream")
      default:
        let message = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
        throw DatasetError.corruptGzip(path: path, reason: message)
      }
    }
  }
}
