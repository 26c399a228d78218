import LinearAlgebra
import TestSupport
import XCTest

final class BLASTests: XCTestCase {
  /// OpenBLAS's sgemm against a naive triple loop, for every transpose combination.
  func testSgemmMatchesNaiveLoop() {
    var generator = SystemRandomNumberGenerator()
    let m = 37
    let n = 29
    let k = 53
    let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &generator) }
    let b = (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &generator) }
    for (ta, tb) in [
      (BLAS.Transpose.none, BLAS.Transpose.none), (.transpose, .none), (.none, .transpose),
      (.transpose, .transpose),
    ] {
      // Store A as m×k (or k×m when transposed) so op(A) is always the same m×k matrix.
      let aStored = ta == .none ? a : transpose(a, rows: m, cols: k)
      let bStored = tb == .none ? b : transpose(b, rows: k, cols: n)
      var c = [Float](repeating: 0.5, count: m * n)
      BLAS.sgemm(
        ta, tb, m: m, n: n, k: k, alpha: 2, a: aStored, lda: ta == .none ? k : m, b: bStored,
        ldb: tb == .none ? n : k, beta: 1, c: &c, ldc: n)
      var expected = [Float](repeating: 0, count: m * n)
      for i in 0..<m {
        for j in 0..<n {
          var sum = 0.0
          for p in 0..<k { sum += Double(a[i * k + p]) * Double(b[p * n + j]) }
          expected[i * n + j] = Float(2 * sum + 0.5)
        }
      }
      let diff = assertClose(c, expected, rtol: 1e-5, atol: 1e-4)
      print("sgemm \(ta)/\(tb) OK, maxdiff = \(diff)")
    }
  }

  /// dsyevd on a matrix with known eigenvalues: V diag(w) Vᵀ reconstructs it.
  func testSymmetricEigenReconstructs() throws {
    let a: [Double] = [4, 1, 2, 1, 3, 0, 2, 0, 5]
    let eig = try SymmetricEigen(symmetric: a, n: 3)
    XCTAssertEqual(eig.values.reduce(0, +), 12, accuracy: 1e-10)  // trace
    var rebuilt = [Double](repeating: 0, count: 9)
    for i in 0..<3 {
      for j in 0..<3 {
        for p in 0..<3 {
          rebuilt[i * 3 + j] += eig.vectors[i * 3 + p] * eig.values[p] * eig.vectors[j * 3 + p]
        }
      }
    }
    assertClose(rebuilt, a, rtol: 0, atol: 1e-10)
    XCTAssertTrue(eig.values == eig.values.sorted())
  }

  private func transpose(_ x: [Float], rows: Int, cols: Int) -> [Float] {
    var out = [Float](repeating: 0, count: x.count)
    for i in 0..<rows { for j in 0..<cols { out[j * rows + i] = x[i * cols + j] } }
    return out
  }
}
