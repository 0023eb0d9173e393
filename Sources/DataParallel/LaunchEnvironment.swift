/// How this process was started, read from the variables an MPI launcher sets.
///
/// Open MPI's `mpirun` (4.x, 5.x) sets `OMPI_COMM_WORLD_SIZE` and `OMPI_COMM_WORLD_RANK` in
/// every process it starts; MPICH, Intel MPI and other PMI launchers set `PMI_SIZE` and
/// `PMI_RANK` instead, and are refused, since ``OpenMPITransport`` speaks Open MPI's ABI only.
/// A job of one process (`mpirun -np 1`, or no launcher) runs alone, without MPI.
public enum LaunchEnvironment: Equatable, Sendable {
  case single
  /// Started by Open MPI's `mpirun` as one of `size` processes.
  case openMPI(size: Int)

  /// - Throws: ``CollectiveError`` for a launcher that is not Open MPI's, or a size that is
  ///   not a positive number.
  public init(_ environment: [String: String]) throws {
    if let value = environment["OMPI_COMM_WORLD_SIZE"] {
      guard let size = Int(value), size >= 1 else {
        throw CollectiveError("OMPI_COMM_WORLD_SIZE is \"\(value)\", not a positive number of processes")
      }
      self = size == 1 ? .single : .openMPI(size: size)
    } else if let value = environment["PMI_SIZE"], value != "1" {
      throw CollectiveError("started by an MPI launcher other than Open MPI's (PMI_SIZE=\(value)): darts supports Open MPI 4 and 5 only; run it with Open MPI's mpirun")
    } else {
      self = .single
    }
  }

  /// This process's rank as the launcher set it (0 without a launcher), read before any MPI
  /// call: lets the other processes keep quiet about errors the leader reports.
  public static func rank(_ environment: [String: String]) -> Int {
    environment["OMPI_COMM_WORLD_RANK"].flatMap { Int($0) } ?? 0
  }
}
