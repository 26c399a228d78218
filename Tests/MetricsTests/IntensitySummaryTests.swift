import Metrics
import Randomness
import XCTest

final class IntensitySummaryTests: XCTestCase {
  /// The quickselect percentiles equal numpy-style type-7 quantiles of the sorted data, with
  /// heavy ties (integer HU values), odd and even sizes, NaNs ignored.
  func testPercentilesMatchSortedQuantiles() {
    var g = SeededGenerator(seed: 9)
    for n in [1, 2, 3, 10, 101, 4096, 65_537] {
      var pixels = (0..<n).map { _ in Float((200 * g.normal()).rounded()) }
      if n > 3 { pixels[1] = .nan }
      let finite = pixels.filter(\.isFinite).map(Double.init).sorted()
      let s = IntensityShift.summarize(pixels)
      for (name, p) in IntensityShift.percentiles {
        XCTAssertEqual(
          s[name]!, Descriptive.quantile(sorted: finite, p), accuracy: 1e-9, "n \(n) \(name)")
      }
      XCTAssertEqual(s["mean"]!, Descriptive.mean(finite), accuracy: 1e-9)
      XCTAssertEqual(s["std"]!, Descriptive.standardDeviation(finite, ddof: 0), accuracy: 1e-9)
    }
  }
}
