import Foundation
import LinearAlgebra
import TestSupport
import XCTest

/// Same seed, same bits on every x86-64 machine with AVX2: Debian's OpenBLAS picks its kernels
/// by CPU when it loads, and the AVX-512 kernels add in another order than the AVX2 ones (the
/// quickstart's fine-tuned arms changed in 16 of 20 runs between two such machines). The
/// executable pins the AVX2 ("Haswell") kernels unless the user chose others.
final class ReproducibleKernelsTests: XCTestCase {
  private var dir: URL!

  override func setUpWithError() throws {
    try XCTSkipUnless(
      BLAS.canRunPinnedCoreType, "the pin applies to x86-64 CPUs with AVX2 and FMA only")
    dir = try makeTemporaryDirectory("cli-kernels")
  }

  override func tearDownWithError() throws {
    if let dir { try? FileManager.default.removeItem(at: dir) }
  }

  func testTheExecutablePinsTheKernelsUnlessTheUserChoseOthers() throws {
    let pinned = try runMedtransfer(["--version"], unset: ["OPENBLAS_CORETYPE"])
    XCTAssertEqual(pinned.status, 0, pinned.stderr)
    XCTAssertTrue(pinned.stdout.contains("OpenBLAS kernels: Haswell"), pinned.stdout)
    // A user's own choice is kept (Prescott: SSE3 kernels, which every x86-64 CPU runs).
    let chosen = try runMedtransfer(["--version"], environment: ["OPENBLAS_CORETYPE": "Prescott"])
    XCTAssertTrue(chosen.stdout.contains("OpenBLAS kernels: Prescott"), chosen.stdout)
  }

  /// A scratch network trained for one epoch: the default run (kernels pinned by the
  /// executable) equals a run told to use the AVX2 kernels explicitly, bit for bit, whatever
  /// kernels this CPU would get by default.
  func testTrainingGivesTheSameBitsAsThePinnedKernels() throws {
    let phantom = dir.appendingPathComponent("phantom")
    try generatePhantom(in: phantom, perClass: 3, size: 32, seed: 3)
    func train(_ name: String, _ environment: [String: String], unset: [String] = []) throws
      -> Data
    {
      let out = dir.appendingPathComponent(name).path
      let result = try runMedtransfer(
        [
          "train", "--data", phantom.appendingPathComponent("manifest.csv").path,
          "--strategy", "scratch", "--epochs", "2", "--size", "32", "--batch-size", "4",
          "--patience", "0", "--out", out,
        ], environment: environment.merging(["MEDTRANSFER_CACHE": dir.path]) { a, _ in a },
        unset: unset)
      XCTAssertEqual(result.status, 0, result.stderr)
      return try Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors"))
    }
    let byDefault = try train("default", [:], unset: ["OPENBLAS_CORETYPE"])
    let haswell = try train("haswell", ["OPENBLAS_CORETYPE": "Haswell"])
    XCTAssertEqual(byDefault, haswell, "the default run did not use the pinned kernels")
  }
}
