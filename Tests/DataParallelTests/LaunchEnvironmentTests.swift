import DataParallel
import XCTest

final class LaunchEnvironmentTests: XCTestCase {
  func testOpenMPIVariablesSelectMPI() throws {
    XCTAssertEqual(try LaunchEnvironment(["OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "2"]), .openMPI(size: 4))
    XCTAssertEqual(try LaunchEnvironment(["OMPI_COMM_WORLD_SIZE": "1"]), .single)
    XCTAssertEqual(try LaunchEnvironment([:]), .single)
    XCTAssertEqual(try LaunchEnvironment(["PMI_SIZE": "1"]), .single)
  }

  func testOtherLaunchersAndBadSizesAreRefused() {
    XCTAssertThrowsError(try LaunchEnvironment(["PMI_SIZE": "2", "PMI_RANK": "0"])) { error in
      XCTAssertTrue("\(error)".contains("Open MPI"), "\(error)")
    }
    XCTAssertThrowsError(try LaunchEnvironment(["OMPI_COMM_WORLD_SIZE": "zero"])) { error in
      XCTAssertTrue("\(error)".contains("OMPI_COMM_WORLD_SIZE"), "\(error)")
    }
  }

  func testSingleProcessGroupCollectivesAreIdentities() throws {
    let group = ProcessGroup.single()
    XCTAssertTrue(group.isLeader)
    XCTAssertFalse(group.isDistributed)
    XCTAssertEqual(try group.sum([1.5, -2]), [1.5, -2])
    XCTAssertTrue(try group.agree(on: 42))
    XCTAssertEqual(try group.broadcastFromLeader([1, 2, 3]), [1, 2, 3])
    XCTAssertEqual(group.traffic.calls, 0)
    XCTAssertThrowsError(try group.together { throw CollectiveError("boom") }) { error in
      XCTAssertEqual(error as? CollectiveError, CollectiveError("boom"))
    }
  }
}
