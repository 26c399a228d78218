/// Turns decoded pixel bytes (host byte order) into a `SampleBuffer`: checks the length
/// against the header, unpacks 1-bit data, converts colour (planar → interleaved, YBR → RGB,
/// 4:2:2 → full, palette → RGB).
enum PixelUnpacker {
  struct Result {
    var buffer: SampleBuffer
    var isColor: Bool
  }

  static func unpack(_ bytes: [UInt8], layout: PixelLayout, file: DicomFile) throws -> Result {
    let path = file.path
    let n = layout.pixelsPerFrame * layout.frames
    let bps = layout.bitsAllocated / 8
    func needBytes(_ expected: Int, _ what: String) throws {
      if bytes.count < expected {
        throw ScanIOError.truncated(
          path: path,
          cause: "pixel data holds \(bytes.count) bytes but the header declares \(expected) "
            + "(\(what))")
      }
    }
    let geometry =
      "\(layout.rows)x\(layout.columns), \(layout.frames) frame(s), "
      + "\(layout.samplesPerPixel) sample(s), \(layout.bitsAllocated) bits"

    if layout.bitsAllocated == 1 {
      let total = n * layout.samplesPerPixel
      try needBytes((total + 7) / 8, geometry)
      var out = [UInt8](repeating: 0, count: total)
      for i in 0..<total { out[i] = (bytes[i >> 3] >> UInt8(i & 7)) & 1 }
      return Result(buffer: SampleBuffer(bytes: out, kind: .u8, shift: 0), isColor: false)
    }

    switch layout.photometric {
    case .monochrome1, .monochrome2:
      let expected = n * bps
      try needBytes(expected, geometry)
      let kind = sampleKind(bits: layout.bitsAllocated, signed: layout.signed)
      let data = bytes.count == expected ? bytes : Array(bytes.prefix(expected))
      return Result(
        buffer: SampleBuffer(bytes: data, kind: kind, shift: layout.shift), isColor: false)

    case .paletteColor:
      let expected = n * bps
      try needBytes(expected, geometry)
      let kind = sampleKind(bits: layout.bitsAllocated, signed: layout.signed)
      let indices = SampleBuffer(
        bytes: Array(bytes.prefix(expected)), kind: kind, shift: layout.shift
      )
      .stored(frame: 0, count: n)
      return try palette(indices, file: file)

    default:
      guard bps == 1 || bps == 2 || bps == 4 else {
        throw ScanIOError.unsupportedPixelFormat(
          path: path, cause: "\(layout.bitsAllocated)-bit colour samples")
      }
      let full = n * 3 * bps
      var data: [UInt8]
      var isYBR = layout.photometric == .ybrFull || layout.photometric == .ybrFull422
      if layout.photometric == .ybrFull422 && bytes.count < full && bps == 1 {
        try needBytes(n * 2, geometry + ", YBR_FULL_422 subsampled")
        data = upsample422(bytes, pixels: n)
      } else {
        try needBytes(full, geometry)
        data = Array(bytes.prefix(full))
        if layout.planar == 1 {
          data = interleave(
            data, pixelsPerFrame: layout.pixelsPerFrame, frames: layout.frames, bps: bps)
        }
      }
      if isYBR && bps == 1 {
        ybrToRGB(&data)
        isYBR = false
      }
      return Result(
        buffer: SampleBuffer(
          bytes: data, kind: bps == 1 ? .u8 : (bps == 2 ? .u16 : .u32), shift: 0),
        isColor: true)
    }
  }

  static func sampleKind(bits: Int, signed: Bool) -> SampleBuffer.Kind {
    switch bits {
    case 8: return signed ? .i8 : .u8
    case 16: return signed ? .i16 : .u16
    default: return signed ? .i32 : .u32
    }
  }

  /// Planar (RRR…GGG…BBB…) to interleaved (RGBRGB…), per frame.
  static func interleave(_ data: [UInt8], pixelsPerFrame: Int, frames: Int, bps: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: data.count)
    let plane = pixelsPerFrame * bps
    for f in 0..<frames {
      let base = f * plane * 3
      for c in 0..<3 {
        for p in 0..<pixelsPerFrame {
          for b in 0..<bps {
            out[base + (p * 3 + c) * bps + b] = data[base + c * plane + p * bps + b]
          }
        }
      }
    }
    return out
  }

  /// YBR_FULL_422 native layout (Y0 Y1 Cb Cr per pixel pair) to full YBR (8-bit).
  static func upsample422(_ data: [UInt8], pixels: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: pixels * 3)
    var p = 0
    var i = 0
    while p + 1 < pixels + 1 && i + 3 < data.count && p < pixels {
      let y0 = data[i]
      let y1 = data[i + 1]
      let cb = data[i + 2]
      let cr = data[i + 3]
      out[p * 3] = y0
      out[p * 3 + 1] = cb
      out[p * 3 + 2] = cr
      if p + 1 < pixels {
        out[p * 3 + 3] = y1
        out[p * 3 + 4] = cb
        out[p * 3 + 5] = cr
      }
      p += 2
      i += 4
    }
    return out
  }

  /// Full-range YCbCr to RGB (PS3.3 C.7.6.3.1.2), the same arithmetic as pydicom's
  /// `convert_color_space` (float32, round half up, clip to [0, 255]).
  static func ybrToRGB(_ data: inout [UInt8]) {
    let crR: Float = 1.402
    let cbG: Float = -0.114 * 1.772 / 0.587
    let crG: Float = -0.299 * 1.402 / 0.587
    let cbB: Float = 1.772
    data.withUnsafeMutableBufferPointer { d in
      var i = 0
      while i + 2 < d.count {
        let y = Float(d[i])
        let cb = Float(d[i + 1]) - 128
        let cr = Float(d[i + 2]) - 128
        let r = (y + cr * crR + 0.5).rounded(.down)
        let g = (y + cb * cbG + cr * crG + 0.5).rounded(.down)
        let b = (y + cb * cbB + 0.5).rounded(.down)
        d[i] = UInt8(min(max(r, 0), 255))
        d[i + 1] = UInt8(min(max(g, 0), 255))
        d[i + 2] = UInt8(min(max(b, 0), 255))
        i += 3
      }
    }
  }

  /// PALETTE COLOR indices to RGB through the Red/Green/Blue Palette Colour LUTs.
  static func palette(_ indices: [Int32], file: DicomFile) throws -> Result {
    let path = file.path
    let descriptor = file.numbers(.redPaletteDescriptor)
    guard descriptor.count == 3 else {
      throw ScanIOError.missingAttribute(
        path: path, attribute: "RedPaletteColorLookupTableDescriptor (0028,1101)")
    }
    let count = descriptor[0] == 0 ? 65536 : Int(descriptor[0])
    let first = Int(descriptor[1])
    var tables: [[UInt16]] = []
    var depth = 16
    for (tag, name) in [
      (DicomTag.redPaletteData, "Red"), (.greenPaletteData, "Green"), (.bluePaletteData, "Blue"),
    ] {
      guard let words = file.words(tag), !words.isEmpty else {
        if file.contains(.segmentedRedPaletteData) {
          throw ScanIOError.unsupportedPixelFormat(
            path: path, cause: "segmented palette colour lookup tables")
        }
        throw ScanIOError.missingAttribute(
          path: path, attribute: "\(name)PaletteColorLookupTableData \(tag)")
      }
      if words.count * 2 == count {
        // 8-bit entries, two per word (actual depth from the data length, like pydicom).
        depth = 8
        tables.append(words.flatMap { [UInt16($0 & 0xFF), UInt16($0 >> 8)] })
      } else {
        tables.append(Array(words.prefix(count)))
      }
    }
    let last = tables.map(\.count).min()! - 1
    let n = indices.count
    if depth == 8 {
      var out = [UInt8](repeating: 0, count: n * 3)
      for i in 0..<n {
        let k = min(max(Int(indices[i]) - first, 0), last)
        out[i * 3] = UInt8(truncatingIfNeeded: tables[0][k])
        out[i * 3 + 1] = UInt8(truncatingIfNeeded: tables[1][k])
        out[i * 3 + 2] = UInt8(truncatingIfNeeded: tables[2][k])
      }
      return Result(buffer: SampleBuffer(bytes: out, kind: .u8, shift: 0), isColor: true)
    }
    var out = [UInt16](repeating: 0, count: n * 3)
    for i in 0..<n {
      let k = min(max(Int(indices[i]) - first, 0), last)
      out[i * 3] = tables[0][k]
      out[i * 3 + 1] = tables[1][k]
      out[i * 3 + 2] = tables[2][k]
    }
    let bytes = out.withUnsafeBytes { [UInt8]($0) }
    return Result(buffer: SampleBuffer(bytes: bytes, kind: .u16, shift: 0), isColor: true)
  }
}
