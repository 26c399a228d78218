import Foundation

/// Everything a user can get wrong when training, adapting or evaluating a model.
///
/// Each case carries the input it is about and prints as one line: the input, the reason and,
/// where known, the fix. No case carries a patient-identifying value.
public enum AdaptationError: Error, CustomStringConvertible, Equatable {
  /// A `--strategy` value that is not one of the known strategies.
  case unknownStrategy(String)
  /// A `--reg` value that does not parse.
  case badRegularizer(spec: String, reason: String)
  /// `partial(K)` with K outside 0...stages.
  case stageCountOutOfRange(requested: Int, available: Int)
  /// The loss became NaN or infinite; the run was stopped.
  case nonFiniteLoss(epoch: Int, step: Int, value: Float)
  /// A split needed by the run has no images.
  case emptySplit(String)
  /// A checkpoint folder or file is missing or unreadable.
  case checkpointUnreadable(path: String, reason: String)
  /// A run folder exists and holds a different configuration.
  case configMismatch(path: String, key: String)
  /// The data has fewer classes than two, or labels disagree with the model's head.
  case badLabels(reason: String)
  /// A lock file could not be opened or locked.
  case lockFailed(path: String, reason: String)
  /// A file or a manifest row an analysis cannot use (the reason names the fix).
  case badInput(path: String, row: Int?, reason: String)
  /// A request whose options do not fit together.
  case badRequest(what: String, reason: String)
  /// A run needs a shared source model that the study's source-model step did not write.
  case missingSourceModel(path: String)

  public var description: String {
    switch self {
    case .unknownStrategy(let s):
      return "strategy '\(s)': unknown; use scratch, linear-probe, features+logreg, "
        + "partial(K) or full"
    case .badRegularizer(let spec, let reason):
      return "regularizer '\(spec)': \(reason); write e.g. l2sp:alpha=0.1,beta=0.01 or none"
    case .stageCountOutOfRange(let k, let n):
      return "partial(\(k)): the backbone has \(n) stages; choose K in 0...\(n)"
    case .nonFiniteLoss(let epoch, let step, let value):
      return "training loss became \(value) at epoch \(epoch), step \(step); "
        + "lower the learning rate or check the input normalisation"
    case .emptySplit(let name):
      return "split '\(name)': no images; check the manifest's split/label columns"
    case .checkpointUnreadable(let path, let reason):
      return "checkpoint \(path): \(reason); point --checkpoint at a folder written by "
        + "`medtransfer train`"
    case .configMismatch(let path, let key):
      return "\(path): holds a run with a different '\(key)'; use a new --out folder or delete it"
    case .badLabels(let reason):
      return "labels: \(reason)"
    case .lockFailed(let path, let reason):
      return "lock file \(path): \(reason); check that the study folder is writable"
    case .badInput(let path, let row, let reason):
      return "\(path)\(row.map { " row \($0)" } ?? ""): \(reason)."
    case .badRequest(let what, let reason):
      return "\(what): \(reason)"
    case .missingSourceModel(let path):
      return "source model \(path): missing (its source-model task failed or was stopped "
        + "before it finished); run the study again (`study run`, or `study submit` on Slurm), "
        + "which trains it first"
    }
  }
}
