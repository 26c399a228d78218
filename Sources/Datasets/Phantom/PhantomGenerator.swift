import Dispatch
import Foundation
import Interchange
import Randomness
import ScanIO

/// Generates the multi-site phantom benchmark: real DICOM files through ScanIO plus a manifest.
///
/// Every image draws from its own random stream keyed by (seed, site, patient, slice), so the
/// result does not depend on how `concurrentPerform` schedules the work: the same spec and seed
/// give byte-identical pixel data.
public enum PhantomGenerator {
  /// One planned image.
  public struct Item: Sendable, Equatable {
    /// Index of the site in `spec.sites`.
    public var site: Int
    /// Class index in `spec.classes`.
    public var label: Int
    /// Patient number within the site (0-based, shuffled so that it does not reveal the class).
    public var patient: Int
    /// Slice number within the patient.
    public var slice: Int
    /// Synthetic patient identifier, e.g. `site-a-P0007`.
    public var patientID: String
    /// Path relative to the output folder.
    public var relativePath: String
  }

  /// What a generation run produced.
  public struct Result: Codable, Sendable {
    public var name: String
    public var seed: UInt64
    public var imageSize: Int
    public var perClass: Int
    public var images: Int
    public var patients: Int
    /// Images per site per class, in `classes` order.
    public var counts: [String: [Int]]
    public var classes: [String]
    public var seconds: Double
    public var specSHA256: String
    public var manifest: String
  }

  /// Lays out every image (site, class, patient, slice) without rendering anything.
  public static func plan(spec: PhantomSpec, perClass: Int, seed: UInt64) -> [Item] {
    var items: [Item] = []
    for (s, site) in spec.sites.enumerated() {
      var rng = SeededGenerator(seed: seed, name: site.name, stream: [0x504C_414E])  // "PLAN"
      let counts = spec.classCounts(site: site, perClass: perClass)
      // Patients per class, each with a slice count; the last patient of a class is truncated.
      var patients: [(label: Int, slices: Int)] = []
      for (c, n) in counts.enumerated() {
        var left = n
        while left > 0 {
          let k = min(rng.integer(spec.slicesPerPatient[0]...spec.slicesPerPatient[1]), left)
          patients.append((c, k))
          left -= k
        }
      }
      rng.shuffle(&patients)
      for (p, patient) in patients.enumerated() {
        let id = "\(site.name)-P\(String(p, radix: 10).leftPadded(to: 4))"
        for k in 0..<patient.slices {
          items.append(
            Item(
              site: s, label: patient.label, patient: p, slice: k, patientID: id,
              relativePath: "\(site.name)/\(id)/slice\(String(k).leftPadded(to: 2)).dcm"))
        }
      }
    }
    return items
  }

  /// Per-patient metadata (sex, age) of an item, drawn from the patient's stream.
  static func patient(spec: PhantomSpec, item: Item, seed: UInt64) -> ChestPhantom.Patient {
    var rng = SeededGenerator(
      seed: seed, name: spec.sites[item.site].name, stream: [UInt64(item.patient), 0x50]
    )
    let kind = PhantomLesion(rawValue: spec.classes[item.label])!
    return ChestPhantom.makePatient(spec: spec, lesion: kind, rng: &rng)
  }

  /// Renders one item into stored pixel values (what goes into PixelData).
  public static func storedPixels(spec: PhantomSpec, item: Item, seed: UInt64, size: Int) -> [Int32]
  {
    let scanner = ScannerModel(site: spec.sites[item.site], size: size)
    var stored = [Int32](repeating: 0, count: size * size)
    var hu = [Float](repeating: 0, count: size * size)
    var scratch = [Float](repeating: 0, count: 3 * size * size)
    render(spec: spec, item: item, seed: seed, scanner: scanner, hu: &hu, scratch: &scratch)
    hu.withUnsafeMutableBufferPointer { scanner.quantize($0, into: &stored) }
    return stored
  }

  static func render(
    spec: PhantomSpec, item: Item, seed: UInt64, scanner: ScannerModel, hu: inout [Float],
    scratch: inout [Float]
  ) {
    let patient = PhantomGenerator.patient(spec: spec, item: item, seed: seed)
    let site = spec.sites[item.site]
    hu.withUnsafeMutableBufferPointer { h in
      ChestPhantom.render(
        patient: patient, sliceIndex: item.slice, size: scanner.size, spacing: scanner.spacing,
        spec: spec, into: h)
      var noise = SeededGenerator(
        seed: seed, name: site.name, stream: [UInt64(item.patient), UInt64(item.slice), 0x4E])
      scratch.withUnsafeMutableBufferPointer { s in scanner.apply(h, scratch: s, rng: &noise) }
    }
  }

  /// Generates the dataset into `outDirectory`: DICOM files, `manifest.csv`, `generation.json`.
  ///
  /// - Parameters:
  ///   - perClass: overrides `spec.perClass`; `size` overrides `spec.imageSize`.
  ///   - previews: also writes this many PNGs per site × class under `previews/` (lung window
  ///     on the HU the scanner produced) for eyeballing the data.
  ///   - progress: called (from worker threads, serialised) with (done, total).
  public static func generate(
    spec: PhantomSpec, specText: String, outDirectory: String, seed: UInt64? = nil,
    perClass: Int? = nil, size: Int? = nil, previews: Int = 0,
    progress: ((Int, Int) -> Void)? = nil
  ) throws -> Result {
    let start = DispatchTime.now()
    let seed = seed ?? spec.seed
    let perClass = perClass ?? spec.perClass
    let size = size ?? spec.imageSize
    guard size >= 16, size <= 2048 else {
      throw DatasetsError.invalidSpec(path: outDirectory, cause: "--size must be 16...2048")
    }
    guard perClass >= 1 else {
      throw DatasetsError.invalidSpec(path: outDirectory, cause: "--per-class must be at least 1")
    }
    let items = plan(spec: spec, perClass: perClass, seed: seed)
    let fm = FileManager.default
    do {
      try fm.createDirectory(atPath: outDirectory, withIntermediateDirectories: true)
      for dir in Set(items.map { ($0.relativePath as NSString).deletingLastPathComponent }) {
        try fm.createDirectory(
          atPath: outDirectory + "/" + dir, withIntermediateDirectories: true)
      }
    } catch {
      throw DatasetsError.io(path: outDirectory, cause: error.localizedDescription)
    }
    var previewIndex = [Int: Int]()  // item index -> preview number
    if previews > 0 {
      try? fm.createDirectory(atPath: outDirectory + "/previews", withIntermediateDirectories: true)
      var seen = [String: Int]()
      for (i, item) in items.enumerated() {
        let key = "\(item.site)-\(item.label)"
        let k = seen[key, default: 0]
        if k < previews {
          previewIndex[i] = k
          seen[key] = k + 1
        }
      }
    }
    let scanners = spec.sites.map { ScannerModel(site: $0, size: size) }
    let workers = max(ProcessInfo.processInfo.activeProcessorCount, 1)
    let chunk = max(8, items.count / (workers * 16))
    let chunks = (items.count + chunk - 1) / chunk
    let lock = NSLock()
    var firstError: Error?
    var done = 0
    var rows = [String](repeating: "", count: items.count)
    rows.withUnsafeMutableBufferPointer { rowBuffer in
      let rowOut = rowBuffer
      DispatchQueue.concurrentPerform(iterations: chunks) { c in
        var hu = [Float](repeating: 0, count: size * size)
        var scratch = [Float](repeating: 0, count: 3 * size * size)
        var stored = [Int32](repeating: 0, count: size * size)
        for index in (c * chunk)..<min((c + 1) * chunk, items.count) {
          let item = items[index]
          let site = spec.sites[item.site]
          let scanner = scanners[item.site]
          render(spec: spec, item: item, seed: seed, scanner: scanner, hu: &hu, scratch: &scratch)
          hu.withUnsafeMutableBufferPointer { scanner.quantize($0, into: &stored) }
          if let k = previewIndex[index] {
            let pixels = hu.map { UInt8(min(max(($0 + 1350) / 1500 * 255, 0), 255)) }
            try? PNGImage(width: size, height: size, channels: .gray, pixels: pixels).write(
              path: outDirectory + "/previews/\(site.name)-\(spec.classes[item.label])-\(k).png")
          }
          let patient = PhantomGenerator.patient(spec: spec, item: item, seed: seed)
          let uids = PhantomGenerator.uids(seed: seed, site: site.name, item: item)
          let sp = formatDS(scanner.spacing)
          var dicom = DicomImageSpec(rows: size, columns: size, storedValues: stored)
          dicom.photometric = site.photometric == "MONOCHROME1" ? .monochrome1 : .monochrome2
          dicom.bitsStored = site.bitsStored
          dicom.isSigned = site.signed
          dicom.rescale = scanner.writtenRescale
          dicom.transferSyntax = DicomWriter.TransferSyntax(
            rawValue: PhantomSpec.transferSyntaxes[site.transferSyntax]!)!
          let attributes: [(DicomTag, String)] = [
            (DicomTag(0x0008, 0x0008), "ORIGINAL\\PRIMARY\\AXIAL"),
            (.sopInstanceUID, uids.sop), (.studyInstanceUID, uids.study),
            (.seriesInstanceUID, uids.series),
            (.manufacturer, site.manufacturer), (.manufacturerModelName, site.model),
            (.institutionName, site.name), (DicomTag(0x0008, 0x103E), "phantom chest CT"),
            (.patientName, "PHANTOM^\(item.patientID)"), (.patientID, item.patientID),
            (.patientSex, patient.female ? "F" : "M"),
            (.patientAge, String(patient.age).leftPadded(to: 3) + "Y"),
            (.bodyPartExamined, "CHEST"), (.sliceThickness, "1.5"), (.kvp, "120"),
            (DicomTag(0x0018, 0x1152), String(Int(site.exposureMAs.rounded()))),
            (.convolutionKernel, site.kernelName),
            (.seriesNumber, "1"), (.instanceNumber, String(item.slice + 1)),
            (DicomTag(0x0020, 0x1041), formatDS(Double(item.slice) * 1.5)),
            (.pixelSpacing, "\(sp)\\\(sp)"),
            (.windowCenter, formatDS(site.window[0])), (.windowWidth, formatDS(site.window[1])),
          ]
          for (tag, value) in attributes { dicom.attributes[tag] = value }
          let path = outDirectory + "/" + item.relativePath
          do {
            try DicomWriter.write(dicom, to: path)
          } catch {
            lock.lock()
            if firstError == nil { firstError = error }
            lock.unlock()
            return
          }
          rowOut[index] = CSV.line([
            item.relativePath, spec.classes[item.label], site.name, item.patientID,
            patient.female ? "F" : "M", String(patient.age), String(item.slice), uids.sop,
          ])
        }
        lock.lock()
        done += min((c + 1) * chunk, items.count) - c * chunk
        let d = done
        progress?(d, items.count)
        lock.unlock()
      }
    }
    if let firstError { throw firstError }
    let header = CSV.line([
      "path", "label", "domain", "patient", "sex", "age", "slice", "sop_instance_uid",
    ])
    let manifestPath = outDirectory + "/manifest.csv"
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    var counts: [String: [Int]] = [:]
    for site in spec.sites { counts[site.name] = [Int](repeating: 0, count: spec.classes.count) }
    for item in items { counts[spec.sites[item.site].name]![item.label] += 1 }
    let result = Result(
      name: spec.name, seed: seed, imageSize: size, perClass: perClass, images: items.count,
      patients: Set(items.map(\.patientID)).count, counts: counts, classes: spec.classes,
      seconds: seconds, specSHA256: sha256Hex(Data(specText.utf8)), manifest: "manifest.csv")
    do {
      try (([header] + rows).joined(separator: "\n") + "\n").write(
        toFile: manifestPath, atomically: true, encoding: .utf8)
      let encoder = JSONCoding.encoder(.pretty)
      try encoder.encode(result).write(to: URL(fileURLWithPath: outDirectory + "/generation.json"))
    } catch {
      throw DatasetsError.io(path: manifestPath, cause: error.localizedDescription)
    }
    return result
  }

  /// Deterministic DICOM UIDs under the UUID-derived root 2.25.
  static func uids(seed: UInt64, site: String, item: Item) -> (
    sop: String, study: String, series: String
  ) {
    func uid(_ stream: [UInt64]) -> String {
      var rng = SeededGenerator(seed: seed, name: site, stream: stream)
      let a = rng.next() % 900_000_000_000_000_000 + 100_000_000_000_000_000
      let b = rng.next() % 10_000_000_000_000_000_000
      return "2.25.\(a)\(String(b).leftPadded(to: 19))"
    }
    return (
      uid([UInt64(item.patient), UInt64(item.slice), 0x534F50]),
      uid([UInt64(item.patient), 0x5354]),
      uid([UInt64(item.patient), 0x5345])
    )
  }

  /// A DICOM decimal string (≤ 16 characters).
  static func formatDS(_ v: Double) -> String {
    var s = String(format: "%.6g", v)
    if s.count > 16 { s = String(format: "%.8e", v) }
    return s
  }
}

extension String {
  /// Left-pads with zeros to `width` characters.
  func leftPadded(to width: Int) -> String {
    count >= width ? self : String(repeating: "0", count: width - count) + self
  }
}
