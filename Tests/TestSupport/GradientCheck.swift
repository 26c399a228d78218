// Finite-difference gradient checks shared by every test target that has a backward pass
// (Neural's layers, Adaptation's classifier head).
//
// The scalar checked is L = Σ y·r for a fixed random r (so dL/dy = r), summed in Double. Central
// differences on the Float32 forward pass, compared with the analytic backward on a random
// sample of input and parameter coordinates.

import Neural
import Randomness
import XCTest

/// A tensor of uniform values in [low, high) from `seed`.
public func randomTensor(_ shape: [Int], seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
  var g = SeededGenerator(seed: seed)
  let t = Tensor(shape: shape)
  for i in 0..<t.count { t[i] = g.uniformFloat(low, high) }
  return t
}

/// (f(v + step) − f(v − step)) / 2·step: `set` puts a value into the coordinate `f` reads, and
/// `value` back at the end. The one central difference of the gradient checks.
public func centralDifference(
  step: Float, of f: () -> Double, set: (Float) -> Void, at value: Float
) -> Double {
  set(value + step)
  let plus = f()
  set(value - step)
  let minus = f()
  set(value)
  return (plus - minus) / (2 * Double(step))
}

/// Σ a·b in Double.
public func dot(_ a: Tensor, _ b: Tensor) -> Double {
  precondition(a.count == b.count)
  var s = 0.0
  for i in 0..<a.count { s += Double(a[i]) * Double(b[i]) }
  return s
}

/// Checks `layer.backward` against central differences of L = Σ forward(x)·r.
///
/// `prepare` runs before every forward (reseed dropout, …). With `kinks`, a coordinate whose
/// differences at eps and eps/2 disagree is stepping across a ReLU kink (a weight moves every
/// pre-activation of its channel, and some sit within eps of 0 or 6): it is skipped, and at
/// most a fifth of the coordinates may be. Returns the worst relative error.
@discardableResult
public func checkGradients(
  _ layer: Layer, input x: Tensor, mode: Mode = .training, eps: Float = 1e-2,
  samples: Int = 24, rtol: Double = 2e-2, atol: Double = 2e-3, kinks: Bool = false,
  prepare: () -> Void = {}, file: StaticString = #filePath, line: UInt = #line
) -> Double {
  prepare()
  let y0 = layer.forward(x, mode: mode)
  let r = randomTensor(y0.shape, seed: 99)
  layer.zeroGrad()
  let dx = layer.backward(r).clone()
  let grads = layer.parameters.map { ($0.name, $0.parameter, $0.parameter.grad.clone()) }

  func loss() -> Double {
    prepare()
    return dot(layer.forward(x, mode: mode), r)
  }
  var worst = 0.0
  var checked = 0
  var skipped = 0
  func difference(_ tensor: Tensor, _ index: Int, _ step: Float) -> Double {
    centralDifference(step: step, of: loss, set: { tensor[index] = $0 }, at: tensor[index])
  }
  func compare(_ analytic: Float, _ tensor: Tensor, _ index: Int, _ what: String) {
    var numeric = difference(tensor, index, eps)
    if kinks {
      let half = difference(tensor, index, eps / 2)
      if abs(half - numeric) > atol + rtol * abs(half) {
        skipped += 1
        return
      }
      numeric = half
    }
    checked += 1
    let diff = abs(numeric - Double(analytic))
    worst = max(worst, diff / max(abs(numeric), 1e-3))
    XCTAssert(
      diff <= atol + rtol * abs(numeric),
      "\(layer.kind) \(what)[\(index)]: analytic \(analytic) vs numeric \(numeric)",
      file: file, line: line)
  }
  var g = SeededGenerator(seed: 7)
  for _ in 0..<samples {
    let i = Int(g.next() % UInt64(x.count))
    compare(dx[i], x, i, "dx")
  }
  for (name, p, grad) in grads {
    for _ in 0..<min(samples, p.value.count) {
      let i = Int(g.next() % UInt64(p.value.count))
      compare(grad[i], p.value, i, name)
    }
  }
  XCTAssert(
    skipped * 4 <= checked,
    "\(layer.kind): \(skipped) coordinates straddle kinks, \(checked) checked",
    file: file, line: line)
  print(
    "gradient check \(layer.kind): \(checked) coordinates, worst relative error \(worst)"
      + (skipped > 0 ? ", \(skipped) skipped at kinks" : ""))
  return worst
}
