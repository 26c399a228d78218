// Parameter+PyTorch: moving parameters in and out of PyTorch's layout, and state dicts.
//
//   parameter.pytorchShape                 the shape PyTorch gives this tensor.
//   parameter.load(pytorch:key:) throws    copy from a PyTorch-layout tensor (permutes once).
//   parameter.pytorchTensor()              a PyTorch-layout copy.
//   layer.stateDict()                      [(name, tensor)] in PyTorch layout, params + buffers.
//   layer.loadStateDict(_:strict:) throws  strict by default: missing, unused, shape mismatch.

extension Parameter {
  /// The shape PyTorch uses for this tensor (OIHW for convolutions).
  public var pytorchShape: [Int] {
    let s = value.shape
    switch layout {
    case .identity: return s
    case .convolution: return [s[3], s[2], s[0], s[1]]
    case .depthwise: return [s[2], 1, s[0], s[1]]
    }
  }

  /// Copies `tensor`, laid out as PyTorch stores this parameter, into `value`.
  ///
  /// - Throws: `NeuralError.shapeMismatch` naming `key` when the shapes differ.
  public func load(pytorch tensor: Tensor, key: String = "") throws {
    let expected = pytorchShape
    guard
      tensor.shape == expected
        || (tensor.count == value.count && squeezed(tensor.shape) == squeezed(expected))
    else {
      throw NeuralError.shapeMismatch(key: key, expected: expected, actual: tensor.shape)
    }
    let src = tensor.data
    let dst = value.data
    forEachIndexPair { ours, torch in dst[ours] = src[torch] }
  }

  /// A copy of `value` in PyTorch's layout and shape.
  public func pytorchTensor() -> Tensor {
    let out = Tensor(shape: pytorchShape)
    let src = value.data
    let dst = out.data
    forEachIndexPair { ours, torch in dst[torch] = src[ours] }
    return out
  }

  /// Calls `body(ours, torch)` for every element: its flat index in `value` and in PyTorch's
  /// layout of the same parameter. Loading and exporting are the two directions of this map.
  private func forEachIndexPair(_ body: (Int, Int) -> Void) {
    let s = value.shape
    switch layout {
    case .identity:
      for i in 0..<value.count { body(i, i) }
    case .convolution:
      // PyTorch (O, I, KH, KW) <-> ours (KH, KW, I, O)
      let (kh, kw, ci, co) = (s[0], s[1], s[2], s[3])
      for o in 0..<co {
        for i in 0..<ci {
          for a in 0..<kh {
            for b in 0..<kw {
              body(((a * kw + b) * ci + i) * co + o, ((o * ci + i) * kh + a) * kw + b)
            }
          }
        }
      }
    case .depthwise:
      // PyTorch (C, 1, KH, KW) <-> ours (KH, KW, C)
      let (kh, kw, c) = (s[0], s[1], s[2])
      for ch in 0..<c {
        for a in 0..<kh {
          for b in 0..<kw { body((a * kw + b) * c + ch, (ch * kh + a) * kw + b) }
        }
      }
    }
  }
}

/// Shapes equal up to dimensions of size 1 (a PyTorch scalar () and our [1] are the same).
private func squeezed(_ shape: [Int]) -> [Int] { shape.filter { $0 != 1 } }

extension Layer {
  /// Parameters then buffers, named like PyTorch's `state_dict()`, in PyTorch layout (copies).
  public func stateDict() -> [(name: String, tensor: Tensor)] {
    parameters.map { ($0.name, $0.parameter.pytorchTensor()) }
      + buffers.map { ($0.name, $0.tensor.clone()) }
  }

  /// Loads parameters and buffers from PyTorch-layout tensors keyed like `state_dict()`.
  ///
  /// Strict (the default): every parameter and buffer must be present with the right shape and
  /// no key may be left unused. Nothing is modified when an error is thrown.
  public func loadStateDict(_ tensors: [String: Tensor], strict: Bool = true) throws {
    let params = parameters
    let bufs = buffers
    // Validate everything first so a failed load leaves the model untouched.
    for (name, p) in params {
      guard let t = tensors[name] else {
        if strict { throw NeuralError.missingKey(key: name) }
        continue
      }
      if t.shape != p.pytorchShape
        && !(t.count == p.value.count && squeezed(t.shape) == squeezed(p.pytorchShape))
      {
        throw NeuralError.shapeMismatch(key: name, expected: p.pytorchShape, actual: t.shape)
      }
    }
    for (name, b) in bufs {
      guard let t = tensors[name] else {
        if strict { throw NeuralError.missingKey(key: name) }
        continue
      }
      if t.count != b.count || squeezed(t.shape) != squeezed(b.shape) {
        throw NeuralError.shapeMismatch(key: name, expected: b.shape, actual: t.shape)
      }
    }
    if strict {
      let known = Set(params.map(\.name) + bufs.map(\.name))
      let unused = tensors.keys.filter { !known.contains($0) }.sorted()
      if !unused.isEmpty { throw NeuralError.unexpectedKeys(keys: unused) }
    }
    for (name, p) in params {
      if let t = tensors[name] { try p.load(pytorch: t, key: name) }
    }
    for (name, b) in bufs {
      if let t = tensors[name] { b.data.update(from: t.data, count: b.count) }
    }
  }
}
