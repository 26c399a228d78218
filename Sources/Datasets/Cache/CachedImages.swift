import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The images of a set as `TensorCache` entries, read on demand: what a run streams its
/// batches from instead of holding every image of every split in memory.
///
/// Each read is `pread(2)` of one entry's plane into the caller's batch buffer, so the
/// process holds only the batch it is filling; the entries stay in the kernel's page cache
/// (shared, reclaimable, not counted in the process's RSS). A memory mapping would count every
/// page it touched in RSS until unmapped, which is what made memory grow with the dataset.
///
/// The values read are the ones `TensorCache.image(path:)` returned when the set was built, bit
/// for bit: an entry is content-addressed and never rewritten with other values. An entry that
/// has gone (a cache folder cleaned during a run) is decoded again from its image file.
public final class CachedImages: @unchecked Sendable {
  /// The cache the entries belong to (its preprocessing fixes the image size).
  public let cache: TensorCache
  /// The image files, one per image (decoded again if their entry has gone).
  public let sources: [String]
  /// The entry files, one per image.
  public let entries: [String]

  /// Creates the set of `entries` (of `cache`), decoded from `sources`.
  public init(cache: TensorCache, sources: [String], entries: [String]) {
    precondition(sources.count == entries.count, "CachedImages: one entry per image file.")
    self.cache = cache
    self.sources = sources
    self.entries = entries
  }

  /// Number of images.
  public var count: Int { entries.count }

  /// H·W·C of every image.
  public var valuesPerImage: Int { cache.preprocessing.valuesPerImage }

  /// Image `i`'s cache key: its preprocessing and the SHA-256 of its file (the entry's name).
  public func key(_ i: Int) -> String {
    let name = (entries[i] as NSString).lastPathComponent
    let content = name.hasSuffix(".f32") ? String(name.dropLast(4)) : name
    return "\(cache.preprocessing.hash.prefix(16))-\(content)"
  }

  /// The images at `indices`, in that order.
  public func subset(_ indices: [Int]) -> CachedImages {
    CachedImages(
      cache: cache, sources: indices.map { sources[$0] }, entries: indices.map { entries[$0] })
  }

  /// Writes image `i`'s `valuesPerImage` values to `out`. Thread-safe.
  public func read(_ i: Int, into out: UnsafeMutablePointer<Float>) {
    let p = cache.preprocessing
    let pixels = p.size * p.size
    // The entry's one plane is read into the last `pixels` floats of `out` and spread over
    // the channels in place (`Preprocessing.replicate` allows exactly that overlap).
    let plane = out + (valuesPerImage - pixels)
    if readEntry(entries[i], bytes: pixels * MemoryLayout<Float>.stride, into: plane) {
      Preprocessing.replicate(plane, pixels: pixels, channels: p.channels, into: out)
      return
    }
    do {
      try cache.image(path: sources[i]).copy(into: out)
    } catch {
      preconditionFailure(
        "The cache entry of \(sources[i]) went away during the run and the image can no longer "
          + "be decoded (\(error)); the run needs its images until it ends.")
    }
  }

  /// Reads an entry's values when its header is this cache's; false if it is missing or not.
  private func readEntry(_ entry: String, bytes: Int, into out: UnsafeMutablePointer<Float>)
    -> Bool
  {
    let fd = open(entry, O_RDONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var header = [UInt32](repeating: 0, count: TensorCache.headerBytes / 4)
    let headerRead = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
    guard headerRead == TensorCache.headerBytes,
      header.withUnsafeBufferPointer({ TensorCache.isCurrent($0.baseAddress!, cache.preprocessing) }
      )
    else { return false }
    var done = 0
    let raw = UnsafeMutableRawPointer(out)
    while done < bytes {
      let n = pread(fd, raw + done, bytes - done, off_t(TensorCache.headerBytes + done))
      guard n > 0 else { return false }
      done += n
    }
    return true
  }
}
