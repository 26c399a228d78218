import Foundation
import Yams

/// A multi-site phantom dataset: anatomy and lesion ranges shared by all sites, plus one scanner
/// profile per site. Every knob is a plain number so a researcher can dial the shift up or down.
///
/// Ranges are written as two-element lists `[low, high]` and sampled uniformly.
public struct PhantomSpec: Codable, Equatable, Sendable {
  /// The dataset name (written into the manifest folder's `generation.json`).
  public var name: String
  /// Label names in class-index order; must be a subset of `PhantomLesion` names.
  public var classes: [String]
  /// Output images are `imageSize × imageSize` pixels.
  public var imageSize: Int
  /// Images of each site's rarest class; other classes follow the site's class priors.
  public var perClass: Int
  /// Default generation seed (overridden by `--seed`).
  public var seed: UInt64
  /// Slices drawn per synthetic patient, `[min, max]`.
  public var slicesPerPatient: [Int]
  /// Body and organ ranges.
  public var anatomy: Anatomy
  /// Lesion ranges by class.
  public var lesions: Lesions
  /// The scanner profiles.
  public var sites: [Site]

  /// Anatomy ranges (millimetres and Hounsfield units).
  public struct Anatomy: Codable, Equatable, Sendable {
    /// Body half-width (left-right) in mm.
    public var bodyHalfWidthMM: [Double]
    /// Body half-depth (anterior-posterior) as a fraction of the half-width.
    public var bodyAspect: [Double]
    /// Subcutaneous fat thickness in mm.
    public var fatMM: [Double]
    /// Chest-wall muscle thickness in mm.
    public var muscleMM: [Double]
    /// Lung parenchyma HU at age 50 (older patients are darker by `lungHUPerYear`).
    public var lungHU: [Double]
    /// Change of lung HU per year of age above 50.
    public var lungHUPerYear: Double
    /// Soft-tissue HU of muscle and mediastinum.
    public var muscleHU: [Double]
    /// Fat HU.
    public var fatHU: [Double]
    /// Cortical bone HU (ribs, vertebra).
    public var boneHU: [Double]
    /// Number of end-on vessel cross-sections per lung (nodule mimics).
    public var vesselDots: [Int]
    /// Vessel-tree branching depth.
    public var vesselDepth: Int
    /// Amplitude (HU) of the smooth parenchymal texture.
    public var textureHU: Double
    /// Fraction of patients who are female (F gets breast tissue, smaller body).
    public var femaleFraction: Double
    /// Patient age range in years.
    public var ageYears: [Int]
  }

  /// Lesion ranges for every lesion class.
  public struct Lesions: Codable, Equatable, Sendable {
    public var solidNodule: Lesion
    public var spiculatedNodule: Lesion
    public var groundGlass: Lesion
  }

  /// The ranges of one lesion type.
  public struct Lesion: Codable, Equatable, Sendable {
    /// Core radius in mm.
    public var radiusMM: [Double]
    /// Lesion HU minus the surrounding lung HU.
    public var contrastHU: [Double]
    /// Edge softness (sigmoid width) in mm.
    public var edgeMM: [Double]
    /// Number of spicules (spiculated nodules only; 0 for others).
    public var spikes: [Int]?
    /// Spicule length as a multiple of the radius.
    public var spikeLength: [Double]?
    /// Lobulation amplitude (fraction of the radius) of the margin.
    public var lobulation: [Double]?
  }

  /// One scanner profile.
  public struct Site: Codable, Equatable, Sendable {
    /// Domain name used in paths and manifests, e.g. `site-a`.
    public var name: String
    /// DICOM Manufacturer (0008,0070).
    public var manufacturer: String
    /// DICOM ManufacturerModelName (0008,1090).
    public var model: String
    /// DICOM ConvolutionKernel name written to the header (the numbers below do the work).
    public var kernelName: String
    /// Reconstruction field of view in mm; pixel spacing is `fovMM / imageSize`.
    public var fovMM: Double
    /// Gaussian blur of the reconstruction (mm); smooth kernels blur.
    public var blurMM: Double
    /// Unsharp-mask gain of the kernel (0 = none); sharp kernels boost edges and noise.
    public var sharpen: Double
    /// Tube current-time product (mAs) written to the header; noise scales as 1/sqrt(mAs).
    public var exposureMAs: Double
    /// Noise standard deviation (HU) at 100 mAs, measured after the kernel.
    public var noiseHUAt100mAs: Double
    /// Constant added to every HU value (scanner calibration error).
    public var huOffset: Double
    /// Multiplicative HU calibration (1 = exact).
    public var huGain: Double
    /// Bits stored per pixel: 12 or 16.
    public var bitsStored: Int
    /// Whether stored pixels are signed (PixelRepresentation 1).
    public var signed: Bool
    /// RescaleSlope (HU per stored unit).
    public var rescaleSlope: Double
    /// RescaleIntercept (HU at stored value 0).
    public var rescaleIntercept: Double
    /// `MONOCHROME2` or `MONOCHROME1` (MONOCHROME1 sites store inverted values with a
    /// negative rescale slope, so the modality LUT still yields HU).
    public var photometric: String
    /// `explicit`, `implicit`, `rle`, `jpeg-lossless` or `jpeg-ls-lossless`.
    public var transferSyntax: String
    /// Class priors in `classes` order (normalised when generating).
    public var classPriors: [Double]
    /// Window written to the header: center, width.
    public var window: [Double]
  }
}

// MARK: - Loading and validation

extension PhantomSpec {
  /// Reads and validates a spec from a YAML file.
  public static func load(path: String) throws -> PhantomSpec {
    let text: String
    do {
      text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
      throw DatasetsError.notFound(
        path: path, cause: "cannot read the spec (\(error.localizedDescription))")
    }
    return try parse(yaml: text, path: path)
  }

  /// Parses and validates a spec from YAML text (`path` is used in messages).
  public static func parse(yaml: String, path: String = "<spec>") throws -> PhantomSpec {
    let spec: PhantomSpec
    do {
      spec = try YAMLDecoder().decode(PhantomSpec.self, from: yaml)
    } catch let error as DecodingError {
      throw DatasetsError.invalidSpec(path: path, cause: PhantomSpec.describe(error))
    } catch {
      throw DatasetsError.invalidSpec(path: path, cause: "\(error)")
    }
    try spec.validate(path: path)
    return spec
  }

  static func describe(_ error: DecodingError) -> String {
    func key(_ path: [CodingKey]) -> String {
      path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }
    switch error {
    case .keyNotFound(let k, let ctx): return "missing key \(key(ctx.codingPath + [k]))"
    case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx):
      return "wrong type at \(key(ctx.codingPath)): \(ctx.debugDescription)"
    case .dataCorrupted(let ctx): return "\(key(ctx.codingPath)): \(ctx.debugDescription)"
    @unknown default: return "\(error)"
    }
  }

  /// Checks ranges and names; throws `invalidSpec` naming the offending key.
  public func validate(path: String) throws {
    func fail(_ cause: String) -> DatasetsError { .invalidSpec(path: path, cause: cause) }
    func range(_ r: [Double], _ name: String, min: Double = -.infinity) throws {
      guard r.count == 2, r[0] <= r[1], r[0] >= min else {
        throw fail(
          "\(name) must be [low, high] with low <= high\(min > -.infinity ? " and low >= \(min)" : "")"
        )
      }
    }
    guard imageSize >= 16, imageSize <= 2048 else { throw fail("imageSize must be 16...2048") }
    guard perClass >= 1 else { throw fail("perClass must be at least 1") }
    guard !classes.isEmpty, Set(classes).count == classes.count else {
      throw fail("classes must be a non-empty list of distinct names")
    }
    for c in classes where PhantomLesion(rawValue: c) == nil {
      throw fail(
        "unknown class '\(c)' (known: \(PhantomLesion.allCases.map(\.rawValue).joined(separator: ", ")))"
      )
    }
    guard slicesPerPatient.count == 2, slicesPerPatient[0] >= 1,
      slicesPerPatient[0] <= slicesPerPatient[1]
    else { throw fail("slicesPerPatient must be [min, max] with 1 <= min <= max") }
    let a = anatomy
    try range(a.bodyHalfWidthMM, "anatomy.bodyHalfWidthMM", min: 50)
    try range(a.bodyAspect, "anatomy.bodyAspect", min: 0.3)
    try range(a.fatMM, "anatomy.fatMM", min: 0)
    try range(a.muscleMM, "anatomy.muscleMM", min: 0)
    try range(a.lungHU, "anatomy.lungHU")
    try range(a.muscleHU, "anatomy.muscleHU")
    try range(a.fatHU, "anatomy.fatHU")
    try range(a.boneHU, "anatomy.boneHU")
    guard a.vesselDots.count == 2, a.vesselDots[0] >= 0, a.vesselDots[0] <= a.vesselDots[1] else {
      throw fail("anatomy.vesselDots must be [min, max] with 0 <= min <= max")
    }
    guard a.ageYears.count == 2, a.ageYears[0] >= 0, a.ageYears[0] <= a.ageYears[1] else {
      throw fail("anatomy.ageYears must be [min, max]")
    }
    guard (0...1).contains(a.femaleFraction) else {
      throw fail("anatomy.femaleFraction must be in [0, 1]")
    }
    guard (0...8).contains(a.vesselDepth) else { throw fail("anatomy.vesselDepth must be 0...8") }
    for (name, l) in [
      ("solidNodule", lesions.solidNodule), ("spiculatedNodule", lesions.spiculatedNodule),
      ("groundGlass", lesions.groundGlass),
    ] {
      try range(l.radiusMM, "lesions.\(name).radiusMM", min: 0.5)
      try range(l.contrastHU, "lesions.\(name).contrastHU")
      try range(l.edgeMM, "lesions.\(name).edgeMM", min: 0.05)
      if let s = l.spikes, s.count != 2 || s[0] < 0 || s[0] > s[1] {
        throw fail("lesions.\(name).spikes must be [min, max]")
      }
      if let s = l.spikeLength { try range(s, "lesions.\(name).spikeLength", min: 0) }
      if let s = l.lobulation { try range(s, "lesions.\(name).lobulation", min: 0) }
    }
    guard !sites.isEmpty, Set(sites.map(\.name)).count == sites.count else {
      throw fail("sites must be a non-empty list with distinct names")
    }
    for s in sites {
      let p = "sites[\(s.name)]"
      guard s.name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
        throw fail("\(p).name may contain only letters, digits, '-' and '_'")
      }
      guard s.fovMM > 0 else { throw fail("\(p).fovMM must be positive") }
      guard s.blurMM >= 0, s.sharpen >= 0 else {
        throw fail("\(p).blurMM and sharpen must be >= 0")
      }
      guard s.exposureMAs > 0, s.noiseHUAt100mAs >= 0 else {
        throw fail("\(p).exposureMAs must be positive and noiseHUAt100mAs >= 0")
      }
      guard s.bitsStored == 12 || s.bitsStored == 16 else {
        throw fail("\(p).bitsStored must be 12 or 16")
      }
      guard s.rescaleSlope > 0 else { throw fail("\(p).rescaleSlope must be positive") }
      guard s.huGain > 0 else { throw fail("\(p).huGain must be positive") }
      guard s.photometric == "MONOCHROME1" || s.photometric == "MONOCHROME2" else {
        throw fail("\(p).photometric must be MONOCHROME1 or MONOCHROME2")
      }
      guard PhantomSpec.transferSyntaxes[s.transferSyntax] != nil else {
        throw fail(
          "\(p).transferSyntax must be one of \(PhantomSpec.transferSyntaxes.keys.sorted().joined(separator: ", "))"
        )
      }
      guard s.classPriors.count == classes.count, s.classPriors.allSatisfy({ $0 > 0 }) else {
        throw fail("\(p).classPriors needs \(classes.count) positive numbers (one per class)")
      }
      guard s.window.count == 2, s.window[1] > 0 else {
        throw fail("\(p).window must be [center, width>0]")
      }
    }
  }

  /// Transfer-syntax names accepted in specs, with their UIDs.
  public static let transferSyntaxes: [String: String] = [
    "explicit": "1.2.840.10008.1.2.1",
    "implicit": "1.2.840.10008.1.2",
    "rle": "1.2.840.10008.1.2.5",
    "jpeg-lossless": "1.2.840.10008.1.2.4.70",
    "jpeg-ls-lossless": "1.2.840.10008.1.2.4.80",
  ]

  /// Images per class for `site`: the rarest class gets `perClass`, others follow the priors.
  public func classCounts(site: Site, perClass: Int) -> [Int] {
    let minPrior = site.classPriors.min() ?? 1
    return site.classPriors.map { Int(($0 / minPrior * Double(perClass)).rounded()) }
  }
}

/// The lesion classes the phantom can draw.
public enum PhantomLesion: String, CaseIterable, Codable, Sendable {
  case normal
  case solidNodule = "solid-nodule"
  case spiculatedNodule = "spiculated-nodule"
  case groundGlass = "ground-glass"
}
