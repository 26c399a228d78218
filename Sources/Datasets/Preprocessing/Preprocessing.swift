import Foundation
import Interchange
import ScanIO

/// The preprocessing pipeline, fully described by value: modality LUT → VOI window (→
/// MONOCHROME1 inversion) → resample to the input size → channels → normalisation
/// `(v/255 − mean)/std`.
///
/// Its `hash` (SHA-256 of the canonical JSON) goes into a run's config and keys the tensor
/// cache, so any change of setting invalidates exactly the cached tensors it affects.
///
/// The window arithmetic is ScanIO's `VOIWindowing` (the one `dicom export` uses), with output
/// [0, 1] instead of [0, 255].
public struct Preprocessing: Codable, Hashable, Sendable {
  /// How modality values are mapped to [0, 255].
  public enum Window: Codable, Hashable, Sendable, CustomStringConvertible {
    /// Per image: the file's own VOI window, else a modality-aware default (see
    /// `Preprocessing.autoWindow`). The default.
    case auto
    /// The file's first WindowCenter/WindowWidth, or `fallback` when the file has none.
    case file(fallbackCenter: Double, fallbackWidth: Double)
    /// A fixed window (e.g. lung: center −600, width 1500).
    case fixed(center: Double, width: Double)
    /// The image's own `low`–`high` percentiles (e.g. 0.5 and 99.5).
    case percentile(low: Double, high: Double)

    /// The text `parseWindow` reads back: `auto`, `file`, `file:C,W`, `C,W` or `pLOW,HIGH`.
    public var description: String {
      func n(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)
      }
      switch self {
      case .auto: return "auto"
      case .file(let c, let w):
        return c == -600 && w == 1500 ? "file" : "file:\(n(c)),\(n(w))"
      case .fixed(let c, let w): return "\(n(c)),\(n(w))"
      case .percentile(let a, let b): return "p\(n(a)),\(n(b))"
      }
    }
  }

  /// The window one image actually got, for records (config.json, reports) and the tensor
  /// cache's entry header.
  public struct AppliedWindow: Codable, Hashable, Sendable {
    /// Why this window.
    public enum Rule: String, Codable, Sendable, CaseIterable {
      /// The file's WindowCenter/WindowWidth (with its VOI LUT Function).
      case file
      /// A window given by the user (`C,W`, or `file:C,W`'s fallback).
      case fixed
      /// The image's own percentiles.
      case percentile
      /// CT presets by BodyPartExamined (`Preprocessing.ctPresets`).
      case ctLung = "ct-lung"
      case ctBrain = "ct-brain"
      case ctSoftTissue = "ct-soft-tissue"
      /// CT without BodyPartExamined: −1000…999 HU.
      case ctWide = "ct-wide"
      /// An 8-bit picture (PNG, JPEG): its 0–255 values as they are.
      case picture
      /// A colour DICOM image (averaged to gray): its full bit depth.
      case colour
    }

    /// Why this window.
    public var rule: Rule
    /// Centre and width in modality units. For the range rules (`percentile`, `picture`,
    /// `colour`) the range `center ± width/2` is mapped onto [0, 1]; for the others the DICOM
    /// window (PS3.3 C.11.2.1.2).
    public var center: Double
    public var width: Double
    /// Whether the windowed image was inverted (MONOCHROME1 shown like MONOCHROME2).
    public var inverted: Bool

    /// Creates a record.
    public init(rule: Rule, center: Double, width: Double, inverted: Bool = false) {
      self.rule = rule
      self.center = center
      self.width = width
      self.inverted = inverted
    }

    /// Whether the rule maps a value range (rather than a DICOM window).
    public var isRange: Bool { [.percentile, .picture, .colour].contains(rule) }

    /// The modality values mapped to 0 and to 1.
    public var range: (lower: Double, upper: Double) {
      if isRange { return (center - width / 2, center + width / 2) }
      return (center - 0.5 - (max(width, 1) - 1) / 2, center - 0.5 + (max(width, 1) - 1) / 2)
    }
  }

  /// The VOI window.
  public var window: Window
  /// Output height and width in pixels.
  public var size: Int
  /// 1 (gray) or 3 (gray replicated to RGB, for ImageNet backbones).
  public var channels: Int
  /// Invert MONOCHROME1 images after windowing (display convention: the lowest value white).
  /// nil (the default) decides by modality: CT, MR, PT and NM keep their physical values (no
  /// inversion), everything else — projection radiography (CR, DX, MG, RF, XA, …) — is shown
  /// to the network the way MONOCHROME2 is (bone bright in both).
  public var invertMonochrome1: Bool?
  /// Normalisation mean and std applied to v/255 (ImageNet EfficientNet-Lite: 0.5, 0.5).
  public var mean: Float
  public var std: Float
  /// The implementation version (`currentVersion` for new values); part of the hash.
  public var version: Int

  /// Bumped when the implementation changes output for the same settings. 2: `auto`,
  /// modality-aware MONOCHROME1, interpolated percentiles (ScanIO's), windows in cache headers.
  public static let currentVersion = 2

  public init(
    window: Window = .auto, size: Int = 224, channels: Int = 3,
    invertMonochrome1: Bool? = nil, mean: Float = 0.5, std: Float = 0.5
  ) {
    precondition(
      size > 0 && (channels == 1 || channels == 3),
      "Preprocessing needs size > 0 and 1 or 3 channels.")
    self.window = window
    self.size = size
    self.channels = channels
    self.invertMonochrome1 = invertMonochrome1
    self.mean = mean
    self.std = std
    self.version = Self.currentVersion
  }

  /// The preprocessing a run recorded (`DataProvenance.preprocessing`), to run again with
  /// today's implementation (`version` set to `currentVersion`); nil if `json` is not one.
  public static func recorded(_ json: String) -> Preprocessing? {
    guard var p = try? JSONCoding.decoder().decode(Preprocessing.self, from: Data(json.utf8)) else {
      return nil
    }
    p.version = currentVersion
    return p
  }

  /// SHA-256 (hex) of the canonical JSON description.
  public var hash: String {
    let encoder = JSONCoding.encoder(.canonical)
    return sha256Hex(try! encoder.encode(self))
  }

  /// Values per output image (size × size × channels).
  public var valuesPerImage: Int { size * size * channels }

  // MARK: - The `auto` policy

  /// Picture formats whose values are already display values (0–255) and are kept as they are
  /// (`DecodedScan.photometric` of a non-DICOM file). A JPEG reader in `ScanLoader` reports
  /// `JPEG` here.
  public static let pictureFormats: Set<String> = ["PNG", "JPEG"]

  /// Modalities whose values are physical (HU, MR signal, activity): MONOCHROME1 is not
  /// inverted for them by default.
  public static let physicalModalities: Set<String> = ["CT", "MR", "PT", "NM"]

  /// CT windows chosen by BodyPartExamined when the file has none; a CT with another body part
  /// gets soft tissue (C 40, W 400), one without BodyPartExamined `ctWide`.
  public static let ctPresets:
    [(rule: AppliedWindow.Rule, bodyParts: Set<String>, center: Double, width: Double)] = [
      (.ctLung, ["CHEST", "LUNG", "THORAX"], -600, 1500),
      (.ctBrain, ["HEAD", "BRAIN", "SKULL"], 40, 80),
    ]
  /// CT with a named body part that is not in `ctPresets`.
  public static let ctSoftTissue = (center: 40.0, width: 400.0)
  /// CT without BodyPartExamined: C 0, W 2000 (−1000…999 HU, air to dense bone). Nothing tells
  /// which organ matters, and the network input is Float32, so a wide window loses no contrast
  /// to quantisation while a narrow one would saturate whole organs (lungs at soft tissue).
  public static let ctWide = (center: 0.0, width: 2000.0)
  /// Percentiles of `auto` for modalities without an absolute scale.
  public static let autoPercentiles = (low: 0.5, high: 99.5)

  /// Whether `scan` is inverted after windowing (see `invertMonochrome1`).
  public func inverts(_ scan: DecodedScan) -> Bool {
    guard scan.photometric == "MONOCHROME1" else { return false }
    if let invertMonochrome1 { return invertMonochrome1 }
    let modality = (scan.headers["Modality"] ?? "").uppercased()
    return !Self.physicalModalities.contains(modality)
  }

  // MARK: - Running the pipeline

  /// Runs the pipeline on a decoded image; returns H×W×C (channels-last) Float32.
  public func apply(_ scan: DecodedScan) -> [Float] {
    var out = [Float](repeating: 0, count: valuesPerImage)
    out.withUnsafeMutableBufferPointer { _ = apply(scan, into: $0.baseAddress!) }
    return out
  }

  /// Runs the pipeline writing `valuesPerImage` floats into `out`; returns the window used.
  @discardableResult
  public func apply(_ scan: DecodedScan, into out: UnsafeMutablePointer<Float>) -> AppliedWindow {
    let pixels = size * size
    // The plane goes into the last `pixels` values, then `replicate` spreads it in place.
    let plane = out + (valuesPerImage - pixels)
    let applied = applyPlane(scan, into: plane)
    Self.replicate(plane, pixels: pixels, channels: channels, into: out)
    return applied
  }

  /// Runs the pipeline up to the channels: writes the normalised gray image (size × size
  /// floats) into `out`; returns the window used. Every channel of `apply`'s output is this
  /// plane (`replicate`), which is why the tensor cache stores one plane per image.
  @discardableResult
  public func applyPlane(_ scan: DecodedScan, into out: UnsafeMutablePointer<Float>)
    -> AppliedWindow
  {
    let (unit, applied) = windowed(scan)
    let resized = Resampler.resize(
      unit, height: scan.height, width: scan.width, newHeight: size, newWidth: size)
    let a = 1 / std
    let b = -mean / std
    for i in 0..<(size * size) { out[i] = resized[i] * a + b }
    return applied
  }

  /// out[i·C + k] = plane[i] for every pixel i and channel k < C: the H×W×C channels-last
  /// image of a gray plane. `plane` may be the last `pixels` floats of `out` itself (the
  /// ascending loop reads pixel i before any write reaches it), so a caller can read a plane
  /// into the tail of its output buffer and expand it there.
  public static func replicate(
    _ plane: UnsafePointer<Float>, pixels: Int, channels: Int, into out: UnsafeMutablePointer<Float>
  ) {
    if channels == 1 {
      if UnsafePointer(out) != plane { out.update(from: plane, count: pixels) }
      return
    }
    for i in 0..<pixels {
      let v = plane[i]
      for k in 0..<channels { out[i * channels + k] = v }
    }
  }

  /// The windowed image at full resolution in [0, 1] (before resampling and normalisation),
  /// and the window used.
  public func windowed(_ scan: DecodedScan) -> (values: [Float], window: AppliedWindow) {
    var applied = appliedWindow(scan)
    var unit = scan.values
    if applied.isRange {
      let r = applied.range
      VOIWindowing.applyRange((Float(r.lower), Float(r.upper)), to: &unit, top: 1)
    } else {
      VOIWindowing.apply(
        VOIWindow(center: applied.center, width: applied.width),
        function: applied.rule == .file ? scan.fileWindowFunction : .linear, to: &unit, top: 1)
    }
    if inverts(scan) {
      applied.inverted = true
      for i in unit.indices { unit[i] = 1 - unit[i] }
    }
    return (unit, applied)
  }

  /// The (center, width) used for `scan` (for range rules, the range's centre and width).
  public func resolvedWindow(_ scan: DecodedScan) -> (Double, Double) {
    let w = appliedWindow(scan)
    return (w.center, w.width)
  }

  /// The window `scan` gets (before inversion).
  public func appliedWindow(_ scan: DecodedScan) -> AppliedWindow {
    switch window {
    case .fixed(let c, let w): return AppliedWindow(rule: .fixed, center: c, width: max(w, 1))
    case .file(let c, let w):
      if let fw = scan.fileWindow, fw.width > 0 {
        return AppliedWindow(rule: .file, center: fw.center, width: max(fw.width, 1))
      }
      return AppliedWindow(rule: .fixed, center: c, width: max(w, 1))
    case .percentile(let low, let high):
      return Self.percentileWindow(scan.values, low: low, high: high)
    case .auto:
      return Self.autoWindow(scan)
    }
  }

  /// The `auto` window of one image, first match wins:
  /// 1. an 8-bit picture (`pictureFormats`): its values as they are (0–255);
  /// 2. a colour DICOM image: its full bit depth (0–255, 0–65535 for 16 bits and palettes);
  /// 3. the file's own VOI window (first WindowCenter/WindowWidth);
  /// 4. CT: a preset by BodyPartExamined (`ctPresets`, `ctSoftTissue`, `ctWide`);
  /// 5. everything else (MR, CR, DX, MG, US, XA, RF, PT, NM, OT, …, no modality): the
  ///    image's own 0.5–99.5 percentiles (min–max when those two coincide).
  public static func autoWindow(_ scan: DecodedScan) -> AppliedWindow {
    if pictureFormats.contains(scan.photometric) {
      return AppliedWindow(rule: .picture, center: 127.5, width: 255)
    }
    let colour =
      ["RGB", "PALETTE COLOR"].contains(scan.photometric)
      || scan.photometric.hasPrefix("YBR")
    if colour {
      let top = scan.photometric == "PALETTE COLOR" ? 65535 : pow(2, Double(scan.bitsStored)) - 1
      return AppliedWindow(rule: .colour, center: top / 2, width: top)
    }
    if let fw = scan.fileWindow, fw.width > 0 {
      return AppliedWindow(rule: .file, center: fw.center, width: max(fw.width, 1))
    }
    if (scan.headers["Modality"] ?? "").uppercased() == "CT" {
      let part = (scan.headers["BodyPartExamined"] ?? "").uppercased()
        .trimmingCharacters(in: .whitespaces)
      if part.isEmpty {
        return AppliedWindow(rule: .ctWide, center: ctWide.center, width: ctWide.width)
      }
      for preset in ctPresets where preset.bodyParts.contains(part) {
        return AppliedWindow(rule: preset.rule, center: preset.center, width: preset.width)
      }
      return AppliedWindow(
        rule: .ctSoftTissue, center: ctSoftTissue.center, width: ctSoftTissue.width)
    }
    return percentileWindow(scan.values, low: autoPercentiles.low, high: autoPercentiles.high)
  }

  /// The `low`–`high` percentile range of `values` (ScanIO's interpolated percentiles); the
  /// min–max range when they coincide (an image that is mostly one value), so that the rest
  /// is not all saturated.
  static func percentileWindow(_ values: [Float], low: Double, high: Double) -> AppliedWindow {
    var (a, b) = VOIWindowing.percentiles(values, low, high)
    if b <= a { (a, b) = VOIWindowing.minMax(values) }
    let lower = Double(a)
    let upper = Double(b)
    return AppliedWindow(rule: .percentile, center: (lower + upper) / 2, width: upper - lower)
  }

  // MARK: - Records

  /// One line describing `applied` under these settings, e.g. "file window C -600 W 1500",
  /// "per-image percentiles p0.5–p99.5, MONOCHROME1 inverted".
  public func describe(_ applied: AppliedWindow) -> String {
    func n(_ x: Double) -> String { String(format: "%g", x) }
    var text: String
    switch applied.rule {
    case .file: text = "file window C \(n(applied.center)) W \(n(applied.width))"
    case .fixed: text = "fixed window C \(n(applied.center)) W \(n(applied.width))"
    case .percentile:
      var (a, b) = Self.autoPercentiles
      if case .percentile(let low, let high) = window { (a, b) = (low, high) }
      text = "per-image percentiles p\(n(a))–p\(n(b))"
    case .ctLung, .ctBrain, .ctSoftTissue, .ctWide:
      text = "\(applied.rule.rawValue) preset C \(n(applied.center)) W \(n(applied.width))"
    case .picture: text = "8-bit picture as is (0–255)"
    case .colour: text = "colour at full bit depth (0–\(n(applied.width)))"
    }
    if applied.inverted { text += ", MONOCHROME1 inverted" }
    return text
  }

  /// How many images got each window (`describe`); a rule with more than `distinct` different
  /// windows (per-image file windows of MR, say) is counted as one line giving the ranges.
  public func summarize(_ windows: [AppliedWindow], distinct: Int = 3) -> [String: Int] {
    var byRule: [AppliedWindow.Rule: [AppliedWindow]] = [:]
    for w in windows { byRule[w.rule, default: []].append(w) }
    var out: [String: Int] = [:]
    for (rule, list) in byRule {
      let lines = list.map(describe)
      if rule == .percentile || Set(lines).count <= distinct {
        for line in lines { out[line, default: 0] += 1 }
        continue
      }
      func n(_ x: Double) -> String { String(format: "%g", x) }
      let centers = list.map(\.center)
      let widths = list.map(\.width)
      let inverted = list.filter(\.inverted).count
      let line =
        "\(rule.rawValue) windows (\(Set(lines).count) distinct, C \(n(centers.min()!))…"
        + "\(n(centers.max()!)), W \(n(widths.min()!))…\(n(widths.max()!)))"
        + (inverted > 0 ? ", \(inverted) MONOCHROME1 inverted" : "")
      out[line, default: 0] += list.count
    }
    return out
  }

  // MARK: - Parsing

  /// Parses a window setting: "auto", "file", "file:-600,1500", "-600,1500" or "p0.5,99.5";
  /// `input` names where it came from in the error ("--window", "preprocessing.window").
  public static func parseWindow(_ text: String, input: String = "--window") throws -> Window {
    let t = text.trimmingCharacters(in: .whitespaces)
    func pair(_ s: Substring) -> (Double, Double)? {
      let p = s.split(separator: ",", omittingEmptySubsequences: false)
        .compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
      return p.count == 2 && p.allSatisfy(\.isFinite) ? (p[0], p[1]) : nil
    }
    if t == "auto" { return .auto }
    if t == "file" { return .file(fallbackCenter: -600, fallbackWidth: 1500) }
    if t.hasPrefix("file:"), let (c, w) = pair(t.dropFirst(5)), w > 0 {
      return .file(fallbackCenter: c, fallbackWidth: w)
    }
    if t.hasPrefix("p"), let (a, b) = pair(t.dropFirst()), a >= 0, b <= 100, a < b {
      return .percentile(low: a, high: b)
    }
    if let (c, w) = pair(Substring(t)), w > 0 { return .fixed(center: c, width: w) }
    throw DatasetsError.invalidWindow(input: input, text: text)
  }
}
