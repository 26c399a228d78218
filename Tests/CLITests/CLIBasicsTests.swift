import TestSupport
import XCTest

/// Runs the real `medtransfer` binary.
final class CLIBasicsTests: XCTestCase {
  func testVersionAndHelp() throws {
    let version = try runMedtransfer(["--version"])
    XCTAssertEqual(version.status, 0)
    XCTAssertTrue(version.stdout.contains("0.1"), version.stdout)
    let help = try runMedtransfer(["--help"])
    XCTAssertEqual(help.status, 0)
    XCTAssertTrue(help.stdout.contains("USAGE"), help.stdout)
  }

  func testUnknownSubcommandFailsWithUsage() throws {
    let result = try runMedtransfer(["frobnicate"])
    XCTAssertNotEqual(result.status, 0)
    XCTAssertTrue(
      (result.stderr + result.stdout).contains("Usage")
        || (result.stderr + result.stdout).contains("USAGE"), result.stderr)
  }

  /// The benchmarks that used to be skipped test cases run as `medtransfer bench` commands
  /// (timing is printed, never asserted): tiny sizes here, only that they run and print.
  func testKernelAndShiftBenchmarksRun() throws {
    let kernels = try runMedtransfer(["bench", "kernels", "--batch", "1", "--repeats", "1"])
    XCTAssertEqual(kernels.status, 0, kernels.stderr)
    XCTAssertTrue(kernels.stdout.contains("dw bwd 7x7 c1152 k5 s1"), kernels.stdout)
    let shift = try runMedtransfer([
      "bench", "shift", "--images", "20", "--width", "8", "--permutations", "10",
    ])
    XCTAssertEqual(shift.status, 0, shift.stderr)
    XCTAssertTrue(shift.stdout.contains("ShiftAnalysis.run"), shift.stdout)
  }
}
