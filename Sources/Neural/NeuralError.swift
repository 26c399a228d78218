// NeuralError: the one error type of the Neural module (checkpoint and state-dict problems a
// user can cause). Programmer mistakes (wrong shapes passed to a layer) are preconditions.

/// Errors the Neural module throws; each case names the input, and the description says the fix.
public enum NeuralError: Error, CustomStringConvertible, Equatable {
  /// A state dict lacks a key the model needs.
  case missingKey(key: String)
  /// A state dict holds keys the model does not use (strict loading).
  case unexpectedKeys(keys: [String])
  /// A tensor's shape differs from the parameter's (both in PyTorch layout).
  case shapeMismatch(key: String, expected: [Int], actual: [Int])
  /// A safetensors file is malformed or uses an unsupported feature.
  case invalidSafetensors(path: String, reason: String)
  /// A file could not be read or written.
  case io(path: String, cause: String)

  public var description: String {
    switch self {
    case .missingKey(let key):
      return "state dict has no tensor '\(key)'; the checkpoint does not match this model "
        + "(check the architecture name)"
    case .unexpectedKeys(let keys):
      let shown = keys.prefix(5).joined(separator: ", ")
      return
        "state dict has \(keys.count) unused tensor(s) (\(shown)\(keys.count > 5 ? ", …" : ""))"
        + "; the checkpoint does not match this model (check the architecture name)"
    case .shapeMismatch(let key, let expected, let actual):
      return "tensor '\(key)' has shape \(actual) but the model needs \(expected); "
        + "the checkpoint does not match this model (check the architecture and class count)"
    case .invalidSafetensors(let path, let reason):
      return "\(path): not a valid safetensors file: \(reason)"
    case .io(let path, let cause):
      return "\(path): \(cause)"
    }
  }
}
