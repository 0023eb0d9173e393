/// Row lookups in a table (`[rows, rowLength]`, row-major): an embedding's forward and
/// backward pass.
public enum RowGather {
  /// `out[i, :] = table[indices[i], :]` for every `i`, in parallel over the indices. Every
  /// index must be a row of the table (checked by the caller).
  public static func gather(
    table: UnsafePointer<Float>, rowLength: Int, indices: [Int], out: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    if indices.isEmpty { return }
    let (ts, os) = (UnsafeSendable(table), UnsafeSendable(UnsafePointer(out)))
    indices.withUnsafeBufferPointer { indexBuffer in
      let ids = UnsafeSendable(indexBuffer.baseAddress!)
      pool.parallelChunks(indices.count, grain: max(1, Elementwise.grain / max(1, rowLength))) { range in
        let out = UnsafeMutablePointer(mutating: os.pointer)
        for i in range {
          (out + i * rowLength).update(from: ts.pointer + ids.pointer[i] * rowLength, count: rowLength)
        }
      }
    }
  }

  /// `table[indices[i], :] += rows[i, :]` for `i` in increasing order (an index that repeats
  /// accumulates its rows in that order, so the result does not depend on the thread count):
  /// the work is split by column ranges, each summing every index in order.
  public static func scatterAdd(
    rows: UnsafePointer<Float>, rowLength: Int, indices: [Int], into table: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    if indices.isEmpty { return }
    let (rs, ts) = (UnsafeSendable(rows), UnsafeSendable(UnsafePointer(table)))
    let columnBlock = 64
    let blocks = (rowLength + columnBlock - 1) / columnBlock
    indices.withUnsafeBufferPointer { indexBuffer in
      let ids = UnsafeSendable(indexBuffer.baseAddress!)
      pool.parallelChunks(blocks, grain: max(1, Elementwise.grain / max(1, indices.count * columnBlock))) { range in
        let table = UnsafeMutablePointer(mutating: ts.pointer)
        let columns = (range.lowerBound * columnBlock)..<min(rowLength, range.upperBound * columnBlock)
        for i in 0..<indices.count {
          let (source, target) = (rs.pointer + i * rowLength, table + ids.pointer[i] * rowLength)
          for c in columns { target[c] += source[c] }
        }
      }
    }
  }
}
