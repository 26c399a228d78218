import Foundation

/// Another program this one runs (`pip download`, Slurm's `sbatch`/`squeue`/`sinfo`): found on
/// PATH through `/usr/bin/env`, both pipes read concurrently so a chatty program cannot block
/// on a full pipe.
public enum ExternalCommand {
  /// What a program printed and how it exited (127: it could not be started).
  public struct Output: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
  }

  /// Runs `arguments[0]` (looked up on PATH) with the rest as its arguments and waits; with
  /// `executable`, runs that file with all of `arguments`. `environment` replaces this
  /// process's environment for the program.
  public static func run(
    _ arguments: [String], executable: URL? = nil, environment: [String: String]? = nil
  ) -> Output {
    let process = Process()
    process.executableURL = executable ?? URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    do { try process.run() } catch {
      let name = executable?.path ?? arguments.first ?? "?"
      return Output(status: 127, stdout: "", stderr: "cannot start \(name): \(error)")
    }
    final class Box: @unchecked Sendable { var data = Data() }
    let errBox = Box()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
      errBox.data = err.fileHandleForReading.readDataToEndOfFile()
      group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return Output(
      status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
      stderr: String(decoding: errBox.data, as: UTF8.self))
  }
}
