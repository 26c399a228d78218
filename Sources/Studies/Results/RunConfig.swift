import Datasets
import Foundation
import Interchange

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
    try! JSONCoding.encoder(.canonical).encode(self)
  }

  /// Lower-case hex SHA-256 of `canonicalJSON()`.
  public var hash: String {
    sha256Hex(canonicalJSON())
  }

  /// A short human label: `full+l2sp(0.1) → B · 25/class · seed 1`.
  public var label: String {
    "\(arm.name) → \(target.label) · \(budget)/class · seed \(seed)"
  }
}

/// The label budget of a run is Datasets' one `LabelBudget` (re-exported for Reports).
public typealias LabelBudget = Datasets.LabelBudget
