import Datasets
import Foundation
import ScanIO
import TestSupport
import XCTest

/// The shipped spec, and tiny generated datasets shared by the tests.
enum Fixtures {
  static let specPath = packageRoot.appendingPathComponent("datasets/chest-ct-sites.yaml").path

  static let spec: PhantomSpec = try! PhantomSpec.load(path: specPath)

  static var specText: String { try! String(contentsOfFile: specPath, encoding: .utf8) }

  /// A tiny generated dataset (3 sites, 2 images of the rarest class, 32×32).
  static let tiny: String = {
    let dir = try! makeTemporaryDirectory("datasets-tiny").path
    _ = try! PhantomGenerator.generate(
      spec: spec, specText: specText, outDirectory: dir, seed: 7, perClass: 2, size: 32)
    return dir
  }()

  /// The raw pixel bytes of a DICOM file.
  static func pixelBytes(_ path: String) throws -> [UInt8] {
    let file = try DicomFile(path: path)
    return try file.withPixelBytes { Array($0) }
  }

  /// Writes `text` to a file in `dir`.
  @discardableResult
  static func write(_ text: String, to name: String, in dir: String) throws -> String {
    let path = dir + "/" + name
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  /// A gray PNG of `size`² pixels with values from `value(i, j)`.
  static func writePNG(
    _ path: String, size: Int = 8, value: (Int, Int) -> UInt8 = { i, j in UInt8((i * 8 + j) % 256) }
  ) throws {
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    var pixels: [UInt8] = []
    for i in 0..<size { for j in 0..<size { pixels.append(value(i, j)) } }
    try PNGImage(width: size, height: size, channels: .gray, pixels: pixels).write(path: path)
  }
}
