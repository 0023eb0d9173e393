/// A heap copy of `values` for kernels that take arrays of pointers (the caller deallocates it).
func copyToBuffer(_ values: [Float]) -> UnsafeMutablePointer<Float> {
  let p = UnsafeMutablePointer<Float>.allocate(capacity: values.count)
  p.initialize(from: values, count: values.count)
  return p
}
