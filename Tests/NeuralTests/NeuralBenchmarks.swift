// Engine micro-benchmarks, skipped unless NEURAL_BENCH=1 (timing is printed, never asserted):
//   NEURAL_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter NeuralBenchmarks
// Builds an EfficientNet-Lite0-shaped network from Neural layers (random weights) to time the
// engine without the Backbones module; `medtransfer bench` is the user-facing benchmark.

import Foundation
import XCTest

@testable import Neural

/// EfficientNet-Lite0 topology (lukemelas keys, TF SAME, BN eps 1e-3, ReLU6, no SE).
func liteNet(classes: Int = 1000) -> Sequential {
  let bn = { (c: Int, act: Activation) in
    BatchNorm2d(channels: c, eps: 1e-3, momentum: 0.01, activation: act)
  }
  // (repeats, kernel, stride, expand, in, out)
  let stages = [
    (1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320),
  ]
  var blocks: [Layer] = []
  for (r, k, s, e, cin, cout) in stages {
    for i in 0..<r {
      let inC = i == 0 ? cin : cout
      let stride = i == 0 ? s : 1
      let mid = inC * e
      var layers: [(String, Layer)] = []
      if e != 1 {
        layers.append(
          ("_expand_conv", Conv2d(inputChannels: inC, outputChannels: mid, kernelSize: 1)))
        layers.append(("_bn0", bn(mid, .relu6)))
      }
      layers.append(
        (
          "_depthwise_conv",
          Conv2d(
            inputChannels: mid, outputChannels: mid, kernelSize: k,
            stride: stride, padding: .same, groups: mid)
        ))
      layers.append(("_bn1", bn(mid, .relu6)))
      layers.append(
        ("_project_conv", Conv2d(inputChannels: mid, outputChannels: cout, kernelSize: 1)))
      layers.append(("_bn2", bn(cout, .identity)))
      let body = Sequential(layers)
      blocks.append(stride == 1 && inC == cout ? Residual(body) : body)
    }
  }
  let stem = Conv2d(inputChannels: 3, outputChannels: 32, kernelSize: 3, stride: 2, padding: .same)
  stem.computesInputGradient = false
  return Sequential([
    ("_conv_stem", stem), ("_bn0", bn(32, .relu6)), ("_blocks", Sequential(blocks)),
    ("_conv_head", Conv2d(inputChannels: 320, outputChannels: 1280, kernelSize: 1)),
    ("_bn1", bn(1280, .relu6)), ("", GlobalAveragePool()),
    ("_dropout", Dropout(probability: 0.2, seed: 1)),
    ("_fc", Linear(inputFeatures: 1280, outputFeatures: classes)),
  ])
}

func peakRSS() -> Int {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  return usage.ru_maxrss * 1024
}

func pageFaults() -> Int {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  return usage.ru_minflt + usage.ru_majflt
}

final class NeuralBenchmarks: XCTestCase {
  var enabled: Bool { ProcessInfo.processInfo.environment["NEURAL_BENCH"] == "1" }
  var env: [String: String] { ProcessInfo.processInfo.environment }

  func testLite0() throws {
    try XCTSkipUnless(enabled, "set NEURAL_BENCH=1")
    let batch = Int(env["BENCH_BATCH"] ?? "32")!
    let size = Int(env["BENCH_SIZE"] ?? "224")!
    let steps = Int(env["BENCH_STEPS"] ?? "3")!
    let modes = (env["BENCH_MODES"] ?? "infer,train").split(separator: ",")
    let net = liteNet()
    print("Lite0 parameters: \(net.parameters.reduce(0) { $0 + $1.parameter.value.count })")
    let x = randomTensor([batch, size, size, 3], seed: 1)
    let labels = (0..<batch).map { $0 % 1000 }
    let loss = SoftmaxCrossEntropy()
    let sgd = SGD(parameters: net.parameters, learningRate: 0.01, momentum: 0.9, weightDecay: 1e-5)
    Profiler.enabled = env["BENCH_PROFILE"] == "1"
    for mode in modes {
      var times: [Double] = []
      var faults = 0
      for step in 0...steps {
        if step == 1 { Profiler.reset() }
        let f0 = pageFaults()
        let t0 = Date()
        if mode == "infer" {
          _ = net.forward(x, mode: .inference)
        } else {
          sgd.zeroGrad()
          let logits = net.forward(x, mode: .training)
          _ = loss.forward(logits: logits, labels: labels)
          _ = net.backward(loss.backward())
          sgd.step()
        }
        if step > 0 {
          times.append(Date().timeIntervalSince(t0))
          faults = pageFaults() - f0
        }
      }
      let best = times.min()!
      print(
        String(
          format:
            "BENCH lite0 %@ batch %d size %d: best %.3f s = %.1f img/s (median %.3f s), page faults/step %d, peak RSS %.2f GB",
          String(mode), batch, size, best, Double(batch) / best, times.sorted()[times.count / 2],
          faults, Double(peakRSS()) / 1e9))
      if Profiler.enabled {
        for e in Profiler.summary() {
          print(
            String(
              format: "  %-22@ fwd %7.3f s  bwd %7.3f s", e.kind, e.forwardSeconds / Double(steps),
              e.backwardSeconds / Double(steps)))
        }
      }
    }
    Profiler.enabled = false
  }

  func testKernels() throws {
    try XCTSkipUnless(enabled, "set NEURAL_BENCH=1")
    func time(_ label: String, flops: Double, repeats: Int = 5, _ body: () -> Void) {
      body()
      var best = Double.infinity
      for _ in 0..<repeats {
        let t0 = Date()
        body()
        best = min(best, Date().timeIntervalSince(t0))
      }
      print(
        String(
          format: "KERNEL %-40@ %8.2f ms  %6.1f GFLOP/s", label, best * 1e3, flops / best / 1e9))
    }
    let n = 32
    // 1×1 convolutions of Lite0 at 224: 56×56, 24 → 144 and 144 → 24.
    for (h, cin, cout) in [(56, 24, 144), (56, 144, 24), (14, 480, 80), (7, 320, 1280)] {
      let conv = Conv2d(inputChannels: cin, outputChannels: cout, kernelSize: 1)
      let x = randomTensor([n, h, h, cin], seed: 1)
      let flops = 2.0 * Double(n * h * h * cin * cout)
      time("1x1 fwd \(h)x\(h) \(cin)->\(cout)", flops: flops) {
        _ = conv.forward(x, mode: .training)
      }
      let dy = randomTensor([n, h, h, cout], seed: 2)
      time("1x1 bwd \(h)x\(h) \(cin)->\(cout)", flops: 2 * flops) { _ = conv.backward(dy) }
    }
    for (h, c, k, s) in [
      (112, 32, 3, 1), (112, 96, 3, 2), (56, 144, 3, 1), (28, 240, 5, 1), (14, 480, 3, 1),
      (14, 672, 5, 2), (7, 1152, 5, 1),
    ] {
      let conv = Conv2d(
        inputChannels: c, outputChannels: c, kernelSize: k, stride: s, padding: .same, groups: c)
      let x = randomTensor([n, h, h, c], seed: 1)
      let y = conv.forward(x, mode: .training)
      let flops = 2.0 * Double(y.count * k * k)
      time("dw fwd \(h)x\(h) c\(c) k\(k) s\(s)", flops: flops) {
        _ = conv.forward(x, mode: .training)
      }
      let dy = randomTensor(y.shape, seed: 2)
      time("dw bwd \(h)x\(h) c\(c) k\(k) s\(s)", flops: 2 * flops) { _ = conv.backward(dy) }
    }
    for (h, c) in [(112, 32), (56, 144), (14, 480)] {
      let bn = BatchNorm2d(channels: c, eps: 1e-3, activation: .relu6)
      let x = randomTensor([n, h, h, c], seed: 1)
      let bytes = Double(x.count * 4)
      time("bn+relu6 train fwd \(h)x\(h) c\(c) (GB/s=GFLOP/s col)", flops: 3 * bytes) {
        _ = bn.forward(x, mode: .training)
      }
      time("bn+relu6 bwd \(h)x\(h) c\(c)", flops: 5 * bytes) { _ = bn.backward(x) }
      time("bn+relu6 infer \(h)x\(h) c\(c)", flops: 2 * bytes) {
        _ = bn.forward(x, mode: .inference)
      }
    }
  }
}
