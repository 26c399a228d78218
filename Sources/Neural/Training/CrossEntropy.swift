// SoftmaxCrossEntropy: PyTorch F.cross_entropy(logits, labels, label_smoothing=ε,
// reduction="mean").
//
//   let loss = SoftmaxCrossEntropy(labelSmoothing: 0.1)
//   let value = loss.forward(logits: logits, labels: labels)   // mean over the batch
//   let dlogits = loss.backward()                               // d(mean loss)/d(logits)
//   loss.probabilities                                          // softmax of the last forward

/// Softmax + negative log-likelihood with optional label smoothing, averaged over the batch.
public final class SoftmaxCrossEntropy {
  /// ε: the target is (1 − ε)·one-hot + ε/K.
  public let labelSmoothing: Float
  /// Softmax probabilities from the last `forward`, (N, K).
  public let probabilities = Tensor(shape: [0])
  private let gradient = Tensor(shape: [0])
  private var labels: [Int] = []

  /// Creates the loss; `labelSmoothing` in [0, 1).
  public init(labelSmoothing: Float = 0) {
    precondition(
      labelSmoothing >= 0 && labelSmoothing < 1,
      "Label smoothing must be in [0, 1), got \(labelSmoothing).")
    self.labelSmoothing = labelSmoothing
  }

  // logits: (N, K), labels: N class indices -> mean loss
  public func forward(logits: Tensor, labels: [Int]) -> Float {
    precondition(
      logits.shape.count == 2 && logits.shape[0] == labels.count,
      "SoftmaxCrossEntropy needs (N, K) logits and N labels, got \(logits.shape) and \(labels.count)."
    )
    let (n, k) = (logits.shape[0], logits.shape[1])
    precondition(
      labels.allSatisfy { $0 >= 0 && $0 < k }, "SoftmaxCrossEntropy labels must be in 0..<\(k).")
    probabilities.reshape([n, k])
    self.labels = labels
    let eps = Double(labelSmoothing)
    var total = 0.0
    for i in 0..<n {
      let row = logits.data + i * k
      var maxValue = -Double.infinity
      for j in 0..<k { maxValue = Swift.max(maxValue, Double(row[j])) }
      var sum = 0.0
      for j in 0..<k { sum += expDouble(Double(row[j]) - maxValue) }
      let logSum = maxValue + logDouble(sum)
      var meanNegLogP = 0.0
      for j in 0..<k {
        let logp = Double(row[j]) - logSum
        probabilities.data[i * k + j] = Float(expDouble(logp))
        meanNegLogP -= logp
      }
      meanNegLogP /= Double(k)
      let nll = logSum - Double(row[labels[i]])
      total += (1 - eps) * nll + eps * meanNegLogP
    }
    return Float(total / Double(n))
  }

  // -> dlogits: (N, K) = (softmax − target) / N
  public func backward() -> Tensor {
    precondition(!labels.isEmpty, "SoftmaxCrossEntropy.backward needs a forward pass first.")
    let (n, k) = (probabilities.shape[0], probabilities.shape[1])
    gradient.reshape([n, k])
    let eps = labelSmoothing
    let invN = 1 / Float(n)
    for i in 0..<n {
      for j in 0..<k {
        let target = (j == labels[i] ? 1 - eps : 0) + eps / Float(k)
        gradient.data[i * k + j] = (probabilities.data[i * k + j] - target) * invN
      }
    }
    return gradient
  }
}

#if canImport(Glibc)
  import Glibc
  @inline(__always) func expDouble(_ x: Double) -> Double { Glibc.exp(x) }
  @inline(__always) func logDouble(_ x: Double) -> Double { Glibc.log(x) }
#else
  import Darwin
  @inline(__always) func expDouble(_ x: Double) -> Double { Darwin.exp(x) }
  @inline(__always) func logDouble(_ x: Double) -> Double { Darwin.log(x) }
#endif
