import Foundation

/// `study run --workers N`: runs the study as N child processes of this binary, shard k of N
/// each, one kernel thread each (`--threads 1`, single-threaded OpenBLAS).
///
/// Why processes rather than threads: one training run on 2 cores reaches ~105 images/s at
/// 96 px, two single-threaded runs ~85 each, because small layers do not split well over
/// cores; separate processes also keep each run's state and kernels unchanged. The children
/// share the study's SQLite store (WAL mode) and take a file lock around a shared source model.
/// Each child's stderr is passed on line by line, prefixed with `[k/N]`.
enum WorkerPool {
  /// Starts the workers, waits for all, and returns how many runs failed (from the workers'
  /// exit status: a worker exits non-zero when a run failed or it could not continue).
  static func run(count: Int, spec: String, out: String, retryFailed: Bool) throws -> Int {
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var environment = ProcessInfo.processInfo.environment
    environment["OPENBLAS_NUM_THREADS"] = "1"
    let output = FileHandle.standardError
    let lock = NSLock()
    var processes: [Process] = []
    // One entry per worker's stderr, left at its end of file: the parent returns only after
    // every worker's last line is out.
    let drained = DispatchGroup()
    for k in 1...count {
      let p = Process()
      p.executableURL = executable
      p.arguments =
        [
          "study", "run", spec, "--out", out, "--shard", "\(k)/\(count)",
          "--threads", "1", "--no-report",
        ] + (retryFailed ? ["--retry-failed"] : [])
      p.environment = environment
      let pipe = Pipe()
      p.standardError = pipe
      p.standardOutput = FileHandle.nullDevice
      let writer = PrefixedLines(prefix: "[\(k)/\(count)] ", output: output, lock: lock)
      drained.enter()
      pipe.fileHandleForReading.readabilityHandler = { handle in
        let chunk = handle.availableData
        writer.consume(chunk)
        if chunk.isEmpty {
          handle.readabilityHandler = nil
          drained.leave()
        }
      }
      do { try p.run() } catch {
        pipe.fileHandleForReading.readabilityHandler = nil
        drained.leave()
        for process in processes { process.terminate() }
        throw CLIError("cannot start worker \(k)/\(count) (\(executable.path)): \(error)")
      }
      processes.append(p)
    }
    // A Ctrl-C reaches the whole process group, so the workers stop with the parent.
    var failedWorkers = 0
    for p in processes {
      p.waitUntilExit()
      if p.terminationStatus != 0 { failedWorkers += 1 }
    }
    // End of file comes when a worker exits, unless something it started still holds the
    // pipe open; then stop waiting after a few seconds.
    _ = drained.wait(timeout: .now() + 5)
    return failedWorkers
  }
}

/// Passes a worker's stderr on line by line with a prefix. Carriage returns (in-place bars)
/// end a line too. One lock, shared by all workers, keeps lines whole; it also guards
/// `pending`, hence `@unchecked Sendable`.
private final class PrefixedLines: @unchecked Sendable {
  private let prefix: Data
  private let output: FileHandle
  private let lock: NSLock
  private var pending = Data()

  init(prefix: String, output: FileHandle, lock: NSLock) {
    self.prefix = Data(prefix.utf8)
    self.output = output
    self.lock = lock
  }

  /// Appends `chunk` and writes every complete line; an empty chunk (end of stream) flushes.
  func consume(_ chunk: Data) {
    lock.lock()
    defer { lock.unlock() }
    pending.append(chunk)
    while let end = pending.firstIndex(where: { $0 == 0x0A || $0 == 0x0D }) {
      emit(pending[pending.startIndex..<end])
      pending.removeSubrange(pending.startIndex...end)
    }
    if chunk.isEmpty {
      emit(pending)
      pending.removeAll()
    }
  }

  private func emit(_ line: Data) {
    guard !line.isEmpty else { return }
    output.write(prefix + line + Data("\n".utf8))
  }
}
