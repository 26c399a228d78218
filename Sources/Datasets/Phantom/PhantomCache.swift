import Foundation
import Interchange

/// Generator datasets rendered once into the cache and reused: a study names a phantom spec,
/// and every run (and every process) of it reads the same rendered files.
public enum PhantomCache {
  /// The manifest of the phantom `spec` describes, rendered with these settings (nil: the
  /// spec's own) under `cacheRoot/phantoms/<spec hash>-<per class>x<size>-<seed>/`. Rendered
  /// first when absent, into a temporary folder renamed into place, so a killed run never
  /// leaves half a dataset. Errors are `DatasetsError.invalidSpec` naming the spec file.
  public static func manifest(
    spec url: URL, perClass: Int?, size: Int?, seed: UInt64?, cacheRoot: URL,
    log: (String) -> Void = { _ in }
  ) throws -> URL {
    let text: String
    do { text = try String(contentsOf: url, encoding: .utf8) } catch {
      throw DatasetsError.invalidSpec(
        path: url.path, cause: "cannot read the generator spec (\(error))")
    }
    let spec: PhantomSpec
    do { spec = try PhantomSpec.parse(yaml: text, path: url.path) } catch {
      throw DatasetsError.invalidSpec(path: url.path, cause: "\(error)")
    }
    let perClass = perClass ?? spec.perClass
    let size = size ?? spec.imageSize
    let seed = seed ?? spec.seed
    let key = "\(sha256Hex(Data(text.utf8)).prefix(12))-\(perClass)x\(size)-\(seed)"
    let folder = cacheRoot.appendingPathComponent("phantoms").appendingPathComponent(key)
    let manifest = folder.appendingPathComponent("manifest.csv")
    if FileManager.default.fileExists(atPath: manifest.path) { return manifest }
    let partial = folder.deletingLastPathComponent()
      .appendingPathComponent(key + ".partial-\(ProcessInfo.processInfo.processIdentifier)")
    try? FileManager.default.removeItem(at: partial)
    log("generating phantom \(spec.name) (\(perClass)/class, \(size) px) → \(folder.path)")
    do {
      _ = try PhantomGenerator.generate(
        spec: spec, specText: text, outDirectory: partial.path, seed: seed,
        perClass: perClass, size: size)
      try? FileManager.default.removeItem(at: folder)
      try FileManager.default.moveItem(at: partial, to: folder)
    } catch {
      try? FileManager.default.removeItem(at: partial)
      throw DatasetsError.invalidSpec(path: url.path, cause: "generation failed: \(error)")
    }
    return manifest
  }
}

extension DatasetLoader {
  /// The value of the manifest's `domain` column that a study's site name means: the name
  /// itself, lower-cased, or `site-` + lower-cased (`A` → `site-a`). Errors name the domains
  /// the manifest has.
  public static func domain(named site: String, in manifest: URL) throws -> String {
    var domains = Set<String>()
    let records = CSV.parse((try? String(contentsOf: manifest, encoding: .utf8)) ?? "")
    if let column = records.first?.fields.firstIndex(of: "domain") {
      for record in records.dropFirst() where column < record.fields.count {
        domains.insert(record.fields[column])
      }
    }
    for candidate in [site, site.lowercased(), "site-" + site.lowercased()]
    where domains.contains(candidate) {
      return candidate
    }
    throw DatasetsError.invalidManifest(
      path: manifest.path,
      cause: "no domain '\(site)' (found: \(domains.sorted().joined(separator: ", ")))")
  }
}
