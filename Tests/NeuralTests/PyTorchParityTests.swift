// PyTorch parity on a tiny EfficientNet-Lite-like network (stem with SAME padding, a residual
// MBConv block with a 3×3 depthwise, a stride-2 block with a 5×5 depthwise, head, pooling,
// Linear): eval logits, one training step (loss, every gradient), the state after two SGD
// (momentum, Nesterov, weight decay) steps, and AdamW. Also proves we read safetensors files
// written by PyTorch (F32, I64, F16, BF16).
// Fixture: Tests/NeuralTests/Fixtures/tiny_net.safetensors from scripts/reference/neural_fixtures.py.

import Foundation
import Neural
import TestSupport
import XCTest

final class PyTorchParityTests: XCTestCase {
  var fixture: [String: Tensor] = [:]

  override func setUpWithError() throws {
    let url = packageRoot.appendingPathComponent("Tests/NeuralTests/Fixtures/tiny_net.safetensors")
    let file = try SafeTensors.read(contentsOf: url)
    XCTAssertEqual(file.metadata["script"], "scripts/reference/neural_fixtures.py")
    fixture = file.dictionary
  }

  func block(_ c: Int, expand e: Int, kernel k: Int, stride s: Int) -> Layer {
    let bn = { (n: Int, act: Activation) in
      BatchNorm2d(channels: n, eps: 1e-3, momentum: 0.01, activation: act)
    }
    let body = Sequential([
      ("_expand_conv", Conv2d(inputChannels: c, outputChannels: c * e, kernelSize: 1)),
      ("_bn0", bn(c * e, .relu6)),
      (
        "_depthwise_conv",
        Conv2d(
          inputChannels: c * e, outputChannels: c * e, kernelSize: k, stride: s, padding: .same,
          groups: c * e)
      ),
      ("_bn1", bn(c * e, .relu6)),
      ("_project_conv", Conv2d(inputChannels: c * e, outputChannels: c, kernelSize: 1)),
      ("_bn2", bn(c, .identity)),
    ])
    return s == 1 ? Residual(body) : body
  }

  func tinyNet() -> Sequential {
    let stem = Conv2d(inputChannels: 3, outputChannels: 8, kernelSize: 3, stride: 2, padding: .same)
    stem.computesInputGradient = false
    return Sequential([
      ("_conv_stem", stem),
      ("_bn0", BatchNorm2d(channels: 8, eps: 1e-3, momentum: 0.01, activation: .relu6)),
      (
        "_blocks",
        Sequential([
          block(8, expand: 3, kernel: 3, stride: 1), block(8, expand: 2, kernel: 5, stride: 2),
        ])
      ),
      ("_conv_head", Conv2d(inputChannels: 8, outputChannels: 16, kernelSize: 1)),
      ("_bn1", BatchNorm2d(channels: 16, eps: 1e-3, momentum: 0.01, activation: .relu6)),
      ("", GlobalAveragePool()),
      ("_fc", Linear(inputFeatures: 16, outputFeatures: 5)),
    ])
  }

  func subset(_ prefix: String) -> [String: Tensor] {
    var out: [String: Tensor] = [:]
    for (k, v) in fixture where k.hasPrefix(prefix) { out[String(k.dropFirst(prefix.count))] = v }
    return out
  }

  func testTinyNetMatchesPyTorch() throws {
    let net = tinyNet()
    try net.loadStateDict(subset("init."))
    let x = fixture["input"]!
    let labels = fixture["labels"]!.array.map { Int($0) }

    let eval = net.forward(x, mode: .inference)
    var d = assertClose(eval.array, fixture["eval.logits"]!.array, rtol: 1e-4, atol: 1e-5)
    print("TENSOR OK eval logits, maxdiff = \(d)")

    let sgd = SGD(
      parameters: net.parameters, learningRate: 0.05, momentum: 0.9, weightDecay: 1e-4,
      nesterov: true)
    let loss = SoftmaxCrossEntropy(labelSmoothing: 0.1)
    for step in 0..<2 {
      sgd.zeroGrad()
      let logits = net.forward(x, mode: .training)
      let value = loss.forward(logits: logits, labels: labels)
      _ = net.backward(loss.backward())
      if step == 0 {
        d = assertClose(logits.array, fixture["train.logits"]!.array, rtol: 1e-4, atol: 1e-5)
        print("TENSOR OK train logits, maxdiff = \(d)")
        assertClose([value], fixture["train.loss"]!.array, rtol: 1e-5, atol: 1e-6)
        var worst = 0.0
        for (name, p) in net.parameters {
          let expected = fixture["grad.\(name)"]!
          let grad = Parameter(Tensor(shape: p.value.shape), layout: p.layout)
          grad.value.copy(from: p.grad)
          worst = max(
            worst,
            assertClose(grad.pytorchTensor().array, expected.array, rtol: 1e-3, atol: 2e-5, name))
        }
        print("TENSOR OK gradients (\(net.parameters.count) tensors), maxdiff = \(worst)")
      }
      sgd.step()
    }
    let after = Dictionary(uniqueKeysWithValues: net.stateDict().map { ($0.name, $0.tensor) })
    var worst = 0.0
    for (name, expected) in subset("step2.") {
      worst = max(
        worst, assertClose(after[name]!.array, expected.array, rtol: 1e-3, atol: 2e-5, name))
    }
    print("TENSOR OK state after two SGD steps, maxdiff = \(worst)")
  }

  func testAdamWMatchesPyTorch() throws {
    let linear = Linear(inputFeatures: 4, outputFeatures: 3)
    try linear.loadStateDict([
      "weight": fixture["adamw.init.weight"]!, "bias": fixture["adamw.init.bias"]!,
    ])
    let adam = AdamW(parameters: linear.parameters, learningRate: 0.01, weightDecay: 0.05)
    let inputs = fixture["adamw.inputs"]!
    for i in 0..<3 {
      adam.zeroGrad()
      let x = Tensor(shape: [2, 4], values: Array(inputs.array[(i * 8)..<(i * 8 + 8)]))
      let y = linear.forward(x, mode: .training)
      let dy = Tensor(shape: y.shape, values: y.array.map { 2 * $0 })  // d(Σ y²)/dy
      _ = linear.backward(dy)
      adam.step()
    }
    let d1 = assertClose(
      linear.weight.value.array, fixture["adamw.final.weight"]!.array, rtol: 1e-5, atol: 1e-6)
    let d2 = assertClose(
      linear.bias!.value.array, fixture["adamw.final.bias"]!.array, rtol: 1e-5, atol: 1e-6)
    print("TENSOR OK AdamW, maxdiff = \(max(d1, d2))")
  }

  func testReadsHalfPrecisionAndIntegers() {
    XCTAssertEqual(fixture["f16.sample"]!.array, [1, -2.5, 65504, Float(5.9604645e-08)])
    XCTAssertEqual(fixture["bf16.sample"]!.array[0...1], [1, -2.5])
    XCTAssertEqual(fixture["init._bn0.num_batches_tracked"]!.array, [0])
    XCTAssertEqual(fixture["labels"]!.array, [0, 3, 1, 4])
  }
}

final class SafeTensorsTests: XCTestCase {
  func testRoundTripWithMetadata() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = dir.appendingPathComponent("ckpt.safetensors")
    let a = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
    let b = Tensor(shape: [], values: [7])
    try SafeTensors.write([("b \"quoted\"", b), ("a", a)], metadata: ["epoch": "3"], to: url)
    let bytes = try Data(contentsOf: url)
    let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8
    XCTAssertEqual((8 + headerLength) % 8, 0, "header padded to 8 bytes")
    XCTAssertEqual(bytes.count, 8 + headerLength + 7 * 4)
    let file = try SafeTensors.read(contentsOf: url)
    XCTAssertEqual(file.metadata, ["epoch": "3"])
    XCTAssertEqual(file.tensors.map(\.name), ["a", "b \"quoted\""])
    XCTAssertEqual(file.dictionary["a"]!.shape, [2, 3])
    XCTAssertEqual(file.dictionary["a"]!.array, a.array)
    XCTAssertEqual(file.dictionary["b \"quoted\""]!.array, [7])
  }

  func testModelCheckpointRoundTrip() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = dir.appendingPathComponent("model.safetensors")
    let make = {
      Sequential([
        (
          "conv",
          Conv2d(inputChannels: 2, outputChannels: 3, kernelSize: 3, padding: .same) as Layer
        ),
        ("bn", BatchNorm2d(channels: 3)),
      ])
    }
    let a = make()
    a.resetParameters(seed: 5)
    (a["bn"] as! BatchNorm2d).runningMean.fill(0.25)
    try a.saveSafetensors(to: url, metadata: ["arch": "test"])
    let b = make()
    XCTAssertEqual(try b.loadSafetensors(from: url), ["arch": "test"])
    let x = randomTensor([1, 4, 4, 2], seed: 1)
    XCTAssertEqual(b.forward(x, mode: .inference).array, a.forward(x, mode: .inference).array)
  }

  func testRejectsCorruptFiles() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = dir.appendingPathComponent("bad.safetensors")
    try Data([1, 2, 3]).write(to: url)
    XCTAssertThrowsError(try SafeTensors.read(contentsOf: url)) { error in
      guard case .invalidSafetensors = error as? NeuralError else { return XCTFail("\(error)") }
    }
    var header = Array("{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,8]}}".utf8)
    while header.count % 8 != 0 { header.append(0x20) }
    var data = Data([UInt8(header.count), 0, 0, 0, 0, 0, 0, 0])
    data.append(contentsOf: header)
    data.append(contentsOf: [UInt8](repeating: 0, count: 8))
    try data.write(to: url)
    XCTAssertThrowsError(try SafeTensors.read(contentsOf: url)) { error in
      XCTAssert("\(error)".contains("'x'"), "\(error)")
    }
    XCTAssertThrowsError(
      try SafeTensors.read(contentsOf: dir.appendingPathComponent("missing.safetensors")))
  }
}
