import ArgumentParser
import Foundation
import Metrics
import Neural
import Randomness

/// `medtransfer bench kernels`: the engine's kernels one by one, at EfficientNet-Lite0's
/// shapes at 224 px (1×1 convolutions, depthwise convolutions, BatchNorm + ReLU6), forward and
/// backward, best of `--repeats`. `bench train --profile` shows the same kinds inside the
/// whole network; this isolates them.
struct BenchKernelsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "kernels",
    abstract: "Time each engine kernel at EfficientNet-Lite0's 224 px shapes (GFLOP/s).")

  @Option(help: "Images per batch.") var batch = 32
  @Option(help: "Timed repetitions of each kernel (the best is printed).") var repeats = 5

  func validate() throws {
    guard batch >= 1, repeats >= 1 else {
      throw ValidationError("--batch ≥ 1 and --repeats ≥ 1 are required")
    }
  }

  func run() throws {
    func time(_ label: String, flops: Double, _ body: () -> Void) {
      body()
      var best = Double.infinity
      for _ in 0..<repeats {
        let t0 = Date()
        body()
        best = min(best, Date().timeIntervalSince(t0))
      }
      print(
        String(
          format: "%-44@ %8.2f ms  %6.1f GFLOP/s", label, best * 1e3, flops / best / 1e9))
    }
    let n = batch
    for (h, cin, cout) in [(56, 24, 144), (56, 144, 24), (14, 480, 80), (7, 320, 1280)] {
      let conv = Conv2d(inputChannels: cin, outputChannels: cout, kernelSize: 1)
      let x = Self.random([n, h, h, cin], seed: 1)
      let flops = 2.0 * Double(n * h * h * cin * cout)
      time("1x1 fwd \(h)x\(h) \(cin)->\(cout)", flops: flops) {
        _ = conv.forward(x, mode: .training)
      }
      let dy = Self.random([n, h, h, cout], seed: 2)
      time("1x1 bwd \(h)x\(h) \(cin)->\(cout)", flops: 2 * flops) { _ = conv.backward(dy) }
    }
    for (h, c, k, s) in [
      (112, 32, 3, 1), (112, 96, 3, 2), (56, 144, 3, 1), (28, 240, 5, 1), (14, 480, 3, 1),
      (14, 672, 5, 2), (7, 1152, 5, 1),
    ] {
      let conv = Conv2d(
        inputChannels: c, outputChannels: c, kernelSize: k, stride: s, padding: .same, groups: c)
      let x = Self.random([n, h, h, c], seed: 1)
      let y = conv.forward(x, mode: .training)
      let flops = 2.0 * Double(y.count * k * k)
      time("dw fwd \(h)x\(h) c\(c) k\(k) s\(s)", flops: flops) {
        _ = conv.forward(x, mode: .training)
      }
      let dy = Self.random(y.shape, seed: 2)
      time("dw bwd \(h)x\(h) c\(c) k\(k) s\(s)", flops: 2 * flops) { _ = conv.backward(dy) }
    }
    for (h, c) in [(112, 32), (56, 144), (14, 480)] {
      let bn = BatchNorm2d(channels: c, eps: 1e-3, activation: .relu6)
      let x = Self.random([n, h, h, c], seed: 1)
      let bytes = Double(x.count * 4)
      // Memory-bound: the GFLOP/s column is GB/s of the passes over memory here.
      time("bn+relu6 train fwd \(h)x\(h) c\(c) (GB/s)", flops: 3 * bytes) {
        _ = bn.forward(x, mode: .training)
      }
      time("bn+relu6 bwd \(h)x\(h) c\(c) (GB/s)", flops: 5 * bytes) { _ = bn.backward(x) }
      time("bn+relu6 infer \(h)x\(h) c\(c) (GB/s)", flops: 2 * bytes) {
        _ = bn.forward(x, mode: .inference)
      }
    }
  }

  /// Uniform values in [-1, 1) from `seed`.
  static func random(_ shape: [Int], seed: UInt64) -> Tensor {
    var g = SeededGenerator(seed: seed)
    let t = Tensor(shape: shape)
    for i in 0..<t.count { t[i] = g.uniformFloat(-1, 1) }
    return t
  }
}

/// `medtransfer bench shift`: the shift statistics on two 1,000 × 1,280 Gaussian feature
/// samples (EfficientNet-Lite0's pooled width), the size of a study's shift step.
struct BenchShiftCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "shift",
    abstract: "Time MMD, proxy A-distance, Fréchet, CORAL, PCA, LogME and a whole analysis.")

  @Option(help: "Images per side.") var images = 1000
  @Option(help: "Feature width.") var width = 1280
  @Option(help: "Permutations of the MMD test.") var permutations = 1000

  func validate() throws {
    guard images >= 10, width >= 2, permutations >= 1 else {
      throw ValidationError("--images ≥ 10, --width ≥ 2 and --permutations ≥ 1 are required")
    }
  }

  func run() throws {
    var g = SeededGenerator(seed: 1)
    func gaussian(mean: Float) throws -> FeatureMatrix {
      let values = (0..<(images * width)).map { _ in mean + Float(g.normal()) }
      return try FeatureMatrix(rows: images, columns: width, values: values)
    }
    let s = try gaussian(mean: 0)
    let t = try gaussian(mean: 0.05)
    let labels = (0..<images).map { $0 % 2 }
    var clock = Date()
    func lap(_ name: String) {
      print("\(name): \(String(format: "%.2f", Date().timeIntervalSince(clock))) s")
      clock = Date()
    }
    let mmd = try MMD.test(
      source: s, target: t,
      options: .init(permutations: permutations, bootstrap: .init(replicates: 0)))
    lap("MMD² \(images) vs \(images), d=\(width), \(permutations) permutations (p \(mmd.pValue))")
    _ = try MMD.test(
      source: s, target: t,
      options: .init(permutations: permutations, bootstrap: .init(replicates: 1000)))
    lap("MMD² with a 1,000-replicate bootstrap interval")
    _ = try ProxyADistance.compute(
      source: s, target: t, options: .init(bootstrap: .init(replicates: 0)))
    lap("proxy A-distance, 5 folds")
    _ = try GaussianDistances.frechet(source: s, target: t)
    lap("Fréchet distance")
    _ = try GaussianDistances.coral(source: s, target: t)
    lap("CORAL distance")
    _ = try Projection.pca(source: s, target: t)
    lap("PCA embedding")
    _ = try LogME.score(features: t, labels: labels)
    lap("LogME")
    _ = try ShiftAnalysis.run(
      source: .init(name: "s", features: s, labels: labels),
      target: .init(name: "t", features: t, labels: labels))
    lap("ShiftAnalysis.run with its defaults")
  }
}
