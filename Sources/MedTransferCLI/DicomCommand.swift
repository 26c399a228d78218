import ArgumentParser
import Foundation
import Interchange
import ScanIO

/// `medtransfer dicom inspect|export`: look at DICOM files the way the pipeline will see them.
struct DicomCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dicom",
    abstract: "Inspect DICOM files and export frames as PNG or NumPy arrays.",
    subcommands: [DicomInspectCommand.self, DicomExportCommand.self])
}

/// `medtransfer dicom inspect PATH... [--recursive] --json`.
struct DicomInspectCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "inspect",
    abstract: "Decode each file and print its geometry, pixel format and value statistics.",
    discussion: """
      With --json prints JSON Lines, one object per file (path, ok, error {code, message}, \
      transferSyntaxUID, modality, manufacturer, rows, columns, frames, samplesPerPixel, \
      photometricInterpretation, bitsAllocated, bitsStored, pixelRepresentation, \
      rescaleSlope, rescaleIntercept, stats {min, max, mean} of frame 0 modality values). \
      Exits 1 when any file failed, after reporting all of them.
      """)

  @Argument(help: "DICOM files or directories.")
  var paths: [String]

  @Flag(help: "Descend into subdirectories of directory arguments.")
  var recursive = false

  @Flag(help: "Print JSON Lines on stdout.")
  var json = false

  @Flag(help: "Show DCMTK's own log output on stderr.")
  var verbose = false

  @Option(help: "Decoding threads (default: all cores).")
  var workers: Int = ScanIO.defaultWorkers

  func run() throws {
    ScanIO.setVerbose(verbose)
    var files: [String] = []
    for path in paths {
      var isDirectory: ObjCBool = false
      if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
        isDirectory.boolValue
      {
        files += listFiles(path, recursive: recursive)
      } else {
        files.append(path)
      }
    }
    let results = ScanIO.readAll(files, workers: workers)
    var failed = 0
    let encoder = JSONCoding.encoder(.canonical)
    for (path, result) in zip(files, results) {
      let report = InspectReport(path: path, result: result)
      if !report.ok { failed += 1 }
      if json {
        let data = try encoder.encode(report)
        FileHandle.standardOutput.write(data + Data("\n".utf8))
      } else {
        print(report.text)
      }
    }
    if failed > 0 {
      FileHandle.standardError.write(
        Data("medtransfer: \(failed) of \(files.count) files could not be decoded\n".utf8))
      throw ExitCode(1)
    }
  }

  private func listFiles(_ directory: String, recursive: Bool) -> [String] {
    let url = URL(fileURLWithPath: directory)
    var result: [String] = []
    let keys: [URLResourceKey] = [.isRegularFileKey, .isDirectoryKey]
    guard
      let items = try? FileManager.default.contentsOfDirectory(
        at: url, includingPropertiesForKeys: keys, options: [.skipsHiddenFiles])
    else { return [] }
    for item in items.sorted(by: { $0.path < $1.path }) {
      let values = try? item.resourceValues(forKeys: Set(keys))
      if values?.isDirectory == true {
        if recursive { result += listFiles(item.path, recursive: true) }
      } else if values?.isRegularFile == true {
        result.append(item.path)
      }
    }
    return result
  }
}

/// One line of `dicom inspect --json`.
struct InspectReport: Encodable {
  struct Failure: Encodable {
    var code: String
    var message: String
  }
  struct Stats: Encodable {
    var min: Double
    var max: Double
    var mean: Double
  }
  var path: String
  var ok: Bool
  var error: Failure?
  var transferSyntaxUID: String?
  var modality: String?
  var manufacturer: String?
  var rows: Int?
  var columns: Int?
  var frames: Int?
  var samplesPerPixel: Int?
  var photometricInterpretation: String?
  var bitsAllocated: Int?
  var bitsStored: Int?
  var pixelRepresentation: Int?
  var rescaleSlope: Double?
  var rescaleIntercept: Double?
  var stats: Stats?

  init(path: String, result: Result<ScanImage, ScanIOError>) {
    self.path = path
    switch result {
    case .failure(let error):
      ok = false
      self.error = Failure(code: error.code, message: error.description)
    case .success(let image):
      ok = true
      transferSyntaxUID = image.transferSyntaxUID
      modality = image.metadata.modality
      manufacturer = image.metadata.manufacturer
      rows = image.rows
      columns = image.columns
      frames = image.frames
      samplesPerPixel = image.samplesPerPixel
      photometricInterpretation = image.photometric.rawValue
      bitsAllocated = image.bitsAllocated
      bitsStored = image.bitsStored
      pixelRepresentation = image.pixelRepresentation
      switch image.modalityLUT {
      case .rescale(let slope, let intercept):
        rescaleSlope = slope
        rescaleIntercept = intercept
      default:
        rescaleSlope = 1
        rescaleIntercept = 0
      }
      let values = image.modalityFrame(0)
      var lo = Double.infinity
      var hi = -Double.infinity
      var sum = 0.0
      for v in values {
        let d = Double(v)
        lo = Swift.min(lo, d)
        hi = Swift.max(hi, d)
        sum += d
      }
      stats = Stats(min: lo, max: hi, mean: values.isEmpty ? 0 : sum / Double(values.count))
    }
  }

  var text: String {
    if let error { return "\(path): FAILED [\(error.code)] \(error.message)" }
    let s = stats.map { String(format: "min %.6g max %.6g mean %.6g", $0.min, $0.max, $0.mean) }
    return "\(path): \(rows!)x\(columns!)x\(frames!) \(photometricInterpretation!) "
      + "\(bitsStored!)/\(bitsAllocated!) bits \(pixelRepresentation == 1 ? "signed" : "unsigned") "
      + "ts \(transferSyntaxUID ?? "?") modality \(modality ?? "?") \(s ?? "")"
  }
}

/// `medtransfer dicom export FILE [--frame N] (--png OUT.png [--window …] | --npy OUT.npy)`.
struct DicomExportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract: "Write one frame as an 8-bit PNG (windowed) or a float32 NumPy array.")

  @Argument(help: "A DICOM file.")
  var file: String

  @Option(help: "Frame index (0-based).")
  var frame: Int = 0

  @Option(help: "Write a PNG of the windowed frame here.")
  var png: String?

  @Option(help: "Window for --png: auto, file, minmax, or CENTER,WIDTH.")
  var window: String = "auto"

  @Option(help: "Write the float32 modality values (H×W or H×W×3) as .npy here.")
  var npy: String?

  @Flag(help: "Show DCMTK's own log output on stderr.")
  var verbose = false

  func validate() throws {
    if (png == nil) == (npy == nil) {
      throw ValidationError("give exactly one of --png OUT.png or --npy OUT.npy")
    }
  }

  func run() throws {
    ScanIO.setVerbose(verbose)
    let image: ScanImage
    do {
      image = try ScanIO.read(path: file)
    } catch let error as ScanIOError {
      throw CLIError("\(error.description) [\(error.code)]")
    }
    guard frame >= 0 && frame < image.frames else {
      throw CLIError(
        "\(file): frame \(frame) does not exist (the file has \(image.frames) frame(s)); "
          + "use --frame 0...\(image.frames - 1)")
    }
    do {
      if let npy {
        let shape =
          image.isColor ? [image.rows, image.columns, 3] : [image.rows, image.columns]
        try NumpyFile.writeFloat32(image.modalityFrame(frame), shape: shape, to: npy)
      } else if let png {
        let values = image.displayFrame(frame, window: try parseWindow(window))
        try PNGImage(
          width: image.columns, height: image.rows, channels: image.isColor ? .rgb : .gray,
          displayValues: values
        ).write(path: png)
      }
    } catch let error as ScanIOError {
      throw CLIError("\(error.description) [\(error.code)]")
    }
  }

  private func parseWindow(_ text: String) throws -> WindowChoice {
    switch text.lowercased() {
    case "auto": return .auto
    case "file": return .file
    case "minmax", "min-max": return .minMax
    default:
      let parts = text.split(separator: ",").map {
        Double($0.trimmingCharacters(in: .whitespaces))
      }
      guard parts.count == 2, let c = parts[0], let w = parts[1], w > 0 else {
        throw CLIError(
          "--window '\(text)' is not auto, file, minmax or CENTER,WIDTH (e.g. 40,400)")
      }
      return .explicit(VOIWindow(center: c, width: w))
    }
  }
}
