import Dispatch

#if canImport(Glibc)
  import Glibc
#endif

/// A directory of DICOM files found by `DicomDirectory.scan`: images grouped into series and
/// ordered, and everything skipped with its reason.
public struct DicomDirectory: Sendable {
  /// One image file found by the scan (header only; decode it with `ScanIO.read`).
  public struct Image: Sendable {
    public var path: String
    public var metadata: ScanMetadata
    public var rows: Int
    public var columns: Int
    public var frames: Int
  }

  /// A series: its UID and its images ordered by position along the slice normal
  /// (ImagePositionPatient), then InstanceNumber, then path.
  public struct Series: Sendable {
    public var seriesInstanceUID: String
    public var images: [Image]
  }

  /// A file that is not used, with the typed reason.
  public struct Skipped: Sendable {
    public var path: String
    public var error: ScanIOError
  }

  /// The series found, in order of their first file's path.
  public var series: [Series]
  /// The files skipped (not DICOM, DICOMDIR, non-image objects, unreadable).
  public var skipped: [Skipped]

  /// Every image of every series, in series order.
  public var images: [Image] { series.flatMap(\.images) }

  /// Scans `path` (a directory; recursively unless `recursive` is false) for DICOM images:
  /// files with the DICM preamble or that DCMTK parses, whatever their suffix. Headers are
  /// read in parallel on `workers` threads (default: all cores).
  public static func scan(
    _ path: String, recursive: Bool = true, workers: Int = ScanIO.defaultWorkers
  ) throws -> DicomDirectory {
    var info = stat()
    guard stat(path, &info) == 0 else {
      throw ScanIOError.io(path: path, cause: String(cString: strerror(errno)))
    }
    guard (info.st_mode & S_IFMT) == S_IFDIR else {
      throw ScanIOError.invalidArgument(path: path, cause: "is not a directory")
    }
    let files = listFiles(path, recursive: recursive)
    let results = ScanIO.parallelMap(files, workers: workers) {
      file -> Result<Image, ScanIOError> in
      Result { try header(file) }.mapError {
        ($0 as? ScanIOError) ?? .io(path: file, cause: "\($0)")
      }
    }
    var skipped: [Skipped] = []
    var groups: [String: [Image]] = [:]
    var order: [String] = []
    for (file, result) in zip(files, results) {
      switch result {
      case .success(let image):
        let uid = image.metadata.seriesInstanceUID ?? "(no SeriesInstanceUID)"
        if groups[uid] == nil { order.append(uid) }
        groups[uid, default: []].append(image)
      case .failure(let error):
        skipped.append(Skipped(path: file, error: error))
      }
    }
    if groups.isEmpty {
      throw ScanIOError.noImages(directory: path, skipped: skipped.count)
    }
    let series = order.map { Series(seriesInstanceUID: $0, images: sortSlices(groups[$0]!)) }
    return DicomDirectory(series: series, skipped: skipped)
  }

  /// Reads one file's header and decides whether it is an image.
  static func header(_ path: String) throws -> Image {
    try ScanImageDecoder.checkReadable(path)
    if NSStringLike(path: path).lastComponent.uppercased() == "DICOMDIR" {
      throw ScanIOError.notAnImage(path: path, reason: "DICOMDIR (media directory)")
    }
    let file = try DicomFile(path: path, headerOnly: true)
    guard file.contains(.pixelData) else {
      if let reason = ScanImageDecoder.nonImageReason(file) {
        throw ScanIOError.notAnImage(path: path, reason: reason)
      }
      throw ScanIOError.noPixelData(path: path)
    }
    guard let rows = file.int(.rows), let columns = file.int(.columns), rows > 0, columns > 0
    else {
      throw ScanIOError.missingAttribute(path: path, attribute: "Rows/Columns (0028,0010/0011)")
    }
    return Image(
      path: path, metadata: ScanMetadata(file: file), rows: rows, columns: columns,
      frames: max(file.int(.numberOfFrames) ?? 1, 1))
  }

  /// Orders slices along the slice normal, then by InstanceNumber, then by path.
  static func sortSlices(_ images: [Image]) -> [Image] {
    func key(_ image: Image) -> Double? {
      guard let p = image.metadata.imagePositionPatient else { return nil }
      guard let o = image.metadata.imageOrientationPatient else { return p[2] }
      let n = [
        o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3],
      ]
      return p[0] * n[0] + p[1] * n[1] + p[2] * n[2]
    }
    return images.sorted { a, b in
      if let ka = key(a), let kb = key(b), ka != kb { return ka < kb }
      let ia = a.metadata.instanceNumber ?? Int.max
      let ib = b.metadata.instanceNumber ?? Int.max
      if ia != ib { return ia < ib }
      return a.path < b.path
    }
  }

  /// All regular files under `path`, sorted, hidden files excluded.
  static func listFiles(_ path: String, recursive: Bool) -> [String] {
    var result: [String] = []
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
      }
      if name.hasPrefix(".") { continue }
      names.append(name)
    }
    for name in names.sorted() {
      let full = path.hasSuffix("/") ? path + name : path + "/" + name
      var info = stat()
      guard stat(full, &info) == 0 else { continue }
      if (info.st_mode & S_IFMT) == S_IFDIR {
        if recursive { result += listFiles(full, recursive: true) }
      } else if (info.st_mode & S_IFMT) == S_IFREG {
        result.append(full)
      }
    }
    return result
  }
}

/// The last path component without Foundation.
private struct NSStringLike {
  let path: String
  var lastComponent: String {
    String(path.split(separator: "/", omittingEmptySubsequences: true).last ?? "")
  }
}

extension ScanIO {
  /// The number of worker threads used by default: all online cores.
  public static var defaultWorkers: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

  /// Maps `items` through `transform` on `workers` threads, keeping the order.
  public static func parallelMap<T, R>(
    _ items: [T], workers: Int = defaultWorkers, _ transform: (T) -> R
  ) -> [R] {
    if items.isEmpty { return [] }
    let results = UnsafeMutablePointer<R?>.allocate(capacity: items.count)
    results.initialize(repeating: nil, count: items.count)
    defer {
      results.deinitialize(count: items.count)
      results.deallocate()
    }
    let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    pthread_mutex_init(lock, nil)
    defer {
      pthread_mutex_destroy(lock)
      lock.deallocate()
    }
    var next = 0
    withoutActuallyEscaping(transform) { transform in
      DispatchQueue.concurrentPerform(iterations: max(1, min(workers, items.count))) { _ in
        while true {
          pthread_mutex_lock(lock)
          let i = next
          next += 1
          pthread_mutex_unlock(lock)
          if i >= items.count { break }
          results[i] = transform(items[i])
        }
      }
    }
    return (0..<items.count).map { results[$0]! }
  }

  /// Reads and decodes `paths` in parallel; one result per path, in order.
  public static func readAll(_ paths: [String], workers: Int = defaultWorkers)
    -> [Result<ScanImage, ScanIOError>]
  {
    parallelMap(paths, workers: workers) { path in
      Result { try ScanIO.read(path: path) }.mapError {
        ($0 as? ScanIOError) ?? .internal(path: path, cause: "\($0)")
      }
    }
  }
}
