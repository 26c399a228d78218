import Datasets
import Foundation
import ScanIO
import TestSupport
import XCTest

/// The `auto` window policy (`Preprocessing.autoWindow`) and its invariants on real files of
/// every modality the project reads: pydicom's test files (scripts/bootstrap.d/
/// pydicom-testfiles.sh: pydicom 3.0.2's bundled corpus and the pydicom-data package), the
/// phantom's CT, and 8-bit PNGs (scikit-image's photographs, scripts/bootstrap.d/
/// imagenet-samples.sh, and a generated one). Corpora that are not cached are skipped.
final class WindowPolicyTests: XCTestCase {
  /// The settings every command used before windows were selectable: lung window for every
  /// image, MONOCHROME1 never inverted. The tests run them too, to show they fail on them.
  static let legacy = Preprocessing(
    window: .fixed(center: -600, width: 1500), size: 64, channels: 1, invertMonochrome1: false)
  /// Today's default (as `DataPreparation.preprocessing` builds it).
  static let standard = Preprocessing(size: 64, channels: 1)

  static let pydicomFiles = cachedTestData(
    "pydicom-3.0.2/test_files", override: "MEDTRANSFER_PYDICOM_FILES")
  static let pydicomData = cachedTestData(
    "pydicom-data-1.0.0/data", override: "MEDTRANSFER_PYDICOM_DATA")

  func scan(
    _ values: [Float], photometric: String = "MONOCHROME2", modality: String? = nil,
    bodyPart: String? = nil, window: (Double, Double)? = nil, bits: Int = 16
  ) -> DecodedScan {
    var headers: [String: String] = [:]
    headers["Modality"] = modality
    headers["BodyPartExamined"] = bodyPart
    return DecodedScan(
      width: values.count, height: 1, values: values, photometric: photometric,
      fileWindow: window.map { (center: $0.0, width: $0.1) }, bitsStored: bits, headers: headers)
  }

  // MARK: - The rules

  func testAutoRulesInOrder() {
    let ramp: [Float] = (0..<1000).map(Float.init)
    func rule(_ s: DecodedScan) -> Preprocessing.AppliedWindow.Rule {
      Preprocessing.autoWindow(s).rule
    }
    XCTAssertEqual(rule(scan(ramp, photometric: "PNG", bits: 8)), .picture)
    XCTAssertEqual(rule(scan(ramp, photometric: "JPEG", bits: 8)), .picture)
    XCTAssertEqual(rule(scan(ramp, photometric: "RGB", modality: "US", bits: 8)), .colour)
    XCTAssertEqual(
      Preprocessing.autoWindow(scan(ramp, photometric: "RGB", bits: 8)).range.upper, 255)
    XCTAssertEqual(
      Preprocessing.autoWindow(scan(ramp, photometric: "PALETTE COLOR", bits: 8)).range.upper, 65535
    )
    // The file's window wins over every modality default.
    let file = Preprocessing.autoWindow(
      scan(ramp, modality: "CT", bodyPart: "HEAD", window: (40, 100)))
    XCTAssertEqual([file.center, file.width], [40, 100])
    XCTAssertEqual(file.rule, .file)
    XCTAssertEqual(rule(scan(ramp, modality: "CR", window: (500, 800))), .file)
    // CT presets by body part.
    XCTAssertEqual(rule(scan(ramp, modality: "CT", bodyPart: "CHEST")), .ctLung)
    XCTAssertEqual(rule(scan(ramp, modality: "CT", bodyPart: "lung")), .ctLung)
    XCTAssertEqual(rule(scan(ramp, modality: "CT", bodyPart: "HEAD")), .ctBrain)
    XCTAssertEqual(rule(scan(ramp, modality: "CT", bodyPart: "ABDOMEN")), .ctSoftTissue)
    XCTAssertEqual(rule(scan(ramp, modality: "CT")), .ctWide)
    let wide = Preprocessing.autoWindow(scan(ramp, modality: "CT")).range
    XCTAssertEqual([wide.lower, wide.upper], [-1000, 999])
    // No absolute scale: the image's own percentiles.
    for modality in ["MR", "CR", "DX", "MG", "US", "XA", "RF", "PT", "NM", "OT"] {
      XCTAssertEqual(rule(scan(ramp, modality: modality)), .percentile, modality)
    }
    XCTAssertEqual(rule(scan(ramp)), .percentile)
    let p = Preprocessing.autoWindow(scan(ramp, modality: "MR")).range
    XCTAssertEqual(p.lower, 4.995, accuracy: 1e-3)
    XCTAssertEqual(p.upper, 994.005, accuracy: 1e-3)
    // An image that is mostly one value keeps its few others (min–max instead of p0.5 = p99.5).
    let spots = [Float](repeating: 0, count: 999) + [50]
    let windowed = Self.standard.windowed(scan(spots, modality: "NM")).values
    XCTAssertEqual(windowed.last, 1)
  }

  func testMonochrome1InvertedForRadiographsOnly() {
    let values: [Float] = [0, 250, 500, 750, 1000]
    let p = Preprocessing(window: .fixed(center: 500.5, width: 1001), size: 5, channels: 1)
    let mono2 = p.windowed(scan(values, modality: "CR")).values
    for modality in ["CR", "DX", "MG", "RF", "XA", "OT", ""] {
      let (mono1, applied) = p.windowed(
        scan(values, photometric: "MONOCHROME1", modality: modality))
      XCTAssertTrue(applied.inverted, modality)
      assertClose(mono1, mono2.map { 1 - $0 }, atol: 1e-6, modality)
    }
    for modality in ["CT", "MR", "PT", "NM"] {
      let (mono1, applied) = p.windowed(
        scan(values, photometric: "MONOCHROME1", modality: modality))
      XCTAssertFalse(applied.inverted, modality)
      XCTAssertEqual(mono1, mono2, modality)
    }
    var never = p
    never.invertMonochrome1 = false
    XCTAssertFalse(
      never.windowed(scan(values, photometric: "MONOCHROME1", modality: "CR")).window.inverted)
    var always = p
    always.invertMonochrome1 = true
    XCTAssertTrue(
      always.windowed(scan(values, photometric: "MONOCHROME1", modality: "CT")).window.inverted)
  }

  func testWindowTextRoundTripsAndBadTextIsOneLine() throws {
    for text in ["auto", "file", "file:40,400", "-600,1500", "40,400", "p0.5,99.5", "p1,99"] {
      let window = try Preprocessing.parseWindow(text)
      XCTAssertEqual(window.description, text)
      XCTAssertEqual(try Preprocessing.parseWindow(window.description), window)
    }
    for bad in ["wide", "40", "40,0", "40,-1", "p99,1", "p0,101", "file:40", "nan,1", ""] {
      XCTAssertThrowsError(try Preprocessing.parseWindow(bad, input: "--window"), bad) { error in
        let text = "\(error)"
        XCTAssertTrue(text.hasPrefix("--window '\(bad)': "), text)
        XCTAssertTrue(text.contains("use auto, file"), text)
        XCTAssertFalse(text.contains("\n"), text)
      }
    }
  }

  func testDefaultIsAutoAndChangesTheCacheKey() {
    XCTAssertEqual(Preprocessing().window, .auto)
    XCTAssertNil(Preprocessing().invertMonochrome1)
    XCTAssertEqual(Preprocessing().version, Preprocessing.currentVersion)
    XCTAssertNotEqual(Preprocessing().hash, Self.legacyDefault.hash)
    // A run recorded before windows were selectable reads back as its lung window, run by
    // today's implementation.
    let old = """
      {"channels":3,"invertMonochrome1":false,"mean":0.5,"size":128,"std":0.5,"version":1,\
      "window":{"fixed":{"center":-600,"width":1500}}}
      """
    let recorded = Preprocessing.recorded(old)
    XCTAssertEqual(recorded?.window, .fixed(center: -600, width: 1500))
    XCTAssertEqual(recorded?.invertMonochrome1, false)
    XCTAssertEqual(recorded?.version, Preprocessing.currentVersion)
  }

  /// The default of `DataPreparation` before this change (version 1, lung window).
  static var legacyDefault: Preprocessing {
    var p = Preprocessing(
      window: .fixed(center: -600, width: 1500), size: 224, channels: 3, invertMonochrome1: false)
    p.version = 1
    return p
  }

  /// One windowing implementation: the network input's window is ScanIO's display window
  /// divided by 255 (`dicom export --png` shows what the network sees).
  func testFixedWindowIsScanIOsDisplayWindow() throws {
    let dir = try makeTemporaryDirectory("window-scanio")
    defer { try? FileManager.default.removeItem(at: dir) }
    var spec = DicomImageSpec(
      rows: 4, columns: 8, storedValues: (0..<32).map { Int32($0 * 100) })
    spec.rescale = (1, -1024)
    let path = dir.appendingPathComponent("ct.dcm").path
    try DicomWriter.write(spec, to: path)
    let image = try ScanIO.read(path: path)
    let p = Preprocessing(window: .fixed(center: 40, width: 400), size: 8, channels: 1)
    let unit = p.windowed(try ScanLoader.load(path: path)).values
    let display = image.displayFrame(0, window: .explicit(VOIWindow(center: 40, width: 400)))
    let maxDiff = assertClose(unit.map { $0 * 255 }, display, rtol: 0, atol: 1e-4)
    print("fixed window vs ScanIO displayFrame: maxdiff \(maxDiff) (tolerance 1e-4 of 255)")
  }

  // MARK: - Invariants on real files

  struct Measured {
    var file: String
    var modality: String
    var window: Preprocessing.AppliedWindow
    /// Shares of pixels pushed to 0 (1) by the window that were not the image's minimum
    /// (maximum): detail the network never sees.
    var low: Double
    var high: Double
    /// The same among pixels that are not CT air or padding (below −900 HU).
    var tissueLow: Double
    var tissueHigh: Double
  }

  /// Decodes `path` (nil: not an image ScanIO reads, or a constant one) and measures its
  /// windowed values under `p` at full resolution (the step before resampling).
  static func measure(_ path: String, _ p: Preprocessing) -> Measured? {
    guard let scan = try? ScanLoader.load(path: path) else { return nil }
    let v = scan.values
    guard let lo = v.min(), let hi = v.max(), lo < hi else { return nil }
    var (u, applied) = p.windowed(scan)
    if applied.inverted { u = u.map { 1 - $0 } }
    let modality =
      scan.headers["Modality"] ?? (ScanLoader.isRasterImage(path) ? scan.photometric : "?")
    let tissue = (0..<v.count).filter { modality != "CT" || v[$0] >= -900 }
    func share(_ indices: [Int], _ test: (Int) -> Bool) -> Double {
      indices.isEmpty ? 0 : Double(indices.filter(test).count) / Double(indices.count)
    }
    let all = Array(v.indices)
    let low: (Int) -> Bool = { u[$0] <= 0 && v[$0] > lo }
    let high: (Int) -> Bool = { u[$0] >= 1 && v[$0] < hi }
    return Measured(
      file: (path as NSString).lastPathComponent, modality: modality, window: applied,
      low: share(all, low), high: share(all, high), tissueLow: share(tissue, low),
      tissueHigh: share(tissue, high))
  }

  /// Every image of the cached corpora, the phantom's CT (one file per site) and PNGs.
  static func corpusFiles() throws -> [String] {
    var files: [String] = []
    for dir in [pydicomFiles, pydicomData].compactMap({ $0 }) {
      files += try FileManager.default.contentsOfDirectory(atPath: dir.path)
        .filter { $0.hasSuffix(".dcm") }.sorted().map { dir.appendingPathComponent($0).path }
    }
    // The phantom at 128 px (at the tiny fixtures' 32 px, partial volume puts up to half of
    // site C's body above its window's top).
    let generated = try makeTemporaryDirectory("window-policy-phantom").path
    _ = try PhantomGenerator.generate(
      spec: Fixtures.spec, specText: Fixtures.specText, outDirectory: generated, seed: 3,
      perClass: 1, size: 128)
    let phantom =
      (FileManager.default.enumerator(atPath: generated)?.allObjects as? [String]
      ?? []).filter { $0.hasSuffix(".dcm") }.sorted()
    var sites = Set<String>()
    for file in phantom where sites.insert(file.components(separatedBy: "/")[0]).inserted {
      files.append(generated + "/" + file)
    }
    if let samples = cachedTestData("imagenet-samples", override: "MEDTRANSFER_IMAGENET_SAMPLES") {
      files += ["chelsea.png", "coffee.png"].map { samples.appendingPathComponent($0).path }
        .filter { FileManager.default.fileExists(atPath: $0) }
    }
    let png = FileManager.default.temporaryDirectory.appendingPathComponent(
      "window-policy-ramp.png"
    ).path
    try Fixtures.writePNG(png, size: 32) { i, j in UInt8(20 + (i * 32 + j) * 200 / 1024) }
    files.append(png)
    return files
  }

  /// The default window keeps what is in the image. Windows taken from the image itself
  /// (percentiles, 8-bit pictures, colour bit depth) push fewer than 5% of pixels to either
  /// end. Clinical windows (the file's own VOI window, CT presets) clip by design what lies
  /// outside the organ they were chosen for — a head CT's 40/100 window saturates the skull —
  /// so for them the bound is "not mostly clipped": under half of the tissue (CT air and
  /// padding below −900 HU excluded) at either end. The lung window every image got before
  /// fails this on CR, MR, ultrasound, NM and PNG files.
  func testDefaultWindowDoesNotClipAnyModality() throws {
    let files = try Self.corpusFiles()
    if Self.pydicomFiles == nil || Self.pydicomData == nil {
      print("pydicom corpora not cached (scripts/bootstrap): phantom and PNGs only")
    }
    var measured = 0
    var legacyFailures: [String] = []
    var modalities = Set<String>()
    for path in files {
      guard let m = Self.measure(path, Self.standard) else { continue }
      measured += 1
      modalities.insert(m.modality)
      let clinical = ![.percentile, .picture, .colour].contains(m.window.rule)
      let (low, high, bound) =
        clinical
        ? (m.tissueLow, m.tissueHigh, 0.5) : (m.low, m.high, 0.05)
      func pad(_ s: String, _ n: Int) -> String {
        s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0)
      }
      print(
        pad(m.file, 44) + " " + pad(m.modality, 6) + " " + pad(Self.standard.describe(m.window), 46)
          + String(
            format: " clipped low %5.1f%% high %5.1f%% (bound %.0f%%)", low * 100, high * 100,
            bound * 100))
      XCTAssertLessThan(low, bound, "\(m.file): \(Self.standard.describe(m.window))")
      XCTAssertLessThan(high, bound, "\(m.file): \(Self.standard.describe(m.window))")
      if let old = Self.measure(path, Self.legacy),
        max(old.tissueLow, old.tissueHigh) >= (clinical ? 0.5 : 0.05)
      {
        legacyFailures.append(
          "\(m.file) (\(m.modality)) \(String(format: "%.0f%%/%.0f%%", old.low * 100, old.high * 100))"
        )
      }
    }
    print("\(measured) images, modalities \(modalities.sorted().joined(separator: ", "))")
    print(
      "legacy lung window fails on \(legacyFailures.count): "
        + legacyFailures.joined(separator: ", "))
    XCTAssertGreaterThanOrEqual(measured, 5)
    // The same check rejects the old default (the generated PNG's values 20–220 come out 91–100%
    // white under it, a third of them saturated).
    XCTAssertTrue(legacyFailures.contains { $0.hasPrefix("window-policy-ramp.png") })
    if Self.pydicomData != nil {
      XCTAssertTrue(legacyFailures.contains { $0.hasPrefix("RG1_UNCR.dcm") })
      XCTAssertTrue(modalities.isSuperset(of: ["CT", "MR", "CR", "US", "NM", "PNG"]))
    }
  }

  /// A MONOCHROME1 radiograph and the same pixels stored as MONOCHROME2 (inverted stored
  /// values, window centre mirrored) give the same network input, with the file's window and
  /// with percentiles. Uses pydicom-data's RG3 (CR, MONOCHROME1, 10 bits, window 550/1024).
  func testMonochrome1RadiographMatchesItsMonochrome2Copy() throws {
    guard let data = Self.pydicomData else {
      throw XCTSkip("pydicom-data not cached; run scripts/bootstrap")
    }
    let original = data.appendingPathComponent("RG3_UNCR.dcm").path
    let image = try ScanIO.read(path: original)
    XCTAssertEqual(image.photometric, .monochrome1)
    XCTAssertEqual(image.metadata.modality, "CR")
    let top = Int32((1 << image.bitsStored) - 1)
    let stored = image.storedFrame(0)
    let dir = try makeTemporaryDirectory("mono1")
    defer { try? FileManager.default.removeItem(at: dir) }
    func write(_ name: String, _ values: [Int32], _ photometric: Photometric, window: VOIWindow?)
      throws -> String
    {
      var spec = DicomImageSpec(rows: image.rows, columns: image.columns, storedValues: values)
      spec.photometric = photometric
      spec.bitsStored = image.bitsStored
      spec.sopClassUID = "1.2.840.10008.5.1.4.1.1.1"
      spec.set("Modality", "CR")
      if let window {
        spec.set("WindowCenter", String(window.center))
        spec.set("WindowWidth", String(window.width))
      }
      let path = dir.appendingPathComponent(name).path
      try DicomWriter.write(spec, to: path)
      return path
    }
    let w = try XCTUnwrap(image.fileWindows.first)
    // v' = top − v maps the DICOM window (c, w) onto (top − c + 1, w) exactly.
    let mirrored = VOIWindow(center: Double(top) - w.center + 1, width: w.width)
    let inverted = stored.map { top - $0 }
    let pairs = [
      (
        "file window", original,
        try write("m2-window.dcm", inverted, .monochrome2, window: mirrored)
      ),
      (
        "percentiles", try write("m1.dcm", stored, .monochrome1, window: nil),
        try write("m2.dcm", inverted, .monochrome2, window: nil)
      ),
    ]
    /// Largest difference of the two inputs and the spread of the first (flat: nothing seen).
    func compare(_ p: Preprocessing, _ mono1: String, _ mono2: String) throws -> (Float, Float) {
      let a = p.apply(try ScanLoader.load(path: mono1))
      let b = p.apply(try ScanLoader.load(path: mono2))
      return (zip(a, b).map { abs($0 - $1) }.max()!, a.max()! - a.min()!)
    }
    var legacy = Self.legacy
    legacy.size = 128
    for (name, mono1, mono2) in pairs {
      let (maxDiff, spread) = try compare(Preprocessing(size: 128, channels: 1), mono1, mono2)
      print(
        "\(name): MONOCHROME1 vs MONOCHROME2 copy maxdiff \(maxDiff) (tolerance 1e-4), "
          + "input spread \(spread) of 2")
      XCTAssertLessThanOrEqual(maxDiff, 1e-4, name)
      XCTAssertGreaterThan(spread, 1, "\(name): the input must show the image, not a flat field")
      let (legacyDiff, legacySpread) = try compare(legacy, mono1, mono2)
      print("\(name): legacy settings maxdiff \(legacyDiff), spread \(legacySpread)")
      XCTAssertTrue(legacyDiff > 1e-4 || legacySpread <= 1, "\(name): legacy must fail this test")
    }
  }

  /// The cache keeps the window each entry got, so a run's record lists them on cache hits too.
  func testCacheEntriesRecordTheirWindow() throws {
    let dir = try makeTemporaryDirectory("window-cache").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let dicom =
      Fixtures.tiny + "/"
      + (FileManager.default.enumerator(atPath: Fixtures.tiny)?
      .allObjects as? [String] ?? []).filter { $0.hasSuffix(".dcm") }.sorted()[0]
    let png = dir + "/a.png"
    try Fixtures.writePNG(png)
    let p = Preprocessing(size: 16, channels: 3)
    for path in [dicom, png] {
      let expected = p.windowed(try ScanLoader.load(path: path)).window
      let miss = try TensorCache(preprocessing: p, root: dir + "/cache").image(path: path)
      let cache = try TensorCache(preprocessing: p, root: dir + "/cache")
      let hit = try cache.image(path: path)
      XCTAssertEqual(cache.statistics.hits, 1)
      for got in [miss.window, hit.window] {
        XCTAssertEqual(got?.rule, expected.rule, path)
        XCTAssertEqual(got?.inverted, expected.inverted, path)
        XCTAssertEqual(got?.center ?? .nan, expected.center, accuracy: 1e-3, path)
        XCTAssertEqual(got?.width ?? .nan, expected.width, accuracy: 1e-3, path)
      }
    }
    XCTAssertEqual(
      p.summarize([p.windowed(try ScanLoader.load(path: png)).window]),
      ["8-bit picture as is (0–255)": 1])
  }
}
