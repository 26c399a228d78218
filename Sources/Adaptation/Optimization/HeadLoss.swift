import Foundation
import Neural

/// Softmax cross-entropy over logits (N, K), mean over the batch — torch.nn.CrossEntropyLoss.
enum HeadLoss {
  /// Row-wise softmax of (n × k) logits, max-subtracted.
  static func probabilities(_ logits: [Float], rows n: Int, classes k: Int) -> [Float] {
    var p = [Float](repeating: 0, count: n * k)
    for r in 0..<n {
      var m = -Float.infinity
      for c in 0..<k { m = max(m, logits[r * k + c]) }
      var s: Float = 0
      for c in 0..<k {
        let e = expf(logits[r * k + c] - m)
        p[r * k + c] = e
        s += e
      }
      for c in 0..<k { p[r * k + c] /= s }
    }
    return p
  }

  /// The mean loss and dL/dlogits = (softmax − onehot)/N.
  static func compute(logits: Tensor, labels: [Int]) -> (loss: Double, gradient: Tensor,
                                                         probabilities: [Float]) {
    let n = logits.shape[0]
    let k = logits.shape[1]
    precondition(labels.count == n, "Cross-entropy got \(labels.count) labels for \(n) rows.")
    let p = probabilities(logits.array, rows: n, classes: k)
    var loss = 0.0
    let g = Tensor(shape: [n, k])
    let scale = 1 / Float(n)
    for r in 0..<n {
      let y = labels[r]
      precondition(y >= 0 && y < k, "Label \(y) is outside 0..<\(k).")
      // log-sum-exp form so a confident wrong prediction gives a large finite loss, not inf.
      var m = -Float.infinity
      for c in 0..<k { m = max(m, logits[r * k + c]) }
      var s = 0.0
      for c in 0..<k { s += exp(Double(logits[r * k + c] - m)) }
      loss += log(s) + Double(m) - Double(logits[r * k + y])
      for c in 0..<k { g[r * k + c] = (p[r * k + c] - (c == y ? 1 : 0)) * scale }
    }
    return (loss / Double(n), g, p)
  }
}
