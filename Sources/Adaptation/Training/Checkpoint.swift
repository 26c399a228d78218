import Foundation
import Neural

/// A model's checkpoint as a safetensors file in PyTorch layout (backbone and head state dicts
/// together, buffers included), written and read with Neural's `SafeTensors`.
public enum Checkpoint {
  /// Writes `model`'s state dict to `url` atomically.
  public static func write(
    _ model: TransferModel, to url: URL,
    metadata: [String: String] = [:]
  ) throws {
    try SafeTensors.write(
      model.backbone.stateDict() + model.head.stateDict(),
      metadata: metadata, to: url)
  }

  /// Loads a checkpoint into `model` strictly: a missing or unused key, or a shape mismatch,
  /// throws with the key and both shapes. Returns the file's metadata.
  @discardableResult
  public static func load(_ url: URL, into model: TransferModel) throws -> [String: String] {
    let file: SafeTensors.File
    do {
      file = try SafeTensors.read(contentsOf: url)
    } catch {
      throw AdaptationError.checkpointUnreadable(path: url.path, reason: "\(error)")
    }
    let headNames = Set(model.head.parameters.map(\.name))
    var headTensors: [String: Tensor] = [:]
    var backboneTensors: [String: Tensor] = [:]
    for (name, t) in file.tensors {
      if headNames.contains(name) { headTensors[name] = t } else { backboneTensors[name] = t }
    }
    do {
      try model.backbone.loadStateDict(backboneTensors, strict: true)
      try model.head.loadStateDict(headTensors, strict: true)
    } catch {
      throw AdaptationError.checkpointUnreadable(path: url.path, reason: "\(error)")
    }
    return file.metadata
  }
}
