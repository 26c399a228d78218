import Datasets
import Foundation

/// Everything that determines one run's result: the unit of work of a study.
///
/// Runs are keyed by `hash`, the SHA-256 of `canonicalJSON()`; any change that can change the
/// result (arm, data, its content hash, budget, seed, backbone, input size, training settings,
/// schema) changes the hash, so a changed spec never reuses stale results.
public struct RunConfig: Codable, Sendable, Hashable {
  /// Bumped when the meaning of a field changes, invalidating every stored result.
  public static let currentSchema = 1

  public var schema: Int
  public var arm: ArmSpec
  public var source: DatasetRef
  public var target: DatasetRef
  public var budget: LabelBudget
  public var seed: Int
  public var backbone: String
  public var inputSize: Int
  public var training: TrainingSettings
  /// The input window (the spec's `preprocessing.window`); nil: `auto`. Optional and left out
  /// of the JSON when nil, so runs of specs that do not set it keep their hashes.
  public var window: String?

  public init(
    arm: ArmSpec, source: DatasetRef, target: DatasetRef, budget: LabelBudget, seed: Int,
    backbone: String, inputSize: Int, training: TrainingSettings
  ) {
    self.schema = Self.currentSchema
    self.arm = arm
    self.source = source
    self.target = target
    self.budget = budget
    self.seed = seed
    self.backbone = backbone
    self.inputSize = inputSize
    self.training = training
  }

  /// Sorted-key JSON without whitespace: the same config always gives the same bytes.
  public func canonicalJSON() -> Data {
    // Encoding plain Codable values with finite numbers cannot fail.
    try! StudyJSON.canonicalEncoder.encode(self)
  }

  /// Lower-case hex SHA-256 of `canonicalJSON()`.
  public var hash: String {
    Datasets.sha256Hex(canonicalJSON())
  }

  /// A short human label: `full+l2sp(0.1) → B · 25/class · seed 1`.
  public var label: String {
    "\(arm.name) → \(target.label) · \(budget)/class · seed \(seed)"
  }
}

/// JSON coders shared by the store and the report (NaN/∞ survive as strings).
public enum StudyJSON {
  /// Sorted keys, no whitespace: for hashing.
  public static var canonicalEncoder: JSONEncoder {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    e.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return e
  }

  /// Pretty, sorted: for files people read.
  public static var prettyEncoder: JSONEncoder {
    let e = canonicalEncoder
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
    return e
  }

  public static var decoder: JSONDecoder {
    let d = JSONDecoder()
    d.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return d
  }
}

/// SHA-256 of a file's bytes as lower-case hex (Datasets' one implementation).
public func sha256Hex(ofFile url: URL) throws -> String { try Datasets.sha256Hex(ofFile: url) }

/// SHA-256 of bytes as lower-case hex (Datasets' one implementation).
public func sha256Hex(_ data: Data) -> String { Datasets.sha256Hex(data) }
