import Dispatch
import Foundation

/// A per-domain description of a dataset (like MONAI's DatasetSummary, split by domain):
/// counts per label × domain × split, image sizes, pixel spacing, intensity statistics after
/// the modality LUT, a noise estimate, and header values.
public struct DatasetSummary: Codable, Sendable {
  /// Where the dataset came from.
  public var source: String
  /// Usable images.
  public var images: Int
  /// Distinct patients among them (an image of unknown patient counts as one).
  public var patients: Int
  /// Where the images' patients came from: the manifest column, PatientID, StudyInstanceUID
  /// (where PatientID is empty), or unknown (split by image).
  public var patientSources: PatientSources
  /// Class names.
  public var labels: [String]
  /// Domain names ("-" when unknown).
  public var domains: [String]
  /// Split names present ("-" when none).
  public var splits: [String]
  /// Image and patient counts for every (label, domain, split) that occurs.
  public var counts: [Count]
  /// Statistics per domain.
  public var perDomain: [DomainStatistics]
  /// Rows skipped under `--on-bad skip`, plus images that failed to decode during the summary.
  public var skipped: [BadRow]

  /// One cell of the label × domain × split table.
  public struct Count: Codable, Equatable, Sendable {
    public var label: String
    public var domain: String
    public var split: String
    public var images: Int
    public var patients: Int
  }

  /// Min / mean / max of a per-image quantity.
  public struct MinMeanMax: Codable, Equatable, Sendable {
    public var min: Double
    public var mean: Double
    public var max: Double
  }

  /// Pixel-value statistics after the modality LUT (HU for CT).
  public struct Intensity: Codable, Equatable, Sendable {
    public var mean: Double
    public var std: Double
    public var min: Double
    public var max: Double
    /// Percentiles p1, p5, p25, p50, p75, p95, p99 (1-unit histogram bins).
    public var percentiles: [String: Double]
  }

  /// Everything measured for one domain.
  public struct DomainStatistics: Codable, Sendable {
    public var domain: String
    public var images: Int
    public var patients: Int
    /// "HxW" → images.
    public var sizes: [String: Int]
    /// Pixel spacing (mm, row direction) over images that give it.
    public var pixelSpacingMM: MinMeanMax?
    public var intensity: Intensity
    /// Immerkær's noise estimate (modality units) averaged over images.
    public var noiseStd: MinMeanMax
    /// Header attribute → value → images (Manufacturer, ManufacturerModelName,
    /// ConvolutionKernel, PhotometricInterpretation, BitsStored, ModalityLUT, TransferSyntaxUID,
    /// KVP, PatientSex, …).
    public var headers: [String: [String: Int]]
  }

  /// Decodes every image of `dataset` (in parallel) and summarises it. `splits` overrides the
  /// manifest's split column.
  public static func make(dataset: Dataset, splits: SplitAssignment? = nil) -> DatasetSummary {
    let entries = dataset.entries
    let domainNames = dataset.domains
    let domainIndex = Dictionary(uniqueKeysWithValues: domainNames.enumerated().map { ($1, $0) })
    let chunkCount = min(
      max(entries.count / 8, 1), min(4 * ProcessInfo.processInfo.activeProcessorCount, 16))
    var partials = [[Accumulator]](repeating: [], count: chunkCount)
    var failures = [[BadRow]](repeating: [], count: chunkCount)
    partials.withUnsafeMutableBufferPointer { pOut in
      failures.withUnsafeMutableBufferPointer { fOut in
        let p = pOut
        let f = fOut
        DispatchQueue.concurrentPerform(iterations: chunkCount) { c in
          var acc = domainNames.map { _ in Accumulator() }
          var bad: [BadRow] = []
          var i = c
          while i < entries.count {
            let e = entries[i]
            let d = domainIndex[e.domain ?? "-"]!
            do {
              let scan = try ScanLoader.load(path: e.path)
              acc[d].add(scan, headers: scan.headers)
            } catch {
              bad.append(BadRow(undecodable: e, error: error))
            }
            i += chunkCount
          }
          p[c] = acc
          f[c] = bad
        }
      }
    }
    var total = domainNames.map { _ in Accumulator() }
    for part in partials { for (d, a) in part.enumerated() { total[d].merge(a) } }
    let failed = Set(failures.joined().map(\.row))
    let usable = entries.filter { !failed.contains($0.row) }

    var cells: [String: (images: Int, patients: Set<String>)] = [:]
    for e in usable {
      let split = splits?.splitOf[e.key] ?? e.split ?? "-"
      let key = [e.label, e.domain ?? "-", split].joined(separator: "\u{1F}")
      cells[key, default: (0, [])].images += 1
      cells[key]!.patients.insert(e.group)
    }
    let counts = cells.keys.sorted().map { key -> Count in
      let parts = key.components(separatedBy: "\u{1F}")
      return Count(
        label: parts[0], domain: parts[1], split: parts[2], images: cells[key]!.images,
        patients: cells[key]!.patients.count)
    }
    let perDomain = domainNames.enumerated().map { d, name -> DomainStatistics in
      let a = total[d]
      let inDomain = usable.filter { ($0.domain ?? "-") == name }
      return DomainStatistics(
        domain: name, images: a.images, patients: Set(inDomain.map(\.group)).count, sizes: a.sizes,
        pixelSpacingMM: a.spacingCount > 0
          ? MinMeanMax(
            min: a.spacingMin, mean: a.spacingSum / Double(a.spacingCount), max: a.spacingMax)
          : nil,
        intensity: a.intensity(),
        noiseStd: MinMeanMax(
          min: a.images > 0 ? a.noiseMin : 0,
          mean: a.images > 0 ? a.noiseSum / Double(a.images) : 0,
          max: a.images > 0 ? a.noiseMax : 0),
        headers: a.headers)
    }
    return DatasetSummary(
      source: dataset.source, images: usable.count, patients: Set(usable.map(\.group)).count,
      patientSources: PatientSources(usable), labels: dataset.labels, domains: domainNames,
      splits: Array(Set(counts.map(\.split))).sorted(), counts: counts, perDomain: perDomain,
      skipped: (dataset.skipped + failures.joined()).sorted { $0.row < $1.row })
  }

  /// Immerkær (1996) fast noise variance estimation: σ ≈ √(π/2)/(6(W−2)(H−2)) Σ|I ∗ N|.
  public static func noiseEstimate(_ v: [Float], width: Int, height: Int) -> Double {
    guard width > 2, height > 2 else { return 0 }
    var sum = 0.0
    for i in 1..<(height - 1) {
      for j in 1..<(width - 1) {
        let a = i * width + j
        let n =
          v[a - width - 1] - 2 * v[a - width] + v[a - width + 1]
          - 2 * v[a - 1] + 4 * v[a] - 2 * v[a + 1]
          + v[a + width - 1] - 2 * v[a + width] + v[a + width + 1]
        sum += Double(abs(n))
      }
    }
    return (Double.pi / 2).squareRoot() * sum / (6 * Double(width - 2) * Double(height - 2))
  }

  /// Running statistics of one domain.
  struct Accumulator {
    static let lo = -8192
    static let bins = 8192 + 70000
    var images = 0
    var sizes: [String: Int] = [:]
    var spacingCount = 0
    var spacingSum = 0.0
    var spacingMin = Double.infinity
    var spacingMax = -Double.infinity
    var n = 0.0
    var sum = 0.0
    var sumSq = 0.0
    var vmin = Double.infinity
    var vmax = -Double.infinity
    var histogram: [Int] = []
    var noiseSum = 0.0
    var noiseMin = Double.infinity
    var noiseMax = -Double.infinity
    var headers: [String: [String: Int]] = [:]

    mutating func add(_ s: DecodedScan, headers h: [String: String]) {
      images += 1
      sizes["\(s.height)x\(s.width)", default: 0] += 1
      if let sp = s.pixelSpacing {
        spacingCount += 1
        spacingSum += sp.row
        spacingMin = Swift.min(spacingMin, sp.row)
        spacingMax = Swift.max(spacingMax, sp.row)
      }
      if histogram.isEmpty { histogram = [Int](repeating: 0, count: Accumulator.bins) }
      var localSum = 0.0
      var localSq = 0.0
      for v in s.values {
        let d = Double(v)
        localSum += d
        localSq += d * d
        if d < vmin { vmin = d }
        if d > vmax { vmax = d }
        let b = Swift.min(
          Swift.max(Int(d.rounded(.down)) - Accumulator.lo, 0), Accumulator.bins - 1)
        histogram[b] += 1
      }
      n += Double(s.values.count)
      sum += localSum
      sumSq += localSq
      let noise = DatasetSummary.noiseEstimate(s.values, width: s.width, height: s.height)
      noiseSum += noise
      noiseMin = Swift.min(noiseMin, noise)
      noiseMax = Swift.max(noiseMax, noise)
      var all = h
      all["TransferSyntaxUID"] = s.transferSyntaxUID
      for (k, v) in all { headers[k, default: [:]][v, default: 0] += 1 }
    }

    mutating func merge(_ o: Accumulator) {
      images += o.images
      for (k, v) in o.sizes { sizes[k, default: 0] += v }
      spacingCount += o.spacingCount
      spacingSum += o.spacingSum
      spacingMin = Swift.min(spacingMin, o.spacingMin)
      spacingMax = Swift.max(spacingMax, o.spacingMax)
      n += o.n
      sum += o.sum
      sumSq += o.sumSq
      vmin = Swift.min(vmin, o.vmin)
      vmax = Swift.max(vmax, o.vmax)
      if !o.histogram.isEmpty {
        if histogram.isEmpty {
          histogram = o.histogram
        } else {
          for i in histogram.indices { histogram[i] += o.histogram[i] }
        }
      }
      noiseSum += o.noiseSum
      noiseMin = Swift.min(noiseMin, o.noiseMin)
      noiseMax = Swift.max(noiseMax, o.noiseMax)
      for (k, m) in o.headers { for (v, c) in m { headers[k, default: [:]][v, default: 0] += c } }
    }

    func intensity() -> Intensity {
      guard n > 0 else { return Intensity(mean: 0, std: 0, min: 0, max: 0, percentiles: [:]) }
      let mean = sum / n
      let std = Swift.max(sumSq / n - mean * mean, 0).squareRoot()
      var percentiles: [String: Double] = [:]
      let targets: [Double] = [1, 5, 25, 50, 75, 95, 99]
      var cumulative = 0
      var t = 0
      for (b, c) in histogram.enumerated() where c > 0 {
        cumulative += c
        while t < targets.count && Double(cumulative) >= targets[t] / 100 * n {
          percentiles["p\(Int(targets[t]))"] = Double(b + Accumulator.lo)
          t += 1
        }
      }
      return Intensity(mean: mean, std: std, min: vmin, max: vmax, percentiles: percentiles)
    }
  }
}
