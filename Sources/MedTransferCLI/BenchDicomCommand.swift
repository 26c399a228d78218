import ArgumentParser
import Foundation
import ScanIO

/// `medtransfer bench dicom DIR --json`: decode throughput of every file under DIR to float32
/// modality values (all frames), on all cores.
struct BenchDicomCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dicom",
    abstract: "Decode every DICOM file under DIR to float32 modality values and time it.",
    discussion: """
      Prints {"files_per_second", "megabytes_per_second", ...}; megabytes are of decoded \
      float32 modality values, all frames. Files that fail to decode are counted in "failed" \
      and excluded from the rates.
      """)

  @Argument(help: "A directory of DICOM files (searched recursively).")
  var directory: String

  @Flag(help: "Print one JSON document on stdout.")
  var json = false

  @Option(help: "Decoding threads (default: all cores).")
  var workers: Int = ScanIO.defaultWorkers

  @Option(help: "Timed passes over the files (the best is reported) after one warm-up pass.")
  var repeats: Int = 1

  func run() throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory),
      isDirectory.boolValue
    else {
      throw CLIError("\(directory): not a directory; pass a folder of DICOM files")
    }
    var files: [String] = []
    if let enumerator = FileManager.default.enumerator(atPath: directory) {
      for case let relative as String in enumerator {
        let full = (directory as NSString).appendingPathComponent(relative)
        var dir: ObjCBool = false
        if FileManager.default.fileExists(atPath: full, isDirectory: &dir), !dir.boolValue,
          !(relative as NSString).lastPathComponent.hasPrefix(".")
        {
          files.append(full)
        }
      }
    }
    files.sort()
    guard !files.isEmpty else { throw CLIError("\(directory): no files to decode") }

    _ = decodeAll(files)  // warm-up: page cache and codec registration
    var best: (seconds: Double, bytes: Int, decoded: Int) = (.infinity, 0, 0)
    for _ in 0..<max(repeats, 1) {
      let start = DispatchTime.now().uptimeNanoseconds
      let (bytes, decoded) = decodeAll(files)
      let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      if seconds < best.seconds { best = (seconds, bytes, decoded) }
    }
    let filesPerSecond = Double(best.decoded) / best.seconds
    let megabytesPerSecond = Double(best.bytes) / 1e6 / best.seconds
    if json {
      let text =
        "{\"files_per_second\": \(round3(filesPerSecond)), "
        + "\"megabytes_per_second\": \(round3(megabytesPerSecond)), "
        + "\"files\": \(files.count), \"decoded\": \(best.decoded), "
        + "\"failed\": \(files.count - best.decoded), \"seconds\": \(round3(best.seconds)), "
        + "\"workers\": \(workers)}"
      print(text)
    } else {
      print(
        String(
          format: "%d files (%d decoded) in %.3f s: %.1f files/s, %.1f MB/s float32, %d workers",
          files.count, best.decoded, best.seconds, filesPerSecond, megabytesPerSecond, workers))
    }
  }

  private func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }

  /// Decodes every file and converts all frames into a per-call buffer; returns the float32
  /// bytes produced and the number of files decoded.
  private func decodeAll(_ files: [String]) -> (Int, Int) {
    let counts = ScanIO.parallelMap(files, workers: workers) { path -> Int in
      guard let image = try? ScanIO.read(path: path) else { return -1 }
      let n = image.valuesPerFrame
      let buffer = UnsafeMutablePointer<Float>.allocate(capacity: n)
      defer { buffer.deallocate() }
      var sink: Float = 0
      for f in 0..<image.frames {
        image.modalityFrame(f, into: buffer)
        sink += buffer[n / 2]
      }
      blackHole(sink)
      return n * image.frames * 4
    }
    let decoded = counts.filter { $0 >= 0 }
    return (decoded.reduce(0, +), decoded.count)
  }
}

@inline(never) func blackHole(_ x: Float) { if x.isNaN && x.isInfinite { print(x) } }
