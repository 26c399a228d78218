// EfficientNet-Lite 0–4 from one parametrised definition (Tan & Le's EfficientNet with the
// "lite" changes: ReLU6, no squeeze-excite, stem 32 and head 1280 fixed, first and last
// stage not deepened), named exactly like lukemelas' EfficientNet-PyTorch state_dict so the
// PyPI `.pth` files load strictly:
//
//   _conv_stem  _bn0  _blocks.N.{_expand_conv,_bn0,_depthwise_conv,_bn1,_project_conv,_bn2}
//   _conv_head  _bn1  _fc
//
// Layout: features (stem … global average pool) → head (dropout → _fc, the ImageNet classifier;
// a new task's head is Adaptation's ClassifierHead on the pooled features).
// TensorFlow SAME padding, BatchNorm eps 1e-3 / momentum 0.01 (TF's 0.99), ReLU6 fused into
// the BatchNorm that precedes it.
//
// `.inference` runs a folded path (EfficientNetLite+Inference.swift): BatchNorm and ReLU6 folded
// into the convolutions, four reused activation buffers; `.training` runs layer by layer.

import Neural
import Randomness

/// EfficientNet-Lite on the Neural engine: forward/backward, strict PyTorch weight loading,
/// grayscale input, pooled features and stage boundaries.
public final class EfficientNetLite: Layer {
  /// The architecture's scaling.
  public struct Configuration: Sendable, Equatable {
    /// "efficientnet-lite0" …
    public var name: String
    /// Channel multiplier (filters rounded to multiples of 8 as in the TF reference).
    public var widthMultiplier: Double
    /// Repeat multiplier (ceil), not applied to the first and last stage.
    public var depthMultiplier: Double
    /// The ImageNet training resolution (square).
    public var resolution: Int
    /// Dropout before `_fc` in the original classifier.
    public var dropout: Float

    /// Creates a configuration.
    public init(
      name: String, widthMultiplier: Double, depthMultiplier: Double, resolution: Int,
      dropout: Float
    ) {
      self.name = name
      self.widthMultiplier = widthMultiplier
      self.depthMultiplier = depthMultiplier
      self.resolution = resolution
      self.dropout = dropout
    }

    public static let lite0 = Configuration(
      name: "efficientnet-lite0", widthMultiplier: 1.0, depthMultiplier: 1.0, resolution: 224,
      dropout: 0.2)
    public static let lite1 = Configuration(
      name: "efficientnet-lite1", widthMultiplier: 1.0, depthMultiplier: 1.1, resolution: 240,
      dropout: 0.2)
    public static let lite2 = Configuration(
      name: "efficientnet-lite2", widthMultiplier: 1.1, depthMultiplier: 1.2, resolution: 260,
      dropout: 0.3)
    public static let lite3 = Configuration(
      name: "efficientnet-lite3", widthMultiplier: 1.2, depthMultiplier: 1.4, resolution: 280,
      dropout: 0.3)
    public static let lite4 = Configuration(
      name: "efficientnet-lite4", widthMultiplier: 1.4, depthMultiplier: 1.8, resolution: 300,
      dropout: 0.3)

    /// EfficientNet-B0's stages: (repeats, kernel, stride, expansion, output filters).
    static let baseStages: [(repeats: Int, kernel: Int, stride: Int, expand: Int, filters: Int)] = [
      (1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112),
      (4, 5, 2, 6, 192), (1, 3, 1, 6, 320),
    ]

    /// TF `round_filters`: scale, round to a multiple of 8, never drop more than 10 %.
    func roundFilters(_ filters: Int) -> Int {
      let scaled = Double(filters) * widthMultiplier
      var rounded = max(8, Int(scaled + 4) / 8 * 8)
      if Double(rounded) < 0.9 * scaled { rounded += 8 }
      return rounded
    }

    /// The per-stage block settings after scaling.
    var stages: [(repeats: Int, kernel: Int, stride: Int, expand: Int, filters: Int)] {
      Configuration.baseStages.enumerated().map { index, s in
        let fixed = index == 0 || index == Configuration.baseStages.count - 1
        let repeats = fixed ? s.repeats : Int((Double(s.repeats) * depthMultiplier).rounded(.up))
        return (repeats, s.kernel, s.stride, s.expand, roundFilters(s.filters))
      }
    }
  }

  /// How a one-channel (grayscale) input is fed to a stem trained on RGB.
  public enum GrayscaleAdaptation: Sendable {
    /// Keep the RGB stem; the model copies the single channel into three.
    case replicate
    /// Replace the stem by one input channel whose filters are the sum of the RGB filters
    /// (timm's `adapt_input_conv`): identical output for a replicated gray image, 3× cheaper.
    case foldStem
  }

  /// A group of layers trained or frozen together ("stem", "stage1" … "stage7", "head_conv",
  /// "classifier"), in input-to-output order.
  public struct Stage {
    /// The stage's name.
    public var name: String
    /// Its parameters, named like the state_dict.
    public var parameters: [(name: String, parameter: Parameter)]
    /// Its BatchNorm layers (for freezing statistics).
    public var batchNorms: [BatchNorm2d]
  }

  /// The architecture.
  public let configuration: Configuration
  /// Channels of the pooled features (1280).
  public let featureCount = 1280
  /// Input channels the model currently expects (3, or 1 after a grayscale adaptation).
  public private(set) var inputChannels = 3
  /// Output classes of the current head.
  public let classCount: Int

  /// `_conv_stem` (its input gradient is never needed).
  public private(set) var stem: Conv2d
  let stemNorm: BatchNorm2d
  let blocks: [(stage: Int, layer: Layer, norms: [BatchNorm2d])]
  let headConv: Conv2d
  let headNorm: BatchNorm2d
  let pool = GlobalAveragePool()
  private let tapPool = GlobalAveragePool()
  /// Stem … global average pool: (N, H, W, C) → (N, 1280).
  public private(set) var features: Sequential
  /// Dropout → `_fc`, the ImageNet classifier: (N, 1280) → (N, classes).
  public private(set) var head: Sequential
  private var replicate: ChannelReplicate?
  private var replicatedInput = Tensor(shape: [0])
  /// When true (the default), `.inference` runs the folded path (BatchNorm and ReLU6 folded
  /// into the convolutions, activations in a reused arena, see `EfficientNetLite+Inference`);
  /// when false it runs layer by layer like `.training` does. Both compute the same function.
  public var usesFoldedInference = true
  private var plan: InferencePlan?

  /// Builds the architecture with scratch initialisation (He fan-out for convolutions,
  /// U(±1/√out) for the classifier, as the TF reference and timm) from `seed`.
  public init(_ configuration: Configuration = .lite0, classes: Int = 1000, seed: UInt64 = 0) {
    precondition(classes > 0, "EfficientNetLite needs at least one class, got \(classes).")
    self.configuration = configuration
    self.classCount = classes
    func norm(_ c: Int, _ activation: Activation) -> BatchNorm2d {
      BatchNorm2d(channels: c, eps: 1e-3, momentum: 0.01, activation: activation)
    }
    stem = Conv2d(
      inputChannels: 3, outputChannels: 32, kernelSize: 3, stride: 2, padding: .same)
    stem.computesInputGradient = false
    stemNorm = norm(32, .relu6)
    // Norms followed by a convolution get dy in that convolution's own gradient buffer, which
    // nothing reads again: they write dx over it (saves their largest gradient buffers). Not
    // _bn2, whose dy is a residual block's upstream gradient, read again for the skip.
    stemNorm.overwritesOutputGradient = true
    var built: [(stage: Int, layer: Layer, norms: [BatchNorm2d])] = []
    var channels = 32
    for (stageIndex, s) in configuration.stages.enumerated() {
      for r in 0..<s.repeats {
        let stride = r == 0 ? s.stride : 1
        let hidden = channels * s.expand
        var children: [(String, Layer)] = []
        var norms: [BatchNorm2d] = []
        if s.expand != 1 {
          children.append(
            ("_expand_conv", Conv2d(inputChannels: channels, outputChannels: hidden, kernelSize: 1))
          )
          norms.append(norm(hidden, .relu6))
          norms.last!.overwritesOutputGradient = true
          children.append(("_bn0", norms.last!))
        }
        children.append(
          (
            "_depthwise_conv",
            Conv2d(
              inputChannels: hidden, outputChannels: hidden, kernelSize: s.kernel, stride: stride,
              padding: .same, groups: hidden)
          ))
        norms.append(norm(hidden, .relu6))
        norms.last!.overwritesOutputGradient = true
        children.append(("_bn1", norms.last!))
        children.append(
          ("_project_conv", Conv2d(inputChannels: hidden, outputChannels: s.filters, kernelSize: 1))
        )
        norms.append(norm(s.filters, .identity))
        children.append(("_bn2", norms.last!))
        let body = Sequential(children)
        let layer: Layer = stride == 1 && channels == s.filters ? Residual(body) : body
        built.append((stageIndex + 1, layer, norms))
        channels = s.filters
      }
    }
    blocks = built
    headConv = Conv2d(inputChannels: channels, outputChannels: 1280, kernelSize: 1)
    headNorm = norm(1280, .relu6)
    headNorm.overwritesOutputGradient = true
    features = Sequential([(String, Layer)]())
    head = Sequential([(String, Layer)]())
    features = makeFeatures()
    head = Sequential([
      ("_dropout", Dropout(probability: configuration.dropout, seed: seed)),
      ("_fc", Linear(inputFeatures: 1280, outputFeatures: classes)),
    ])
    initializeFromScratch(seed: seed)
  }

  private func makeFeatures() -> Sequential {
    Sequential([
      ("_conv_stem", stem), ("_bn0", stemNorm),
      ("_blocks", Sequential(blocks.enumerated().map { (String($0.offset), $0.element.layer) })),
      ("_conv_head", headConv), ("_bn1", headNorm), ("_avg_pooling", pool),
    ])
  }

  // MARK: - Layer

  public var kind: String { "EfficientNetLite" }

  public var parameters: [(name: String, parameter: Parameter)] {
    features.parameters + head.parameters
  }

  public var buffers: [(name: String, tensor: Tensor)] { features.buffers + head.buffers }

  // x: (N, H, W, inputChannels) -> logits (N, classes)
  public func forward(_ x: Tensor, mode: Mode) -> Tensor {
    head.forward(extractFeatures(x, mode: mode), mode: mode)
  }

  /// The penultimate pooled features: (N, H, W, C) → (N, 1280) (after `_bn1` + ReLU6 and the
  /// global average pool, before dropout). The returned tensor is reused by the next call.
  public func extractFeatures(_ x: Tensor, mode: Mode) -> Tensor {
    let input = networkInput(x)
    guard mode == .inference && usesFoldedInference else {
      return features.forward(input, mode: mode)
    }
    let plan =
      self.plan
      ?? InferencePlan(
        stem: stem, stemNorm: stemNorm, blocks: blocks.map { $0.layer }, headConv: headConv,
        headNorm: headNorm)
    self.plan = plan
    let h = plan.run(input)
    if Profiler.enabled {
      return Profiler.record(path: "_avg_pooling", kind: pool.kind, multiplyAccumulates: 0) {
        pool.forward(h, mode: .inference)
      }
    }
    return pool.forward(h, mode: .inference)
  }

  /// The input the stem sees: `x` itself, or its gray channel replicated to three.
  private func networkInput(_ x: Tensor) -> Tensor {
    if let r = replicate {
      precondition(
        x.shape.count == 4 && x.shape[3] == 1,
        "EfficientNetLite adapted to grayscale needs (N, H, W, 1) input, got \(x.shape).")
      return r.forward(x, into: replicatedInput)
    }
    precondition(
      x.shape.count == 4 && x.shape[3] == inputChannels,
      "EfficientNetLite needs (N, H, W, \(inputChannels)) input, got \(x.shape).")
    return x
  }

  /// Layers whose globally pooled output `pooledFeatures(_:at:)` can return, stem side first:
  /// `stem`, `stage1` … `stage7` (the last block of each MBConv stage) and `head_conv` (the
  /// penultimate 1280 features `extractFeatures` returns). Named like `stages`.
  public static let featureLayers =
    ["stem"] + (1...Configuration.baseStages.count).map { "stage\($0)" } + ["head_conv"]

  /// Channels of `layer`'s output (nil: not one of `featureLayers`).
  public func featureWidth(at layer: String) -> Int? {
    guard let index = Self.featureLayers.firstIndex(of: layer) else { return nil }
    if index == 0 { return stem.outputChannels }
    if index == Self.featureLayers.count - 1 { return featureCount }
    return configuration.stages[index - 1].filters
  }

  /// Inference-mode output of `layer` (one of `featureLayers`), averaged over the spatial axes:
  /// (N, H, W, C) → (N, featureWidth(at: layer)). Early layers see texture, noise and contrast;
  /// `head_conv` is what a classifier head sees. `head_conv` takes the folded path of
  /// `extractFeatures` unless `layerByLayer`; the other layers always run layer by layer. The
  /// returned tensor is reused by the next call.
  public func pooledFeatures(_ x: Tensor, at layer: String, layerByLayer: Bool = false) -> Tensor {
    guard let index = Self.featureLayers.firstIndex(of: layer) else {
      preconditionFailure(
        "EfficientNetLite has no feature layer '\(layer)'; layers: \(Self.featureLayers).")
    }
    let last = Self.featureLayers.count - 1
    if index == last && !layerByLayer {
      return extractFeatures(x, mode: .inference)
    }
    var h = stemNorm.forward(stem.forward(networkInput(x), mode: .inference), mode: .inference)
    for block in blocks where block.stage <= index {
      h = block.layer.forward(h, mode: .inference)
    }
    if index == last {
      h = headNorm.forward(headConv.forward(h, mode: .inference), mode: .inference)
    }
    return tapPool.forward(h, mode: .inference)
  }

  /// Back-propagates dL/dlogits through the head and the features. The stem computes no input
  /// gradient, so the returned dL/dx is zeros.
  public func backward(_ dy: Tensor) -> Tensor {
    featuresBackward(head.backward(dy))
  }

  /// Back-propagates dL/dfeatures (N, 1280) through the feature extractor only.
  @discardableResult
  public func featuresBackward(_ dFeatures: Tensor) -> Tensor {
    features.backward(dFeatures)
  }

  public func resetParameters(using generator: inout SeededGenerator) {
    initializeFromScratch(seed: generator.next())
  }

  // MARK: - Initialisation and weights

  /// Scratch initialisation: convolutions N(0, √(2 / fan_out)) with fan_out = k²·C_out/groups,
  /// BatchNorm γ = 1, β = 0, classifier U(±1/√out), biases 0 (the TF reference's initialisers).
  public func initializeFromScratch(seed: UInt64) {
    var g = SeededGenerator(seed: seed)
    for (name, p) in parameters {
      let v = p.value
      if name.hasSuffix(".weight") && v.shape.count >= 3 {
        let fanOut: Int
        switch p.layout {
        case .depthwise: fanOut = v.shape[0] * v.shape[1]  // k²·C/C
        default: fanOut = v.shape[0] * v.shape[1] * v.shape[3]
        }
        let std = (2 / Float(fanOut)).squareRoot()
        for i in 0..<v.count { v[i] = Float(g.normal()) * std }
      } else if name.hasSuffix(".weight") && v.shape.count == 2 {
        let bound = 1 / Float(v.shape[0]).squareRoot()
        for i in 0..<v.count { v[i] = g.uniformFloat(-bound, bound) }
      } else if name.hasSuffix(".weight") {
        v.fill(1)  // BatchNorm γ
      } else {
        v.zero()
      }
    }
    for (name, b) in buffers {
      if name.hasSuffix("running_var") { b.fill(1) } else { b.zero() }
    }
  }

  /// Loads a PyTorch state_dict strictly: every parameter and buffer must be present with the
  /// same shape, and no checkpoint key may be left over. Convolution weights are permuted from
  /// OIHW to the engine's layout once, here. Nothing changes when it throws.
  public func load(_ state: StateDict) throws {
    var tensors: [String: Tensor] = [:]
    var remaining = Set(state.keys)
    func squeezed(_ s: [Int]) -> [Int] { s.filter { $0 != 1 } }
    for (name, p) in parameters {
      guard let t = state[name] else {
        throw BackbonesError.missingKey(key: name, expected: p.pytorchShape)
      }
      guard t.shape == p.pytorchShape else {
        throw BackbonesError.shapeMismatch(key: name, expected: p.pytorchShape, actual: t.shape)
      }
      tensors[name] = Tensor(shape: t.shape, values: t.values)
      remaining.remove(name)
    }
    for (name, b) in buffers {
      guard let t = state[name] else {
        throw BackbonesError.missingKey(key: name, expected: b.shape)
      }
      guard t.values.count == b.count, squeezed(t.shape) == squeezed(b.shape) else {
        throw BackbonesError.shapeMismatch(key: name, expected: b.shape, actual: t.shape)
      }
      tensors[name] = Tensor(shape: b.shape, values: t.values)
      remaining.remove(name)
    }
    if let extra = remaining.sorted().first {
      throw BackbonesError.unusedKey(key: extra, actual: state[extra]?.shape ?? [])
    }
    do {
      try loadStateDict(tensors, strict: true)
    } catch {
      throw BackbonesError.corruptCheckpoint(path: configuration.name, detail: "\(error)")
    }
  }

  /// Builds `configuration` and loads the cached (fetched if needed) ImageNet weights.
  public static func pretrained(
    _ name: String = "efficientnet-lite0", log: (String) -> Void = { _ in }
  ) throws -> EfficientNetLite {
    let weights = try PretrainedRegistry.weights(named: name)
    let path = try PretrainedRegistry.fetch(weights.name, log: log)
    let model = EfficientNetLite(weights.configuration)
    try model.load(StateDict(contentsOf: path))
    return model
  }

  // MARK: - Transfer

  /// Adapts the model to one-channel input (see `GrayscaleAdaptation`).
  public func adaptToGrayscale(_ adaptation: GrayscaleAdaptation) {
    precondition(
      inputChannels == 3 && replicate == nil, "EfficientNetLite is already adapted to grayscale.")
    switch adaptation {
    case .replicate:
      replicate = ChannelReplicate(copies: 3)
    case .foldStem:
      let folded = Conv2d(
        inputChannels: 1, outputChannels: 32, kernelSize: 3, stride: 2, padding: .same)
      folded.computesInputGradient = false
      // Ours: (KH, KW, Cin, Cout); sum over Cin.
      let src = stem.weight.value
      let dst = folded.weight.value
      let taps = 9
      let cout = 32
      for t in 0..<taps {
        for o in 0..<cout {
          var sum: Float = 0
          for i in 0..<3 { sum += src[(t * 3 + i) * cout + o] }
          dst[t * cout + o] = sum
        }
      }
      stem = folded
      features = makeFeatures()
      plan = nil
    }
    inputChannels = 1
  }

  // MARK: - Stages

  /// The model split into stem, the seven MBConv stages, the head convolution and the
  /// classifier, in order (for partial fine-tuning and per-stage weight drift).
  public var stages: [Stage] {
    var result: [Stage] = [
      Stage(
        name: "stem",
        parameters: prefixed("_conv_stem", stem.parameters) + prefixed("_bn0", stemNorm.parameters),
        batchNorms: [stemNorm])
    ]
    for stage in 1...Configuration.baseStages.count {
      var params: [(name: String, parameter: Parameter)] = []
      var norms: [BatchNorm2d] = []
      for (index, block) in blocks.enumerated() where block.stage == stage {
        params += prefixed("_blocks.\(index)", block.layer.parameters)
        norms += block.norms
      }
      result.append(Stage(name: "stage\(stage)", parameters: params, batchNorms: norms))
    }
    result.append(
      Stage(
        name: "head_conv",
        parameters: prefixed("_conv_head", headConv.parameters)
          + prefixed("_bn1", headNorm.parameters),
        batchNorms: [headNorm]))
    result.append(Stage(name: "classifier", parameters: head.parameters, batchNorms: []))
    return result
  }

  /// Freezes (or unfreezes) every parameter of the first `count` stages and, optionally,
  /// their BatchNorm statistics; the rest is made trainable.
  public func freeze(firstStages count: Int, freezeStatistics: Bool = true) {
    for (index, stage) in stages.enumerated() {
      let frozen = index < count
      for (_, p) in stage.parameters { p.frozen = frozen }
      for bn in stage.batchNorms { bn.freezeStatistics = frozen && freezeStatistics }
    }
  }

  private func prefixed(_ prefix: String, _ list: [(name: String, parameter: Parameter)])
    -> [(name: String, parameter: Parameter)]
  {
    list.map { (name: prefix + "." + $0.name, parameter: $0.parameter) }
  }
}

/// Copies a one-channel (N, H, W, 1) tensor into `copies` identical channels.
final class ChannelReplicate {
  let copies: Int
  init(copies: Int) { self.copies = copies }

  // x: (N, H, W, 1) -> y: (N, H, W, copies)   PyTorch: x.expand(-1, copies, -1, -1)
  func forward(_ x: Tensor, into y: Tensor) -> Tensor {
    let pixels = x.count
    y.reshape([x.shape[0], x.shape[1], x.shape[2], copies])
    let src = x.data
    let dst = y.data
    for i in 0..<pixels {
      let v = src[i]
      for c in 0..<copies { dst[i * copies + c] = v }
    }
    return y
  }
}

// MARK: - Cost

extension EfficientNetLite.Configuration {
  /// Multiply-accumulates of one forward pass on a `resolution`² image (convolutions and the
  /// 1000-way classifier; BatchNorm and activations excluded): 385 M for Lite0 at 224.
  public func multiplyAccumulates(resolution r: Int, classes: Int = 1000) -> Int {
    func out(_ size: Int, _ stride: Int) -> Int { (size + stride - 1) / stride }
    var h = out(r, 2)
    var macs = h * h * 32 * 3 * 9
    var channels = 32
    for s in stages {
      for i in 0..<s.repeats {
        let stride = i == 0 ? s.stride : 1
        let hidden = channels * s.expand
        if s.expand != 1 { macs += h * h * channels * hidden }
        h = out(h, stride)
        macs += h * h * hidden * s.kernel * s.kernel + h * h * hidden * s.filters
        channels = s.filters
      }
    }
    return macs + h * h * channels * 1280 + 1280 * classes
  }
}
