import Datasets
import Foundation
import ScanIO
import XCTest

/// The shipped spec, and tiny generated datasets shared by the tests (Datasets' and the
/// binary-driving ones).
public enum Fixtures {
  public static let specPath = packageRoot.appendingPathComponent("datasets/chest-ct-sites.yaml")
    .path

  public static let spec: PhantomSpec = try! PhantomSpec.load(path: specPath)

  public static var specText: String { try! String(contentsOfFile: specPath, encoding: .utf8) }

  /// A tiny generated dataset (3 sites, 2 images of the rarest class, 32×32).
  public static let tiny: String = {
    let dir = try! makeTemporaryDirectory("datasets-tiny").path
    _ = try! PhantomGenerator.generate(
      spec: spec, specText: specText, outDirectory: dir, seed: 7, perClass: 2, size: 32)
    return dir
  }()

  /// The raw pixel bytes of a DICOM file.
  public static func pixelBytes(_ path: String) throws -> [UInt8] {
    let file = try DicomFile(path: path)
    return try file.withPixelBytes { Array($0) }
  }

  /// Writes `text` to a file in `dir`.
  @discardableResult
  public static func write(_ text: String, to name: String, in dir: String) throws -> String {
    let path = dir + "/" + name
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  /// A gray PNG of `size`² pixels with values from `value(i, j)`.
  public static func writePNG(
    _ path: String, size: Int = 8, value: (Int, Int) -> UInt8 = { i, j in UInt8((i * 8 + j) % 256) }
  ) throws {
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    var pixels: [UInt8] = []
    for i in 0..<size { for j in 0..<size { pixels.append(value(i, j)) } }
    try PNGImage(width: size, height: size, channels: .gray, pixels: pixels).write(path: path)
  }

  /// A DICOM tree of 6 patients × 3–4 images (21 files) laid out as an ImageFolder,
  /// `root/<label>/p<k>-<i>.dcm`, written with ScanIO's DICOM writer. Patients 0–3 have a
  /// PatientID (`PAT-00k`); patient 4 has no PatientID attribute and patient 5 an empty one,
  /// each with one StudyInstanceUID shared by their images. Patients 0, 2, 4 are `a`, the
  /// others `b`. Also writes `images.csv` (path,label only) and `labels.csv`
  /// (SOPInstanceUID,label). File names carry the true patient (`truePatient(of:)`).
  public static func writePatientTree(_ root: String) throws -> (images: Int, studyUIDImages: Int) {
    var images = "path,label\n"
    var labels = "SOPInstanceUID,label\n"
    var count = 0
    var studyUIDImages = 0
    for p in 0..<6 {
      let label = p % 2 == 0 ? "a" : "b"
      for i in 0..<(p % 2 == 0 ? 3 : 4) {
        var spec = DicomImageSpec(
          rows: 8, columns: 8, storedValues: (0..<64).map { Int32(($0 * 37 + p * 11 + i) % 4096) })
        let sop = "2.25.\(900_000 + p * 100 + i)"
        spec.set("SOPInstanceUID", sop)
        spec.set("StudyInstanceUID", "2.25.\(700_000 + p)")
        spec.set("SeriesInstanceUID", "2.25.\(800_000 + p)")
        if p < 4 { spec.set("PatientID", "PAT-00\(p)") }
        if p == 5 { spec.set("PatientID", "") }
        if p >= 4 { studyUIDImages += 1 }
        let rel = "\(label)/p\(p)-\(i).dcm"
        try FileManager.default.createDirectory(
          atPath: root + "/" + label, withIntermediateDirectories: true)
        try DicomWriter.write(spec, to: root + "/" + rel)
        images += "\(rel),\(label)\n"
        labels += "\(sop),\(label)\n"
        count += 1
      }
    }
    try write(images, to: "images.csv", in: root)
    try write(labels, to: "labels.csv", in: root)
    return (count, studyUIDImages)
  }

  /// The true patient of a `writePatientTree` file, from its name (`a/p4-2.dcm` → `p4`).
  public static func truePatient(of key: String) -> String {
    String(((key as NSString).lastPathComponent).split(separator: "-")[0])
  }
}
