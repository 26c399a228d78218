import Foundation
import Interchange
import XCTest

/// Asserts that two float sequences agree elementwise within `atol + rtol * |expected|`,
/// and returns the maximum absolute difference (for parity tests to print).
@discardableResult
public func assertClose<A: Collection, B: Collection>(
  _ actual: A, _ expected: B, rtol: Double = 1e-5, atol: Double = 1e-6,
  _ message: String = "", file: StaticString = #filePath, line: UInt = #line
) -> Double where A.Element: BinaryFloatingPoint, B.Element: BinaryFloatingPoint {
  XCTAssertEqual(actual.count, expected.count, "count mismatch \(message)", file: file, line: line)
  var maxDiff = 0.0
  var failures = 0
  for (index, (a, e)) in zip(actual, expected).enumerated() {
    let a = Double(a)
    let e = Double(e)
    let diff = abs(a - e)
    if !diff.isFinite && !(a.isNaN && e.isNaN) && a != e { maxDiff = .infinity }
    maxDiff = max(maxDiff, diff.isNaN ? (a.isNaN && e.isNaN ? 0 : .infinity) : diff)
    if !(diff <= atol + rtol * abs(e)) && !(a.isNaN && e.isNaN) {
      failures += 1
      if failures <= 5 {
        XCTFail(
          "element \(index): \(a) vs expected \(e) (diff \(diff)) \(message)", file: file,
          line: line)
      }
    }
  }
  if failures > 5 {
    XCTFail("\(failures) elements differ in total \(message)", file: file, line: line)
  }
  return maxDiff
}

/// The package root (the folder holding Package.swift).
public let packageRoot: URL = {
  var url = URL(fileURLWithPath: #filePath)
  while url.path != "/" {
    url.deleteLastPathComponent()
    if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
      return url
    }
  }
  fatalError("Package.swift not found above \(#filePath).")
}()

/// The built `medtransfer` executable next to the running test bundle.
public func medtransferExecutable() -> URL {
  if let override = ProcessInfo.processInfo.environment["MEDTRANSFER_BIN"] {
    return URL(fileURLWithPath: override)
  }
  // The xctest bundle lives in the same products folder (.build/<config>/) as the executable.
  let bundle = Bundle.main.bundleURL
  for dir in [bundle, bundle.deletingLastPathComponent()] {
    let candidate = dir.appendingPathComponent("medtransfer")
    if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
  }
  for config in ["release", "debug"] {
    let candidate = packageRoot.appendingPathComponent(".build/\(config)/medtransfer")
    if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
  }
  fatalError("medtransfer executable not found; build it with `swift build` first.")
}

/// The result of running the real `medtransfer` binary.
public struct CommandResult {
  public var status: Int32
  public var stdout: String
  public var stderr: String
  public init(status: Int32, stdout: String, stderr: String) {
    self.status = status
    self.stdout = stdout
    self.stderr = stderr
  }
}

/// Runs `medtransfer` with `arguments` and waits for it: this process's environment with
/// `environment` added and the variables named in `unset` removed.
public func runMedtransfer(
  _ arguments: [String], environment: [String: String] = [:], unset: [String] = []
) throws
  -> CommandResult
{
  var env = ProcessInfo.processInfo.environment
  for (k, v) in environment { env[k] = v }
  for k in unset { env.removeValue(forKey: k) }
  let out = ExternalCommand.run(arguments, executable: medtransferExecutable(), environment: env)
  return CommandResult(status: out.status, stdout: out.stdout, stderr: out.stderr)
}

/// Runs a program found on PATH (`sinfo`, `squeue`, …) and waits for it.
public func runTool(_ tool: String, _ arguments: [String]) -> CommandResult {
  let out = ExternalCommand.run([tool] + arguments)
  return CommandResult(status: out.status, stdout: out.stdout, stderr: out.stderr)
}

/// A fresh temporary directory, removed by the caller (or left for inspection on failure).
public func makeTemporaryDirectory(_ prefix: String = "medtransfer-test") throws -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "\(prefix)-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

/// Creates an empty file at each of `relativePaths` under `dir` (with its folders): manifests
/// whose rows are never decoded (the majority-class baseline) still need files that exist, as
/// the dataset loader checks every listed path.
public func createEmptyFiles(_ relativePaths: [String], in dir: URL) throws {
  for path in relativePaths {
    let url = dir.appendingPathComponent(path)
    try FileManager.default.createDirectory(
      at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    guard FileManager.default.createFile(atPath: url.path, contents: Data()) else {
      throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
    }
  }
}

/// A small JPEG written by scripts/reference/jpeg_reference.py (gray_baseline.jpg,
/// gray_progressive.jpg, rgb_baseline.jpg, rgb_progressive.jpg, cmyk.jpg; expected pixels in
/// reference.json next to them).
public func jpegFixture(_ name: String) -> String {
  packageRoot.appendingPathComponent("Tests/ScanIOTests/Fixtures/jpeg").appendingPathComponent(name)
    .path
}

/// A folder of pinned test data that `scripts/bootstrap` puts in the cache (`relative` under
/// `${MEDTRANSFER_CACHE:-~/.cache/medtransfer}`), or the folder the environment variable
/// `override` names; nil when it is absent (the test then skips).
public func cachedTestData(_ relative: String, override: String) -> URL? {
  let path =
    ProcessInfo.processInfo.environment[override]
    ?? medtransferCache.appendingPathComponent(relative).path
  return FileManager.default.fileExists(atPath: path) ? URL(fileURLWithPath: path) : nil
}

/// The cache `scripts/bootstrap` fills: `$MEDTRANSFER_CACHE` when set and not empty, else
/// `~/.cache/medtransfer`.
public var medtransferCache: URL {
  if let c = ProcessInfo.processInfo.environment["MEDTRANSFER_CACHE"], !c.isEmpty {
    return URL(fileURLWithPath: c)
  }
  return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(
    ".cache/medtransfer")
}

/// Skips the calling test (one line saying why) unless EfficientNet-Lite0's ImageNet weights
/// are in the cache.
public func skipUnlessLite0IsCached() throws {
  let weights = medtransferCache.appendingPathComponent("weights/efficientnet-lite0-57934424.pth")
  try XCTSkipUnless(
    FileManager.default.fileExists(atPath: weights.path),
    "\(weights.path) missing; run scripts/bootstrap")
}

/// The shipped phantom spec, `datasets/chest-ct-sites.yaml`.
public let phantomSpec = packageRoot.appendingPathComponent("datasets/chest-ct-sites.yaml")

/// Renders the shipped phantom into `dir` with the real `medtransfer dataset generate`.
public func generatePhantom(in dir: URL, perClass: Int, size: Int, seed: Int? = nil) throws {
  let generated = try runMedtransfer(
    [
      "dataset", "generate", phantomSpec.path, "--out", dir.path, "--per-class", String(perClass),
      "--size", String(size), "--json",
    ] + (seed.map { ["--seed", String($0)] } ?? []))
  guard generated.status == 0 else {
    throw CocoaError(
      .fileWriteUnknown,
      userInfo: [
        NSLocalizedDescriptionKey: "phantom generation failed: \(generated.stderr)"
      ])
  }
}
