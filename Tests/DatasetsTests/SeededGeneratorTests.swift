import Datasets
import Randomness
import XCTest

final class SeededGeneratorTests: XCTestCase {
  func testStreamsAreReproducibleAndDistinct() {
    var a = SeededGenerator(seed: 1, stream: [2, 3])
    var b = SeededGenerator(seed: 1, stream: [2, 3])
    var c = SeededGenerator(seed: 1, stream: [3, 2])
    let xa = (0..<8).map { _ in a.next() }
    XCTAssertEqual(xa, (0..<8).map { _ in b.next() })
    XCTAssertNotEqual(xa, (0..<8).map { _ in c.next() })
  }

  func testBoundedAndNormalMoments() {
    var r = SeededGenerator(seed: 11)
    var counts = [Int](repeating: 0, count: 5)
    for _ in 0..<50_000 { counts[r.below(5)] += 1 }
    for c in counts { XCTAssertEqual(Double(c) / 50_000, 0.2, accuracy: 0.01) }
    var sum = 0.0
    var sq = 0.0
    for _ in 0..<50_000 {
      let x = r.normal()
      sum += x
      sq += x * x
    }
    XCTAssertEqual(sum / 50_000, 0, accuracy: 0.02)
    XCTAssertEqual(sq / 50_000, 1, accuracy: 0.03)
  }
}
