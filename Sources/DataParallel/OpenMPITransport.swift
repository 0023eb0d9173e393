import Foundation

/// The collectives of ``CollectiveTransport`` over Open MPI, loaded at run time.
///
/// The package never links MPI: when a process is started by Open MPI's `mpirun` (4.x or 5.x,
/// whose library is `libmpi.so.40`), this opens the library with `dlopen` (globally, as Open
/// MPI's own plug-ins need), looks its functions and predefined handles up by name
/// (`MPI_Allreduce`, `ompi_mpi_comm_world`, `ompi_mpi_float`, `ompi_mpi_op_sum`, …) and calls
/// them through C function pointers. Open MPI's handles are the addresses of those objects,
/// which is why only Open MPI's ABI is supported (MPICH and its derivatives use integer
/// handles). `DARTS_MPI_LIBRARY` names another path of the library.
public final class OpenMPITransport: CollectiveTransport {
  private typealias Handle = UnsafeMutableRawPointer
  private typealias InitFunction = @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Int32
  private typealias QueryFunction = @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
  private typealias AllReduceFunction = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, Handle, Handle, Handle) -> Int32
  private typealias BroadcastFunction = @convention(c) (UnsafeMutableRawPointer?, Int32, Handle, Int32, Handle) -> Int32
  private typealias AbortFunction = @convention(c) (Handle, Int32) -> Int32
  private typealias FinalizeFunction = @convention(c) () -> Int32

  public let rank: Int
  public let size: Int
  private let allReduce: AllReduceFunction
  private let broadcastFunction: BroadcastFunction
  private let abortFunction: AbortFunction
  private let finalize: FinalizeFunction
  private let world, float, double, uint64, byte, sum, minimum, maximum: Handle
  /// `MPI_IN_PLACE` of Open MPI: `(void *) 1`.
  private static var inPlace: UnsafeRawPointer? { UnsafeRawPointer(bitPattern: 1) }
  /// Elements per MPI call (its counts are 32-bit).
  private static let maximumCount = 1 << 28
  private var finished = false

  /// The library names tried in order (`DARTS_MPI_LIBRARY` first when set).
  public static func libraryCandidates(environment: [String: String]) -> [String] {
    (environment["DARTS_MPI_LIBRARY"].map { [$0] } ?? []) + ["libmpi.so.40", "libmpi.so"]
  }

  /// Opens the MPI library and joins the job (`MPI_Init`).
  /// - Throws: ``CollectiveError`` naming the library that cannot be opened or the symbol it
  ///   lacks.
  public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
    let candidates = Self.libraryCandidates(environment: environment)
    var opened: UnsafeMutableRawPointer?
    var failures: [String] = []
    for name in candidates {
      if let library = dlopen(name, RTLD_NOW | RTLD_GLOBAL) {
        opened = library
        break
      }
      failures.append(dlerror().map { String(cString: $0) } ?? name)
    }
    guard let library = opened else {
      throw CollectiveError("started under mpirun, but Open MPI's library cannot be opened (\(failures.joined(separator: "; "))): install Open MPI (Debian: libopenmpi3 or openmpi-bin) or set DARTS_MPI_LIBRARY")
    }
    func symbol(_ name: String) throws -> UnsafeMutableRawPointer {
      guard let address = dlsym(library, name) else {
        throw CollectiveError("the MPI library \(candidates.joined(separator: " / ")) has no symbol \(name): only Open MPI 4 or 5 is supported")
      }
      return address
    }
    func function<F>(_ name: String, as type: F.Type) throws -> F {
      unsafeBitCast(try symbol(name), to: type)
    }
    let initialize = try function("MPI_Init", as: InitFunction.self)
    let commRank = try function("MPI_Comm_rank", as: QueryFunction.self)
    let commSize = try function("MPI_Comm_size", as: QueryFunction.self)
    allReduce = try function("MPI_Allreduce", as: AllReduceFunction.self)
    broadcastFunction = try function("MPI_Bcast", as: BroadcastFunction.self)
    abortFunction = try function("MPI_Abort", as: AbortFunction.self)
    finalize = try function("MPI_Finalize", as: FinalizeFunction.self)
    world = try symbol("ompi_mpi_comm_world")
    float = try symbol("ompi_mpi_float")
    double = try symbol("ompi_mpi_double")
    uint64 = try symbol("ompi_mpi_uint64_t")
    byte = try symbol("ompi_mpi_byte")
    sum = try symbol("ompi_mpi_op_sum")
    minimum = try symbol("ompi_mpi_op_min")
    maximum = try symbol("ompi_mpi_op_max")
    guard initialize(nil, nil) == 0 else { throw CollectiveError("MPI_Init failed") }
    var value: Int32 = 0
    guard commRank(world, &value) == 0 else { throw CollectiveError("MPI_Comm_rank failed") }
    rank = Int(value)
    guard commSize(world, &value) == 0 else { throw CollectiveError("MPI_Comm_size failed") }
    size = Int(value)
  }

  public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
    try reduce(UnsafeMutableRawBufferPointer(values), count: values.count, stride: MemoryLayout<Float>.stride, type: float, op: sum)
  }

  public func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws {
    try reduce(UnsafeMutableRawBufferPointer(values), count: values.count, stride: MemoryLayout<Double>.stride, type: double, op: sum)
  }

  public func allReduceExtremum(_ values: UnsafeMutableBufferPointer<UInt64>, maximum isMaximum: Bool) throws {
    try reduce(UnsafeMutableRawBufferPointer(values), count: values.count, stride: MemoryLayout<UInt64>.stride, type: uint64, op: isMaximum ? maximum : minimum)
  }

  public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
    var offset = 0
    while offset < bytes.count {
      let count = min(Self.maximumCount, bytes.count - offset)
      guard broadcastFunction(bytes.baseAddress! + offset, Int32(count), byte, Int32(root), world) == 0 else {
        throw CollectiveError("MPI_Bcast of \(bytes.count) bytes failed")
      }
      offset += count
    }
  }

  public func abort(code: Int32) -> Never {
    _ = abortFunction(world, code)
    exit(code)
  }

  public func finish() {
    guard !finished else { return }
    finished = true
    _ = finalize()
  }

  /// In-place all-reduce in slices of at most ``maximumCount`` elements.
  private func reduce(_ buffer: UnsafeMutableRawBufferPointer, count: Int, stride: Int, type: Handle, op: Handle) throws {
    var offset = 0
    while offset < count {
      let slice = min(Self.maximumCount, count - offset)
      guard allReduce(Self.inPlace, buffer.baseAddress! + offset * stride, Int32(slice), type, op, world) == 0 else {
        throw CollectiveError("MPI_Allreduce of \(count) elements failed")
      }
      offset += slice
    }
  }
}
