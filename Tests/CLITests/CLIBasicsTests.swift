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
}
