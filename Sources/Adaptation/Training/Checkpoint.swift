import Foundation
import Neural

/// Reads and writes named tensors as safetensors (little-endian F32, JSON header).
///
/// A stand-in until Neural's safetensors IO is merged; tensors are written in the layout the
/// layers store them (Neural permutes convolutions to PyTorch's layout in its own writer).
public enum Checkpoint {
  /// Writes `tensors` to `url` atomically, with `metadata` in the header's `__metadata__`.
  public static func write(_ tensors: [(name: String, tensor: Tensor)], to url: URL,
                           metadata: [String: String] = [:]) throws {
    var header: [String: Any] = [:]
    if !metadata.isEmpty { header["__metadata__"] = metadata }
    var offset = 0
    for (name, t) in tensors {
      let bytes = t.count * 4
      header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + bytes]]
      offset += bytes
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    while json.count % 8 != 0 { json.append(0x20) }
    var data = Data()
    var length = UInt64(json.count).littleEndian
    withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
    data.append(json)
    data.reserveCapacity(data.count + offset)
    for (_, t) in tensors {
      data.append(UnsafeBufferPointer(start: t.data, count: t.count))
    }
    try data.write(to: url, options: .atomic)
  }

  /// Reads every tensor of a safetensors file (F32 only) and its metadata.
  public static func read(_ url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
    guard let data = try? Data(contentsOf: url, options: .mappedIfSafe) else {
      throw AdaptationError.checkpointUnreadable(path: url.path, reason: "cannot read the file")
    }
    guard data.count >= 8 else {
      throw AdaptationError.checkpointUnreadable(path: url.path, reason: "shorter than a header")
    }
    let length = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
    guard length > 0, 8 + length <= data.count,
          let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length)))
            as? [String: Any]
    else {
      throw AdaptationError.checkpointUnreadable(path: url.path, reason: "malformed header")
    }
    let base = 8 + length
    var tensors: [String: Tensor] = [:]
    var metadata: [String: String] = [:]
    for (name, value) in header {
      if name == "__metadata__" { metadata = value as? [String: String] ?? [:]; continue }
      guard let entry = value as? [String: Any], entry["dtype"] as? String == "F32",
            let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int],
            offsets.count == 2, offsets[1] - offsets[0] == shape.reduce(1, *) * 4,
            base + offsets[1] <= data.count
      else {
        throw AdaptationError.checkpointUnreadable(path: url.path, reason: "bad entry '\(name)'")
      }
      let t = Tensor(shape: shape)
      data.withUnsafeBytes { raw in
        let src = raw.baseAddress! + base + offsets[0]
        memcpy(t.data, src, offsets[1] - offsets[0])
      }
      tensors[name] = t
    }
    return (tensors, metadata)
  }

  /// Copies `tensors` into `model` strictly: a missing or unused key, or a shape mismatch,
  /// throws with the key and both shapes.
  public static func load(_ tensors: [String: Tensor], into model: TransferModel, path: String) throws {
    let targets = model.stateTensors
    let names = Set(targets.map(\.name))
    if let unused = tensors.keys.sorted().first(where: { !names.contains($0) }) {
      throw AdaptationError.checkpointUnreadable(path: path, reason: "unused key \(unused)")
    }
    for (name, t) in targets {
      guard let src = tensors[name] else {
        throw AdaptationError.checkpointUnreadable(path: path, reason: "missing key \(name)")
      }
      guard src.shape == t.shape else {
        throw AdaptationError.checkpointUnreadable(
          path: path, reason: "key \(name) has shape \(src.shape), the model expects \(t.shape)")
      }
      t.copy(from: src)
    }
  }
}
