// SafeTensors: read and write the safetensors format (huggingface/safetensors), so checkpoints
// open in PyTorch with `safetensors.torch.load_file` and vice versa.
//
//   SafeTensors.write(tensors, metadata:, to: url) throws   F32, little-endian, names sorted.
//   SafeTensors.read(contentsOf: url) throws -> SafeTensors.File
//       .tensors [(name, Tensor)] in file order; .metadata; .dictionary [name: Tensor].
//       Reads F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL (converted to Float32).
//   layer.saveSafetensors(to:metadata:) / layer.loadSafetensors(from:strict:)
//       the layer's state dict (PyTorch layout, buffers included).
//
// Layout: 8-byte little-endian header length n, n bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}
// padded with spaces to a multiple of 8, then the raw data (offsets relative to its start).

import Foundation

/// Reader and writer for `.safetensors` files.
public enum SafeTensors {
  /// A file's contents.
  public struct File {
    /// Tensors in the order of their data in the file.
    public var tensors: [(name: String, tensor: Tensor)]
    /// The free-form `__metadata__` strings.
    public var metadata: [String: String]

    /// The tensors by name.
    public var dictionary: [String: Tensor] {
      Dictionary(tensors.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
    }
  }

  /// Writes `tensors` as F32 (names must be unique), atomically.
  public static func write(
    _ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:], to url: URL
  ) throws {
    let sorted = tensors.sorted { $0.name < $1.name }
    for i in sorted.indices.dropFirst() where sorted[i].name == sorted[i - 1].name {
      throw NeuralError.invalidSafetensors(
        path: url.path, reason: "duplicate tensor name '\(sorted[i].name)'")
    }
    var entries: [String] = []
    var offset = 0
    for (name, t) in sorted {
      let bytes = t.count * 4
      let shape = t.shape.map(String.init).joined(separator: ",")
      entries.append(
        "\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + bytes)]}"
      )
      offset += bytes
    }
    if !metadata.isEmpty {
      let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
      entries.insert("\"__metadata__\":{\(pairs.joined(separator: ","))}", at: 0)
    }
    var header = Array("{\(entries.joined(separator: ","))}".utf8)
    while header.count % 8 != 0 { header.append(0x20) }
    var data = Data(capacity: 8 + header.count + offset)
    var length = UInt64(header.count).littleEndian
    withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
    data.append(contentsOf: header)
    for (_, t) in sorted {
      // Float32 storage is little-endian on every platform we build for.
      data.append(UnsafeBufferPointer(start: t.data, count: t.count))
    }
    do {
      try data.write(to: url, options: .atomic)
    } catch {
      throw NeuralError.io(
        path: url.path, cause: "could not write checkpoint: \(error.localizedDescription)")
    }
  }

  /// Reads a safetensors file, converting every dtype to Float32.
  public static func read(contentsOf url: URL) throws -> File {
    let path = url.path
    let data: Data
    do {
      data = try Data(contentsOf: url, options: .mappedIfSafe)
    } catch {
      throw NeuralError.io(path: path, cause: "could not read file: \(error.localizedDescription)")
    }
    func invalid(_ reason: String) -> NeuralError {
      .invalidSafetensors(path: path, reason: reason)
    }
    guard data.count >= 8 else { throw invalid("file is shorter than the 8-byte header length") }
    let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) {
      $0 | UInt64($1.element) << (8 * UInt64($1.offset))
    }
    guard headerLength <= UInt64(data.count - 8) else {
      throw invalid("header length \(headerLength) exceeds the file size \(data.count)")
    }
    let start = 8 + Int(headerLength)
    let headerData = data.subdata(in: 8..<start)
    guard let json = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
      throw invalid("header is not a JSON object")
    }
    var metadata: [String: String] = [:]
    var entries: [(name: String, dtype: String, shape: [Int], begin: Int, end: Int)] = []
    for (name, value) in json {
      if name == "__metadata__" {
        guard let m = value as? [String: Any] else {
          throw invalid("__metadata__ is not an object")
        }
        for (k, v) in m { metadata[k] = v as? String ?? "\(v)" }
        continue
      }
      guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
        let shape = (info["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
        let offsets = (info["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
        offsets.count == 2, shape.allSatisfy({ $0 >= 0 })
      else { throw invalid("entry '\(name)' lacks dtype, shape or data_offsets") }
      entries.append((name, dtype, shape, offsets[0], offsets[1]))
    }
    entries.sort { $0.begin < $1.begin }
    let available = data.count - start
    var tensors: [(name: String, tensor: Tensor)] = []
    for e in entries {
      guard let size = dtypeSize[e.dtype] else {
        throw invalid("tensor '\(e.name)' has unsupported dtype \(e.dtype)")
      }
      let count = e.shape.reduce(1, *)
      guard e.begin >= 0, e.end <= available, e.end - e.begin == count * size else {
        throw invalid(
          "tensor '\(e.name)' has data_offsets [\(e.begin), \(e.end)] that do not hold \(e.shape) \(e.dtype)"
        )
      }
      let t = Tensor(shape: e.shape)
      data.withUnsafeBytes { raw in
        convert(raw.baseAddress! + start + e.begin, dtype: e.dtype, count: count, into: t.data)
      }
      tensors.append((e.name, t))
    }
    return File(tensors: tensors, metadata: metadata)
  }

  static let dtypeSize: [String: Int] = [
    "F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
    "BOOL": 1,
  ]

  static func convert(
    _ src: UnsafeRawPointer, dtype: String, count: Int, into dst: UnsafeMutablePointer<Float>
  ) {
    for i in 0..<count {
      switch dtype {
      case "F32":
        dst[i] = Float(
          bitPattern: UInt32(
            littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
      case "F64":
        dst[i] = Float(
          Double(
            bitPattern: UInt64(
              littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
      case "F16":
        dst[i] = halfToFloat(
          UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
      case "BF16":
        dst[i] = Float(
          bitPattern: UInt32(
            UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
      case "I64":
        dst[i] = Float(
          Int64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
      case "I32":
        dst[i] = Float(
          Int32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
      case "I16":
        dst[i] = Float(
          Int16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
      case "I8": dst[i] = Float(src.load(fromByteOffset: i, as: Int8.self))
      default: dst[i] = Float(src.load(fromByteOffset: i, as: UInt8.self))  // U8, BOOL
      }
    }
  }

  /// IEEE half to single, including subnormals, infinities and NaN.
  static func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h >> 15) << 31
    let exponent = Int((h >> 10) & 0x1F)
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0 {
      let value = Float(mantissa) * Float(sign == 0 ? 1 : -1) / 16_777_216  // 2^-24
      return value
    }
    if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
    return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
  }

  /// A JSON string literal for `s`.
  static func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if scalar.value < 0x20 {
          out += String(format: "\\u%04x", scalar.value)
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out + "\""
  }
}

extension Layer {
  /// Writes the state dict (PyTorch layout, buffers included) as a safetensors checkpoint.
  public func saveSafetensors(to url: URL, metadata: [String: String] = [:]) throws {
    try SafeTensors.write(stateDict(), metadata: metadata, to: url)
  }

  /// Loads a safetensors checkpoint written by `saveSafetensors` or by PyTorch.
  /// Returns the file's metadata.
  @discardableResult
  public func loadSafetensors(from url: URL, strict: Bool = true) throws -> [String: String] {
    let file = try SafeTensors.read(contentsOf: url)
    try loadStateDict(file.dictionary, strict: strict)
    return file.metadata
  }
}
