import Foundation

/// Where MedTransfer keeps what it can recompute or fetch again: pretrained weights
/// (`weights/`), rendered phantoms (`phantoms/`) and decoded tensors (`tensors/`).
///
/// `$MEDTRANSFER_CACHE` when set and not empty, else `~/.cache/medtransfer` (the folder
/// `scripts/bootstrap` fills).
public func cacheRoot(environment: [String: String] = ProcessInfo.processInfo.environment)
  -> URL
{
  if let custom = environment["MEDTRANSFER_CACHE"], !custom.isEmpty {
    return URL(fileURLWithPath: custom)
  }
  return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(
    ".cache/medtransfer")
}
