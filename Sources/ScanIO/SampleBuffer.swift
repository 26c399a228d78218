/// Decoded stored samples of all frames in host byte order, plus how to read them. Kept raw
/// (not as Float) so that a 16-bit image costs 2 bytes per sample until a frame is asked for.
struct SampleBuffer: Sendable {
  enum Kind: Sendable { case u8, i8, u16, i16, u32, i32 }
  /// The raw samples (frames × valuesPerFrame × width of `kind`).
  let bytes: [UInt8]
  let kind: Kind
  /// Bits above Bits Stored to clear (unsigned) or sign-extend (signed), like pydicom.
  let shift: Int

  var bytesPerSample: Int {
    switch kind {
    case .u8, .i8: return 1
    case .u16, .i16: return 2
    case .u32, .i32: return 4
    }
  }

  /// Converts `count` samples of frame `frame` through `lut` into `out`.
  func convert(frame: Int, count: Int, lut: ModalityLUT, into out: UnsafeMutablePointer<Float>) {
    let start = frame * count * bytesPerSample
    bytes.withUnsafeBytes { raw in
      let base = raw.baseAddress! + start
      switch kind {
      case .u8: convertSamples(base.assumingMemoryBound(to: UInt8.self), count, shift, lut, out)
      case .i8: convertSamples(base.assumingMemoryBound(to: Int8.self), count, shift, lut, out)
      case .u16: convertSamples(base.assumingMemoryBound(to: UInt16.self), count, shift, lut, out)
      case .i16: convertSamples(base.assumingMemoryBound(to: Int16.self), count, shift, lut, out)
      case .u32: convertSamples(base.assumingMemoryBound(to: UInt32.self), count, shift, lut, out)
      case .i32: convertSamples(base.assumingMemoryBound(to: Int32.self), count, shift, lut, out)
      }
    }
  }

  /// The corrected stored values of frame `frame` as Int32 (UInt32 values above Int32.max
  /// wrap; no DICOM image in practice uses them).
  func stored(frame: Int, count: Int) -> [Int32] {
    let start = frame * count * bytesPerSample
    return bytes.withUnsafeBytes { raw in
      let base = raw.baseAddress! + start
      switch kind {
      case .u8: return storedSamples(base.assumingMemoryBound(to: UInt8.self), count, shift)
      case .i8: return storedSamples(base.assumingMemoryBound(to: Int8.self), count, shift)
      case .u16: return storedSamples(base.assumingMemoryBound(to: UInt16.self), count, shift)
      case .i16: return storedSamples(base.assumingMemoryBound(to: Int16.self), count, shift)
      case .u32: return storedSamples(base.assumingMemoryBound(to: UInt32.self), count, shift)
      case .i32: return storedSamples(base.assumingMemoryBound(to: Int32.self), count, shift)
      }
    }
  }
}

// MARK: - Kernels (generic, specialised per sample type; the loops vectorise)

@inline(__always)
private func storedSamples<T: FixedWidthInteger>(
  _ p: UnsafePointer<T>, _ count: Int, _ shift: Int
) -> [Int32] {
  [Int32](unsafeUninitializedCapacity: count) { out, n in
    if shift == 0 {
      for i in 0..<count { out[i] = Int32(truncatingIfNeeded: p[i]) }
    } else {
      let s = T(truncatingIfNeeded: shift)
      for i in 0..<count { out[i] = Int32(truncatingIfNeeded: (p[i] &<< s) &>> s) }
    }
    n = count
  }
}

// stored: (count) -> out: (count) Float32; matches pydicom's `apply_modality_lut` to float32.
@inline(__always)
private func convertSamples<T: FixedWidthInteger>(
  _ p: UnsafePointer<T>, _ count: Int, _ shift: Int, _ lut: ModalityLUT,
  _ out: UnsafeMutablePointer<Float>
) {
  if shift != 0 {
    // Unused high bits: clear (unsigned) or sign-extend (signed), then convert.
    let s = T(truncatingIfNeeded: shift)
    let tmp = UnsafeMutablePointer<T>.allocate(capacity: count)
    defer { tmp.deallocate() }
    for i in 0..<count { tmp[i] = (p[i] &<< s) &>> s }
    convertSamples(UnsafePointer(tmp), count, 0, lut, out)
    return
  }
  switch lut {
  case .identity:
    for i in 0..<count { out[i] = Float(p[i]) }
  case .rescale(let slope, let intercept):
    // Exact in Float32 when the result is an integer below 2^24: stored values of up to 16
    // bits, slope 1 and an integral intercept (the common CT case).
    if T.bitWidth <= 16, slope == 1, intercept == intercept.rounded(), abs(intercept) < 8_000_000 {
      let b = Float(intercept)
      for i in 0..<count { out[i] = Float(p[i]) + b }
    } else {
      for i in 0..<count { out[i] = Float(Double(p[i]) * slope + intercept) }
    }
  case .table(let table):
    let first = table.firstMapped
    let last = table.entries.count - 1
    table.entries.withUnsafeBufferPointer { e in
      for i in 0..<count {
        let index = min(max(Int(p[i]) - first, 0), last)
        out[i] = e[index]
      }
    }
  }
}
