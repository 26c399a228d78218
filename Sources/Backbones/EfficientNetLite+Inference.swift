// EfficientNetLite's inference path: every convolution with its BatchNorm and ReLU6 folded in
// (FoldedConv2d), residual adds done inside the projection GEMM, and activations in a small
// arena of four reused buffers instead of one output buffer per layer.
//
//   block input/output   ping-pong buffers `a` / `b` (a residual block adds into its input)
//   expanded             `e` (after _expand_conv + _bn0 + ReLU6, also the head convolution)
//   depthwise output     `d` (after _depthwise_conv + _bn1 + ReLU6)
//
// Peak activation memory is the four largest of those (≈ 330 MB for Lite0 at 224, batch 32)
// instead of the sum over all layers. Training keeps the per-layer path (backward needs them).
// Weights are refolded on every call (a few ms), so training between calls is always seen.

import Neural

/// The folded layers and the activation arena of one EfficientNetLite.
final class InferencePlan {
  struct Block {
    var path: String
    var expand: FoldedConv2d?
    var depthwise: FoldedConv2d
    var project: FoldedConv2d
    var residual: Bool
  }

  let stem: FoldedConv2d
  let blocks: [Block]
  let head: FoldedConv2d
  private let a = Tensor(shape: [0])
  private let b = Tensor(shape: [0])
  private let e = Tensor(shape: [0])
  private let d = Tensor(shape: [0])

  init(
    stem: Conv2d, stemNorm: BatchNorm2d, blocks: [Layer], headConv: Conv2d, headNorm: BatchNorm2d
  ) {
    self.stem = FoldedConv2d(stem, stemNorm)
    self.blocks = blocks.enumerated().map { index, layer in
      let residual = layer is Residual
      guard let body = (residual ? (layer as! Residual).body : layer) as? Sequential,
        let dw = body["_depthwise_conv"] as? Conv2d, let bn1 = body["_bn1"] as? BatchNorm2d,
        let pw = body["_project_conv"] as? Conv2d, let bn2 = body["_bn2"] as? BatchNorm2d
      else { preconditionFailure("EfficientNetLite block \(index) is not an MBConv block.") }
      var expand: FoldedConv2d?
      if let conv = body["_expand_conv"] as? Conv2d, let bn0 = body["_bn0"] as? BatchNorm2d {
        expand = FoldedConv2d(conv, bn0)
      }
      return Block(
        path: "_blocks.\(index)", expand: expand, depthwise: FoldedConv2d(dw, bn1),
        project: FoldedConv2d(pw, bn2), residual: residual)
    }
    head = FoldedConv2d(headConv, headNorm)
  }

  /// Every folded convolution, input to output.
  var layers: [FoldedConv2d] {
    [stem] + blocks.flatMap { [$0.expand, $0.depthwise, $0.project].compactMap { $0 } } + [head]
  }

  /// Refolds every layer from the current weights and running statistics.
  func refold() {
    let all = layers
    Parallel.forEach(all.count) { all[$0].refold() }
  }

  /// x: (N, H, W, 3) -> the head's activations (N, H/32, W/32, 1280) in the arena (valid until
  /// the next call).
  func run(_ x: Tensor) -> Tensor {
    refold()
    var input = a
    var spare = b
    step(stem, x, into: input, "_conv_stem+_bn0")
    for block in blocks {
      var h = input
      if let expand = block.expand {
        step(expand, h, into: e, block.path + "._expand_conv+_bn0")
        h = e
      }
      step(block.depthwise, h, into: d, block.path + "._depthwise_conv+_bn1")
      if block.residual {
        step(
          block.project, d, into: input, block.path + "._project_conv+_bn2+skip", accumulate: true)
      } else {
        step(block.project, d, into: spare, block.path + "._project_conv+_bn2")
        swap(&input, &spare)
      }
    }
    step(head, input, into: e, "_conv_head+_bn1")
    return e
  }

  private func step(
    _ layer: FoldedConv2d, _ x: Tensor, into y: Tensor, _ path: String, accumulate: Bool = false
  ) {
    if Profiler.enabled {
      let macs = layer.multiplyAccumulates(for: x.shape)
      Profiler.record(path: path, kind: layer.kind, multiplyAccumulates: macs) {
        layer.forward(x, into: y, accumulate: accumulate)
      }
    } else {
      layer.forward(x, into: y, accumulate: accumulate)
    }
  }
}
