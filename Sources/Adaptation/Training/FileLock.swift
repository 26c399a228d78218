import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// An exclusive advisory lock (`flock`) on `<path>`, held until `unlock()` or deinit.
///
/// Processes sharing a study folder (`study run --workers`) take it around the shared source
/// model, so one trains it and the others wait and load it. The kernel drops the lock when
/// the holder exits, even by `kill -9`, so a killed worker never leaves a stale lock behind.
public final class FileLock {
  private var descriptor: Int32

  /// Blocks until the lock is held; creates the file (and its folder) if missing.
  public init(path: String) throws {
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else {
      throw AdaptationError.lockFailed(path: path, reason: String(cString: strerror(errno)))
    }
    while flock(descriptor, LOCK_EX) != 0 {
      guard errno == EINTR else {
        let reason = String(cString: strerror(errno))
        close(descriptor)
        throw AdaptationError.lockFailed(path: path, reason: reason)
      }
    }
  }

  /// Whether another open file description holds the lock at `path` now (a worker training the
  /// model it guards); false when the file does not exist or the lock is free. Does not wait.
  public static func isHeld(path: String) -> Bool {
    let fd = open(path, O_RDWR | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    if flock(fd, LOCK_EX | LOCK_NB) == 0 {
      flock(fd, LOCK_UN)
      return false
    }
    return errno == EWOULDBLOCK
  }

  /// Releases the lock (idempotent).
  public func unlock() {
    guard descriptor >= 0 else { return }
    flock(descriptor, LOCK_UN)
    close(descriptor)
    descriptor = -1
  }

  deinit { unlock() }
}
