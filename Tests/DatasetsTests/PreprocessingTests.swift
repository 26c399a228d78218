import Datasets
import Foundation
import Interchange
import Randomness
import ScanIO
import TestSupport
import XCTest

final class PreprocessingTests: XCTestCase {
  func scan(
    _ values: [Float], width: Int, height: Int, photometric: String = "MONOCHROME2",
    window: (Double, Double)? = nil
  ) -> DecodedScan {
    DecodedScan(
      width: width, height: height, values: values, photometric: photometric,
      fileWindow: window.map { (center: $0.0, width: $0.1) }, pixelSpacing: nil, bitsStored: 16,
      transferSyntaxUID: "")
  }

  /// DICOM linear window: y = ((x − (c − 0.5)) / (w − 1) + 0.5) clamped, then (v − 0.5)/0.5.
  func testWindowAndNormalisationClosedForm() {
    let p = Preprocessing(window: .fixed(center: 40, width: 401), size: 2, channels: 1)
    let out = p.apply(scan([-1000, 39.5, 239.5, 3000], width: 2, height: 2))
    assertClose(out, [-1, 0, 1, 1], atol: 1e-6)
  }

  func testFileWindowFallbackPercentileAndMonochrome1() {
    let values: [Float] = (0..<100).map(Float.init)
    let fromFile = Preprocessing(
      window: .file(fallbackCenter: 0, fallbackWidth: 2), size: 10, channels: 1)
    XCTAssertEqual(
      fromFile.resolvedWindow(scan(values, width: 10, height: 10, window: (50, 20))).0, 50)
    XCTAssertEqual(fromFile.resolvedWindow(scan(values, width: 10, height: 10)).1, 2)
    let pct = Preprocessing(window: .percentile(low: 0, high: 100), size: 10, channels: 1)
    let out = pct.apply(scan(values, width: 10, height: 10))
    XCTAssertEqual(out.first!, -1, accuracy: 1e-5)
    XCTAssertEqual(out.last!, 1, accuracy: 1e-5)
    var inv = pct
    inv.invertMonochrome1 = true
    let flipped = inv.apply(scan(values, width: 10, height: 10, photometric: "MONOCHROME1"))
    assertClose(flipped, out.map { -$0 }, atol: 1e-5)
  }

  func testResampleKeepsConstantsAndReplicatesChannels() {
    let p = Preprocessing(window: .fixed(center: 0.5, width: 2), size: 5, channels: 3)
    let out = p.apply(scan([Float](repeating: 0.5, count: 13 * 7), width: 13, height: 7))
    XCTAssertEqual(out.count, 5 * 5 * 3)
    for v in out { XCTAssertEqual(v, out[0], accuracy: 1e-5) }
    // Downsampling a 0/1 checkerboard by 2 averages to 0.5 (no aliasing).
    let board: [Float] = (0..<64).map { Float(($0 / 8 + $0 % 8) % 2) }
    let small = Resampler.resize(board, height: 8, width: 8, newHeight: 4, newWidth: 4)
    for v in small { XCTAssertEqual(v, 0.5, accuracy: 0.13) }
  }

  func testHashChangesWithEverySetting() {
    let base = Preprocessing()
    var hashes = Set([base.hash])
    var a = base
    a.size = 128
    hashes.insert(a.hash)
    var b = base
    b.channels = 1
    hashes.insert(b.hash)
    var c = base
    c.window = .fixed(center: 40, width: 400)
    hashes.insert(c.hash)
    var d = base
    d.invertMonochrome1 = true
    hashes.insert(d.hash)
    XCTAssertEqual(hashes.count, 5)
    XCTAssertEqual(base.hash, Preprocessing().hash)
    XCTAssertEqual(base.hash.count, 64)
  }

  func testWindowParsing() throws {
    XCTAssertEqual(try Preprocessing.parseWindow("-600,1500"), .fixed(center: -600, width: 1500))
    XCTAssertEqual(try Preprocessing.parseWindow("p1,99"), .percentile(low: 1, high: 99))
    XCTAssertEqual(
      try Preprocessing.parseWindow("file"), .file(fallbackCenter: -600, fallbackWidth: 1500))
    XCTAssertThrowsError(try Preprocessing.parseWindow("wide"))
  }
}

final class TensorCacheTests: XCTestCase {
  func testEachImageDecodedOnceAndInvalidatedExactly() throws {
    let dir = try makeTemporaryDirectory("cache").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try Fixtures.writePNG(dir + "/a.png") { i, j in UInt8(i * 10 + j) }
    try Fixtures.writePNG(dir + "/b.png") { i, j in UInt8(200 - i * j) }
    let p = Preprocessing(window: .fixed(center: 127.5, width: 256), size: 4, channels: 3)
    let cache = try TensorCache(preprocessing: p, root: dir + "/cache")
    let a1 = try cache.image(path: dir + "/a.png").array
    _ = try cache.image(path: dir + "/b.png")
    XCTAssertEqual(cache.statistics.misses, 2)
    let a2 = try cache.image(path: dir + "/a.png")
    XCTAssertEqual(cache.statistics.hits, 1)
    XCTAssertEqual(a2.array, a1)
    XCTAssertEqual([a2.height, a2.width, a2.channels], [4, 4, 3])
    XCTAssertEqual(a1, p.apply(try ScanLoader.load(path: dir + "/a.png")))
    // A changed file misses; the untouched one still hits.
    try Fixtures.writePNG(dir + "/a.png") { i, j in UInt8(i * 20 + j) }
    let reopened = try TensorCache(preprocessing: p, root: dir + "/cache")
    let a3 = try reopened.image(path: dir + "/a.png").array
    _ = try reopened.image(path: dir + "/b.png")
    XCTAssertEqual(reopened.statistics.misses, 1)
    XCTAssertEqual(reopened.statistics.hits, 1)
    XCTAssertNotEqual(a3, a1)
    // A changed setting misses everything (and lives in its own folder).
    var q = p
    q.channels = 1
    let other = try TensorCache(preprocessing: q, root: dir + "/cache")
    _ = try other.image(path: dir + "/b.png")
    XCTAssertEqual(other.statistics.misses, 1)
    XCTAssertNotEqual(other.directory, cache.directory)
    // A corrupt entry is a miss, not a crash.
    let bKey = sha256Hex(try Data(contentsOf: URL(fileURLWithPath: dir + "/b.png")))
    try Data([1, 2, 3]).write(to: URL(fileURLWithPath: other.entryPath(contentHash: bKey)))
    let fresh = try TensorCache(preprocessing: q, root: dir + "/cache")
    _ = try fresh.image(path: dir + "/b.png")
    XCTAssertEqual(fresh.statistics.misses, 1)
  }

  /// A hit reads no image: the file's SHA-256 is recalled from its digest record while `stat`
  /// says the same. A file rewritten with the same size and its old modification time put back
  /// still misses (its status-change time moved), and a damaged record is a miss.
  func testImagesAreHashedOnceAndEditsStillMiss() throws {
    let dir = try makeTemporaryDirectory("digests").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/a.png"
    try Fixtures.writePNG(path) { i, j in UInt8(i * 10 + j) }
    let p = Preprocessing(window: .fixed(center: 127.5, width: 256), size: 4, channels: 1)
    let cache = try TensorCache(preprocessing: p, root: dir + "/cache")
    let first = try cache.image(path: path).array
    XCTAssertEqual(cache.digests.statistics.computed, 1)
    let reopened = try TensorCache(preprocessing: p, root: dir + "/cache")
    XCTAssertEqual(try reopened.image(path: path).array, first)
    XCTAssertEqual(reopened.digests.statistics.recalled, 1)
    XCTAssertEqual(reopened.digests.statistics.computed, 0)
    XCTAssertEqual(
      try reopened.digests.sha256(ofFile: path), try sha256Hex(ofFile: URL(fileURLWithPath: path)))

    // Same size, same modification time, other bytes.
    let digests = FileDigests(directory: dir + "/other-digests")
    let text = dir + "/notes.txt"
    try "abcd".write(toFile: text, atomically: false, encoding: .utf8)
    let old = try digests.sha256(ofFile: text)
    XCTAssertEqual(try digests.sha256(ofFile: text), old)
    XCTAssertEqual(digests.statistics.recalled, 1)
    var before = stat()
    XCTAssertEqual(stat(text, &before), 0)
    try "abce".write(toFile: text, atomically: false, encoding: .utf8)
    var times = [before.st_atim, before.st_mtim]
    XCTAssertEqual(utimensat(AT_FDCWD, text, &times, 0), 0)
    var after = stat()
    XCTAssertEqual(stat(text, &after), 0)
    XCTAssertEqual(after.st_ino, before.st_ino)
    XCTAssertEqual(after.st_size, before.st_size)
    XCTAssertEqual(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec)
    XCTAssertEqual(try digests.sha256(ofFile: text), sha256Hex(Data("abce".utf8)))
    XCTAssertEqual(digests.statistics.computed, 2)

    // A damaged record is recomputed.
    let records = FileManager.default.enumerator(atPath: dir + "/cache/digests")!
      .compactMap { $0 as? String }.filter { !$0.contains(".") && $0.count > 2 }
    XCTAssertEqual(records.count, 1)
    try "garbage".write(
      toFile: dir + "/cache/digests/" + records[0], atomically: true, encoding: .utf8)
    let repaired = try TensorCache(preprocessing: p, root: dir + "/cache")
    XCTAssertEqual(try repaired.image(path: path).array, first)
    XCTAssertEqual(repaired.digests.statistics.computed, 1)
    XCTAssertEqual(repaired.statistics.hits, 1)
  }

  /// An entry stores one gray plane (a third of a 3-channel image's bytes) and every reader
  /// gives back `Preprocessing.apply`'s values bit for bit: the mapped image, a set's
  /// streamed read, and the decode fallback when the entry has gone. An entry of the first
  /// format (every channel stored) is a miss and is rewritten in place.
  func testEntriesStoreOnePlaneAndReadBackEveryChannel() throws {
    let dir = try makeTemporaryDirectory("planes").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/a.png"
    try Fixtures.writePNG(path) { i, j in UInt8((i * 37 + j * 11) % 256) }
    let scan = try ScanLoader.load(path: path)
    for channels in [1, 3] {
      let p = Preprocessing(size: 7, channels: channels)
      let expected = p.apply(scan)
      let cache = try TensorCache(preprocessing: p, root: dir + "/cache")
      let image = try cache.image(path: path)
      XCTAssertEqual(image.array.map(\.bitPattern), expected.map(\.bitPattern))
      let attributes = try FileManager.default.attributesOfItem(atPath: image.entry)
      XCTAssertEqual((attributes[.size] as? Int), 32 + 7 * 7 * 4, "one plane per entry")

      let set = CachedImages(
        cache: cache, sources: [path, path], entries: [image.entry, image.entry])
      var out = [Float](repeating: .nan, count: 2 * p.valuesPerImage)
      out.withUnsafeMutableBufferPointer {
        set.read(0, into: $0.baseAddress!)
        set.read(1, into: $0.baseAddress! + p.valuesPerImage)
      }
      XCTAssertEqual(out.map(\.bitPattern), (expected + expected).map(\.bitPattern))

      // The first format: header "MTT1" with every channel stored.
      var old: [UInt32] = [0x3154_544D, UInt32(p.version), 7, 7, UInt32(channels), 0, 0, 0]
      old += expected.map(\.bitPattern)
      try old.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: image.entry)) }
      let reopened = try TensorCache(preprocessing: p, root: dir + "/cache")
      XCTAssertEqual(try reopened.image(path: path).array, expected)
      XCTAssertEqual(reopened.statistics.misses, 1)
      XCTAssertEqual(
        try FileManager.default.attributesOfItem(atPath: image.entry)[.size] as? Int, 32 + 7 * 7 * 4
      )

      // An entry gone during a run: decoded again, same values.
      try FileManager.default.removeItem(atPath: image.entry)
      var again = [Float](repeating: .nan, count: p.valuesPerImage)
      again.withUnsafeMutableBufferPointer { set.read(1, into: $0.baseAddress!) }
      XCTAssertEqual(again.map(\.bitPattern), expected.map(\.bitPattern))
    }
  }

  func testDefaultRootHonoursEnvironmentVariable() {
    setenv("MEDTRANSFER_CACHE", "/tmp/mt-cache-test", 1)
    defer { unsetenv("MEDTRANSFER_CACHE") }
    XCTAssertEqual(TensorCache.defaultRoot, "/tmp/mt-cache-test/tensors")
  }
}

final class AugmentationTests: XCTestCase {
  let h = 12, w = 10, c = 3
  lazy var input: [Float] = (0..<(h * w * c)).map { Float(($0 * 37) % 101) / 50 - 1 }

  func run(_ a: Augmentation, seed: UInt64) -> [Float] {
    var out = [Float](repeating: 0, count: input.count)
    var rng = SeededGenerator(seed: seed, stream: [1, 2])
    input.withUnsafeBufferPointer { i in
      out.withUnsafeMutableBufferPointer {
        a.apply(i.baseAddress!, height: h, width: w, channels: c, into: $0.baseAddress!, rng: &rng)
      }
    }
    return out
  }

  func testSeededDeterminism() {
    var a = Augmentation()
    a.cropArea = [0.7, 1]
    a.verticalFlip = 0.5
    XCTAssertEqual(run(a, seed: 1), run(a, seed: 1))
    XCTAssertNotEqual(run(a, seed: 1), run(a, seed: 2))
  }

  func testIdentityAndFlip() {
    XCTAssertEqual(run(.none, seed: 3), input)
    var flip = Augmentation.none
    flip.horizontalFlip = 1
    let out = run(flip, seed: 3)
    for y in 0..<h {
      for x in 0..<w {
        for k in 0..<c {
          XCTAssertEqual(
            out[(y * w + x) * c + k], input[(y * w + (w - 1 - x)) * c + k], accuracy: 1e-6)
        }
      }
    }
    var bright = Augmentation.none
    bright.brightness = [0.1, 0.1]
    let b = run(bright, seed: 3)
    // +0.1 on [0, 1] is +0.2 after (v − 0.5)/0.5, before any clamping of the input.
    XCTAssertEqual(b[0], input[0] + 0.2, accuracy: 1e-5)
  }
}
