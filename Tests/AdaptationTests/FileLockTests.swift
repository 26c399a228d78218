import Foundation
import TestSupport
import XCTest

@testable import Adaptation

/// The advisory lock around a shared source model: a second holder waits for the first.
final class FileLockTests: XCTestCase {
  func testSecondLockWaitsForTheFirst() throws {
    let dir = try makeTemporaryDirectory("filelock")
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("sub/model.safetensors.lock").path
    let first = try FileLock(path: path)
    let state = Flag()
    let holder = Thread {
      Thread.sleep(forTimeInterval: 0.2)
      state.set()  // written while the lock is still held
      first.unlock()
    }
    holder.start()
    let second = try FileLock(path: path)  // blocks until `first` is released
    XCTAssertTrue(state.isSet, "the second lock was granted while the first was held")
    second.unlock()
  }

  /// What a study worker asks before it waits for a source model: is someone training it now?
  /// A missing file and a released lock say no; a held lock (another open file, as another
  /// worker process has) says yes, without waiting.
  func testIsHeldAnswersWithoutWaiting() throws {
    let dir = try makeTemporaryDirectory("filelock-held")
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("model.safetensors.lock").path
    XCTAssertFalse(FileLock.isHeld(path: path))
    let lock = try FileLock(path: path)
    XCTAssertTrue(FileLock.isHeld(path: path))
    lock.unlock()
    XCTAssertFalse(FileLock.isHeld(path: path))
    let again = try FileLock(path: path)  // isHeld left no lock behind
    again.unlock()
  }

  final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
  }
}
