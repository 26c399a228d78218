import COpenJPEG

/// JPEG 2000 (and HTJ2K) decoding with OpenJPEG. DCMTK 3.6.7 has no free J2K decoder, so the
/// encapsulated frames are taken from DCMTK undecoded and handed to OpenJPEG here.
enum JPEG2000Frames {
  struct Decoded {
    var bytes: [UInt8]
    var shift: Int
  }

  /// Decodes every frame of `file` into packed samples of `layout.bitsAllocated` bits
  /// (interleaved for colour), with the sign correction pydicom applies when the codestream's
  /// signedness disagrees with Pixel Representation.
  static func decode(file: DicomFile, layout: PixelLayout) throws -> Decoded {
    let path = file.path
    let items = try file.encapsulatedItems()
    let codestreams = try frameCodestreams(items: items, frames: layout.frames, path: path)
    let bps = layout.bitsAllocated / 8
    guard bps == 1 || bps == 2 || bps == 4 else {
      throw ScanIOError.unsupportedPixelFormat(
        path: path, cause: "\(layout.bitsAllocated)-bit JPEG 2000 samples")
    }
    let frameBytes = layout.pixelsPerFrame * layout.samplesPerPixel * bps
    var out = [UInt8](repeating: 0, count: frameBytes * layout.frames)
    var shift = 0
    for (f, codestream) in codestreams.enumerated() {
      let image = try decodeCodestream(codestream, path: path)
      guard image.width == layout.columns, image.height == layout.rows,
        image.components.count >= layout.samplesPerPixel
      else {
        throw ScanIOError.decodeFailed(
          path: path,
          cause: "frame \(f): JPEG 2000 codestream is \(image.width)x\(image.height) with "
            + "\(image.components.count) components; the header declares "
            + "\(layout.columns)x\(layout.rows) with \(layout.samplesPerPixel)")
      }
      if image.signed != layout.signed {
        shift = max(0, layout.bitsAllocated - image.precision)
      }
      let spp = layout.samplesPerPixel
      let n = layout.pixelsPerFrame
      out.withUnsafeMutableBytes { raw in
        let base = raw.baseAddress! + f * frameBytes
        for c in 0..<spp {
          let comp = image.components[c]
          comp.withUnsafeBufferPointer { src in
            switch bps {
            case 1:
              let dst = base.assumingMemoryBound(to: UInt8.self)
              for i in 0..<n { dst[i * spp + c] = UInt8(truncatingIfNeeded: src[i]) }
            case 2:
              let dst = base.assumingMemoryBound(to: UInt16.self)
              for i in 0..<n { dst[i * spp + c] = UInt16(truncatingIfNeeded: src[i]) }
            default:
              let dst = base.assumingMemoryBound(to: UInt32.self)
              for i in 0..<n { dst[i * spp + c] = UInt32(bitPattern: src[i]) }
            }
          }
        }
      }
    }
    return Decoded(bytes: out, shift: shift)
  }

  /// Splits encapsulated items (Basic Offset Table first) into one codestream per frame.
  static func frameCodestreams(items: [[UInt8]], frames: Int, path: String) throws -> [[UInt8]] {
    let fragments = Array(items.dropFirst())
    guard !fragments.isEmpty else {
      throw ScanIOError.noPixelData(path: path)
    }
    if fragments.count == frames { return fragments }
    if frames == 1 { return [fragments.flatMap { $0 }] }
    let table = items.first ?? []
    if table.count >= 4 * frames {
      // Offsets are measured from the first fragment's item tag; each item adds 8 bytes.
      var offsets: [Int] = []
      for i in 0..<frames {
        var value = 0
        for b in 0..<4 { value |= Int(table[4 * i + b]) << (8 * b) }
        offsets.append(value)
      }
      var positions: [Int] = []
      var position = 0
      for fragment in fragments {
        positions.append(position)
        position += 8 + fragment.count
      }
      var result: [[UInt8]] = []
      for f in 0..<frames {
        let end = f + 1 < frames ? offsets[f + 1] : Int.max
        let parts = fragments.indices.filter { positions[$0] >= offsets[f] && positions[$0] < end }
        result.append(parts.flatMap { fragments[$0] })
      }
      if result.allSatisfy({ !$0.isEmpty }) { return result }
    }
    // No usable offset table: a new frame starts at each codestream start marker (SOC).
    var result: [[UInt8]] = []
    for fragment in fragments {
      let startsCodestream =
        fragment.count >= 2 && fragment[0] == 0xFF && fragment[1] == 0x4F
        || fragment.count >= 12 && fragment[4] == 0x6A && fragment[5] == 0x50
      if startsCodestream || result.isEmpty {
        result.append(fragment)
      } else {
        result[result.count - 1] += fragment
      }
    }
    guard result.count == frames else {
      throw ScanIOError.decodeFailed(
        path: path,
        cause: "found \(result.count) JPEG 2000 codestreams for \(frames) frames")
    }
    return result
  }

  struct Image {
    var width: Int
    var height: Int
    var precision: Int
    var signed: Bool
    var components: [[Int32]]
  }

  /// The in-memory source OpenJPEG reads through the callbacks below.
  private final class Source {
    let data: [UInt8]
    var offset = 0
    var lastError = ""
    init(_ data: [UInt8]) { self.data = data }
  }

  static func decodeCodestream(_ data: [UInt8], path: String) throws -> Image {
    // OpenJPEG reaches `source` only through the unretained pointer below, which does not keep
    // it alive on its own: the extended lifetime guarantees it outlives every callback.
    let source = Source(data)
    return try withExtendedLifetime(source) { try decode(source, path: path) }
  }

  private static func decode(_ source: Source, path: String) throws -> Image {
    let data = source.data
    let isJP2 = data.count >= 12 && data[4] == 0x6A && data[5] == 0x50
    guard let codec = opj_create_decompress(isJP2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K) else {
      throw ScanIOError.decodeFailed(path: path, cause: "OpenJPEG cannot create a decoder")
    }
    defer { opj_destroy_codec(codec) }
    let user = Unmanaged.passUnretained(source).toOpaque()
    let quiet: opj_msg_callback = { _, _ in }
    let recordError: opj_msg_callback = { message, user in
      guard let message, let user else { return }
      let source = Unmanaged<Source>.fromOpaque(user).takeUnretainedValue()
      source.lastError = String(cString: message).trimmingCharacters(in: "\n ")
    }
    opj_set_info_handler(codec, quiet, nil)
    opj_set_warning_handler(codec, quiet, nil)
    opj_set_error_handler(codec, recordError, user)
    var parameters = opj_dparameters_t()
    opj_set_default_decoder_parameters(&parameters)
    guard opj_setup_decoder(codec, &parameters) != 0 else {
      throw ScanIOError.decodeFailed(path: path, cause: "OpenJPEG decoder setup failed")
    }
    guard let stream = opj_stream_create(OPJ_SIZE_T(OPJ_J2K_STREAM_CHUNK_SIZE), 1) else {
      throw ScanIOError.decodeFailed(path: path, cause: "OpenJPEG cannot create a stream")
    }
    defer { opj_stream_destroy(stream) }
    opj_stream_set_user_data(stream, user, nil)
    opj_stream_set_user_data_length(stream, OPJ_UINT64(data.count))
    opj_stream_set_read_function(stream) { buffer, size, user in
      let source = Unmanaged<Source>.fromOpaque(user!).takeUnretainedValue()
      let remaining = source.data.count - source.offset
      // End of stream is (OPJ_SIZE_T)-1. OPJ_SIZE_T is size_t, which Swift imports as Int, so
      // `OPJ_SIZE_T.max` would be 2^63-1: OpenJPEG took that for a successful read of 2^63
      // bytes and copied from far past its buffer (segfault in opj_decode on
      // GDCMJ2K_TextGBR.dcm, whose tile-parts make OpenJPEG read again after the last byte).
      if remaining <= 0 { return -1 }
      let n = min(Int(size), remaining)
      source.data.withUnsafeBytes { raw in
        buffer!.copyMemory(from: raw.baseAddress! + source.offset, byteCount: n)
      }
      source.offset += n
      return OPJ_SIZE_T(n)
    }
    opj_stream_set_skip_function(stream) { count, user in
      let source = Unmanaged<Source>.fromOpaque(user!).takeUnretainedValue()
      let target = min(max(source.offset + Int(count), 0), source.data.count)
      let skipped = target - source.offset
      source.offset = target
      return OPJ_OFF_T(skipped)
    }
    opj_stream_set_seek_function(stream) { position, user in
      let source = Unmanaged<Source>.fromOpaque(user!).takeUnretainedValue()
      guard position >= 0, Int(position) <= source.data.count else { return 0 }
      source.offset = Int(position)
      return 1
    }
    var imagePointer: UnsafeMutablePointer<opj_image_t>?
    guard opj_read_header(stream, codec, &imagePointer) != 0, let image = imagePointer else {
      throw ScanIOError.decodeFailed(
        path: path,
        cause: "JPEG 2000 header: \(source.lastError.isEmpty ? "invalid" : source.lastError)")
    }
    defer { opj_image_destroy(image) }
    guard opj_decode(codec, stream, image) != 0, opj_end_decompress(codec, stream) != 0 else {
      throw ScanIOError.decodeFailed(
        path: path,
        cause: "JPEG 2000: \(source.lastError.isEmpty ? "decode failed" : source.lastError)")
    }
    let count = Int(image.pointee.numcomps)
    guard count > 0, let comps = image.pointee.comps else {
      throw ScanIOError.decodeFailed(path: path, cause: "JPEG 2000 image has no components")
    }
    let width = Int(comps[0].w)
    let height = Int(comps[0].h)
    var components: [[Int32]] = []
    for c in 0..<count {
      let comp = comps[c]
      guard Int(comp.w) == width, Int(comp.h) == height, let data = comp.data else {
        throw ScanIOError.unsupportedPixelFormat(
          path: path, cause: "JPEG 2000 components with different sizes (subsampled chroma)")
      }
      components.append(Array(UnsafeBufferPointer(start: data, count: width * height)))
    }
    return Image(
      width: width, height: height, precision: Int(comps[0].prec), signed: comps[0].sgnd != 0,
      components: components)
  }
}

extension String {
  fileprivate func trimmingCharacters(in set: String) -> String {
    var s = Substring(self)
    while let f = s.first, set.contains(f) { s.removeFirst() }
    while let l = s.last, set.contains(l) { s.removeLast() }
    return String(s)
  }
}

/// DCMTK's logger level, routed through the shim.
enum DicomLogging {
  static func setLevel(_ level: Int) {
    DicomLoggingShim.set(level)
  }
}
