import Foundation
import Interchange
import TestSupport
import XCTest

@testable import Studies

/// `study submit` on a real Slurm cluster (the one-node cluster `scripts/slurm-local` starts;
/// `.ci/run` starts it before `make test`): a submitted study equals a local `study run` run
/// for run; tasks stopped by `scancel` or SIGKILL leave nothing behind and run again on
/// resubmit; bad input submits nothing. Tests that need the cluster skip without it.
final class SlurmClusterTests: XCTestCase {
  static let generator = phantomSpec

  /// Phantom, a source phase on site A, two arms, two budgets, two seeds: 8 runs, 2 source
  /// models (one per seed), one shift analysis.
  static func spec(name: String, arms: String, epochs: Int) -> String {
    """
    name: \(name)
    data:
      source: {generator: \(generator.path), site: site-a}
      targets: [{generator: \(generator.path), site: site-b}]
    backbone: efficientnet-lite0
    input_size: 32
    arms: \(arms)
    budgets: [2, 8]
    seeds: 2
    training:
      epochs: \(epochs)
      patience: 0
      batch_size: 8
      optimizer: adamw
      learning_rate: 0.001
      source_epochs: 1
      options: {phantom_per_class: 16, phantom_size: 48}
    shift: {analyses: [intensity], permutations: 20, bootstrap: 20, max_images: 40}
    """
  }

  /// Skips (one line) unless a Slurm controller answers with a usable node.
  func skipUnlessSlurm() throws {
    let states = runTool("sinfo", ["-h", "-N", "-o", "%T"]).stdout
    let up = states.split(separator: "\n").contains {
      ["idle", "mixed", "allocated"].contains(String($0).trimmingCharacters(in: .whitespaces))
    }
    try XCTSkipUnless(up, "no Slurm cluster answers here; start one with scripts/slurm-local")
  }

  /// Slurm's `(task id, state)` of every queued or running element of `jobs`.
  func queue(_ jobs: [String]) throws -> [(id: String, state: String)] {
    let out = runTool("squeue", ["-h", "-r", "-j", jobs.joined(separator: ","), "-o", "%i %T"])
    return out.stdout.split(separator: "\n").compactMap {
      let parts = $0.split(separator: " ")
      return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
    }
  }

  /// Waits until Slurm has none of `jobs` queued or running (at most `timeout` seconds).
  func waitForJobs(_ jobs: [String], timeout: TimeInterval = 900) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while try !queue(jobs).isEmpty {
      guard Date() < deadline else {
        XCTFail("jobs \(jobs) still queued after \(Int(timeout)) s")
        return
      }
      usleep(500_000)
    }
  }

  /// The job IDs `study submit` printed ("job 12"), in order.
  func jobIDs(_ output: String) -> [String] {
    output.split(separator: "\n").compactMap { line in
      guard let range = line.range(of: " job ") else { return nil }
      return line[range.upperBound...].split(separator: " ").first.map(String.init)
    }
  }

  func writeSpec(_ text: String, in dir: URL, name: String) throws -> URL {
    let url = dir.appendingPathComponent("\(name).yaml")
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url
  }

  /// Every run's result by hash, each run stored exactly once and finished.
  func results(_ dir: URL) throws -> [String: RunResult] {
    let store = try StudyStore(directory: dir, create: false)
    let runs = try store.runs()
    XCTAssertEqual(Set(runs.map(\.hash)).count, runs.count, "a run stored twice")
    var out: [String: RunResult] = [:]
    for run in runs {
      XCTAssertEqual(run.status, .finished, "\(run.config.label): \(run.error ?? "")")
      out[run.hash] = run.result
    }
    return out
  }

  func assertSameResults(_ a: URL, _ b: URL, _ message: String) throws {
    let reference = try results(a)
    let other = try results(b)
    XCTAssertEqual(Set(other.keys), Set(reference.keys), "\(message): other runs")
    for (hash, r) in reference {
      guard let o = other[hash] else { continue }
      XCTAssertEqual(
        try StudyInvariantTests.comparable(o), try StudyInvariantTests.comparable(r),
        "\(message): run \(hash.prefix(16))")
    }
  }

  func testSubmittedStudyEqualsALocalRunRunForRun() throws {
    try skipUnlessLite0IsCached()
    try skipUnlessSlurm()
    let dir = try makeTemporaryDirectory("slurm-study")
    defer { try? FileManager.default.removeItem(at: dir) }
    let spec = try writeSpec(
      Self.spec(name: "slurm-e2e", arms: "[features+logreg, full]", epochs: 3), in: dir,
      name: "e2e")

    let local = dir.appendingPathComponent("local")
    let ran = try runMedtransfer(["study", "run", spec.path, "--out", local.path, "--no-report"])
    XCTAssertEqual(ran.status, 0, ran.stderr)

    let cluster = dir.appendingPathComponent("cluster")
    let submitted = try runMedtransfer([
      "study", "submit", spec.path, "--out", cluster.path, "--max-parallel", "2",
      "--cpus-per-task", "1", "--time", "00:30:00",
    ])
    XCTAssertEqual(submitted.status, 0, submitted.stderr)
    let jobs = jobIDs(submitted.stdout)
    XCTAssertEqual(jobs.count, 4, submitted.stdout)  // source models, runs, shift, finalize
    XCTAssertTrue(submitted.stdout.contains("array of 8 of 8 runs"), submitted.stdout)
    try waitForJobs(jobs)

    try assertSameResults(local, cluster, "Slurm against study run")
    let store = try StudyStore(directory: cluster, create: false)
    XCTAssertEqual(
      try store.shiftResults().map(\.metrics),
      try StudyStore(directory: local).shiftResults()
        .map(\.metrics))
    XCTAssertTrue(
      FileManager.default.fileExists(atPath: cluster.appendingPathComponent("index.html").path),
      "the finalize job wrote no report")
    let status = try runMedtransfer(["study", "status", cluster.path, "--json"])
    XCTAssertEqual(status.status, 0, status.stderr)
    let json = try XCTUnwrap(
      try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(json["finished"] as? Int, 8, status.stdout)
    XCTAssertEqual(json["pending"] as? Int, 0, status.stdout)

    // Submitting again finds nothing to do.
    let again = try runMedtransfer(["study", "submit", spec.path, "--out", cluster.path])
    XCTAssertEqual(again.status, 0, again.stderr)
    XCTAssertTrue(again.stdout.contains("nothing to submit"), again.stdout)
  }

  /// One array task cancelled with `scancel` and another's process killed with SIGKILL, both
  /// mid-training: they leave no result (and no partial file), `status` shows them pending,
  /// resubmitting runs exactly them, and the final store equals a local run's.
  func testStoppedTasksLeaveNothingAndRunAgainOnResubmit() throws {
    try skipUnlessLite0IsCached()
    try skipUnlessSlurm()
    let dir = try makeTemporaryDirectory("slurm-faults")
    defer { try? FileManager.default.removeItem(at: dir) }
    let spec = try writeSpec(
      Self.spec(name: "slurm-faults", arms: "[full, partial(2)]", epochs: 12), in: dir,
      name: "faults")
    let cluster = dir.appendingPathComponent("cluster")
    let submitted = try runMedtransfer([
      "study", "submit", spec.path, "--out", cluster.path, "--max-parallel", "2",
    ])
    XCTAssertEqual(submitted.status, 0, submitted.stderr)
    let jobs = jobIDs(submitted.stdout)
    let runsJob = jobs[1]
    let plan = try StudyPlan.read(from: cluster)

    // Two runs in target training (an epoch checkpointed), at once: cancel one, kill the other.
    var victims: [Int] = []
    let deadline = Date().addingTimeInterval(600)
    while victims.count < 2 && Date() < deadline {
      let running = try queue([runsJob]).filter { $0.state == "RUNNING" }
        .compactMap { Int($0.id.split(separator: "_").last ?? "") }
      victims = running.filter { index in
        let checkpoint = cluster.appendingPathComponent(
          "checkpoints/\(plan.runs[index].hash.prefix(16))/target/resume.json")
        return FileManager.default.fileExists(atPath: checkpoint.path)
      }
      if victims.count < 2 { usleep(50_000) }
    }
    XCTAssertEqual(victims.count, 2, "never saw two runs in training at once")
    guard victims.count == 2 else { return }
    let cancelled = runTool("scancel", ["\(runsJob)_\(victims[0])"])
    XCTAssertEqual(cancelled.status, 0, cancelled.stderr)
    let killed = runTool("pkill", ["-KILL", "-f", "study task .* --index \(victims[1])$"])
    XCTAssertEqual(killed.status, 0, "no task process for run \(victims[1]) to kill")
    try waitForJobs(jobs)

    let results = RunResultFile.folder(in: cluster)
    for index in victims {
      XCTAssertFalse(
        FileManager.default.fileExists(
          atPath: RunResultFile.url(hash: plan.runs[index].hash, in: cluster).path),
        "run \(index) was stopped yet has a result file")
    }
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: results.path)
      .filter { $0.hasPrefix(".") }
    XCTAssertEqual(leftovers, [], "partial files left behind")
    let status = try runMedtransfer(["study", "status", cluster.path, "--json"])
    let json = try XCTUnwrap(
      try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(json["finished"] as? Int, plan.runs.count - 2, status.stdout)
    XCTAssertEqual(json["pending"] as? Int, 2, status.stdout)

    let resubmitted = try runMedtransfer(["study", "submit", spec.path, "--out", cluster.path])
    XCTAssertEqual(resubmitted.status, 0, resubmitted.stderr)
    XCTAssertTrue(
      resubmitted.stdout.contains("array of 2 of \(plan.runs.count) runs"), resubmitted.stdout)
    try waitForJobs(jobIDs(resubmitted.stdout))

    let local = dir.appendingPathComponent("local")
    let ran = try runMedtransfer(["study", "run", spec.path, "--out", local.path, "--no-report"])
    XCTAssertEqual(ran.status, 0, ran.stderr)
    try assertSameResults(local, cluster, "stopped, resubmitted")
    XCTAssertEqual(RunResultFile.list(in: cluster).count, plan.runs.count)
  }

  /// A spec that does not parse, a partition Slurm does not know, no Slurm on PATH: one line
  /// naming the problem, non-zero exit, nothing written or submitted.
  func testBadInputSubmitsNothing() throws {
    let dir = try makeTemporaryDirectory("slurm-bad")
    defer { try? FileManager.default.removeItem(at: dir) }
    let good = try writeSpec(
      Self.spec(name: "slurm-bad", arms: "[full]", epochs: 1), in: dir, name: "good")
    let broken = try writeSpec("name: [unclosed\narms: full", in: dir, name: "broken")
    let out = dir.appendingPathComponent("study")

    func assertRefused(
      _ arguments: [String], environment: [String: String] = [:], mentions: String,
      line: UInt = #line
    ) throws {
      let result = try runMedtransfer(arguments, environment: environment)
      XCTAssertNotEqual(result.status, 0, result.stderr, line: line)
      let message = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
      XCTAssertFalse(message.contains("\n"), "more than one line: \(message)", line: line)
      XCTAssertTrue(message.contains(mentions), message, line: line)
      XCTAssertFalse(
        FileManager.default.fileExists(atPath: out.path), "the study folder was created",
        line: line)
    }
    try assertRefused(
      ["study", "submit", broken.path, "--out", out.path], mentions: broken.path)
    try assertRefused(
      ["study", "submit", good.path, "--out", out.path],
      environment: ["PATH": dir.appendingPathComponent("empty").path],
      mentions: "sbatch: not found on PATH")

    try skipUnlessSlurm()
    let before = runTool("squeue", ["-h", "-o", "%i"]).stdout
    try assertRefused(
      ["study", "submit", good.path, "--out", out.path, "--partition", "no-such-partition"],
      mentions: "--partition no-such-partition: Slurm does not know this partition")
    XCTAssertEqual(runTool("squeue", ["-h", "-o", "%i"]).stdout, before, "a job was submitted")
  }

  /// `study task` then `study merge`, without Slurm: a truncated result file is reported and
  /// never imported; the whole file imports; importing it again changes nothing.
  func testMergeImportsWholeFilesOnceAndRefusesTruncatedOnes() throws {
    try skipUnlessLite0IsCached()
    let dir = try makeTemporaryDirectory("study-merge")
    defer { try? FileManager.default.removeItem(at: dir) }
    let spec = try writeSpec(
      Self.spec(name: "merge", arms: "[baseline:majority-class, features+logreg]", epochs: 1),
      in: dir, name: "merge")
    let study = dir.appendingPathComponent("study")
    // --dry-run prepares the study (store, plan, data) and writes the scripts only.
    let planned = try runMedtransfer([
      "study", "submit", spec.path, "--out", study.path, "--dry-run",
    ])
    XCTAssertEqual(planned.status, 0, planned.stderr)
    for script in ["source-models", "runs", "shift", "finalize"] {
      let text = try String(
        contentsOf: study.appendingPathComponent("slurm/\(script).sbatch"), encoding: .utf8)
      XCTAssertTrue(text.hasPrefix("#!/bin/bash\n#SBATCH --job-name=mt-merge-"), text)
    }
    let plan = try StudyPlan.read(from: study)
    XCTAssertEqual(plan.runs.count, 8)
    XCTAssertEqual(plan.sourceModels.count, 2)

    // A run whose source model was never trained fails with that reason, in its file.
    let index = try XCTUnwrap(plan.runs.firstIndex { $0.arm.name == "features+logreg" })
    let missing = try runMedtransfer([
      "study", "task", spec.path, "--out", study.path, "--cache",
      study.appendingPathComponent("cache").path, "--index", String(index),
    ])
    XCTAssertNotEqual(missing.status, 0)
    XCTAssertTrue(missing.stderr.contains("source model"), missing.stderr)
    let url = RunResultFile.url(hash: plan.runs[index].hash, in: study)
    XCTAssertEqual(try RunResultFile.read(url).status, .failed)
    XCTAssertTrue(try RunResultFile.read(url).error?.contains("missing") ?? false)

    // The baseline needs no source model.
    let baseline = try XCTUnwrap(plan.runs.firstIndex { $0.arm.isBaseline })
    let ran = try runMedtransfer([
      "study", "task", spec.path, "--out", study.path, "--cache",
      study.appendingPathComponent("cache").path, "--index", String(baseline),
    ])
    XCTAssertEqual(ran.status, 0, ran.stderr)
    let file = RunResultFile.url(hash: plan.runs[baseline].hash, in: study)
    let whole = try Data(contentsOf: file)
    let store = try StudyStore(directory: study, create: false)
    func status(_ i: Int) throws -> RunStatus? {
      try store.runs().first { $0.hash == plan.runs[i].hash }?.status
    }

    try whole.prefix(whole.count / 2).write(to: file)
    let refused = try runMedtransfer(["study", "merge", study.path, "--no-report"])
    XCTAssertNotEqual(refused.status, 0)
    XCTAssertTrue(refused.stderr.contains(file.path), refused.stderr)
    XCTAssertTrue(refused.stderr.contains("does not decode"), refused.stderr)
    XCTAssertEqual(try status(baseline), .pending, "a truncated file was imported")
    XCTAssertEqual(try status(index), .failed, "the whole file beside it was not imported")

    try whole.write(to: file)
    let merged = try runMedtransfer(["study", "merge", study.path, "--no-report"])
    XCTAssertEqual(merged.status, 0, merged.stderr)
    XCTAssertTrue(merged.stdout.contains("merged 1 result file(s) (1 already"), merged.stdout)
    XCTAssertEqual(try status(baseline), .finished)
    XCTAssertEqual(try status(index), .failed)
    let rows = try store.query("SELECT COUNT(*) AS n FROM run")
    let twice = try runMedtransfer(["study", "merge", study.path, "--no-report"])
    XCTAssertEqual(twice.status, 0, twice.stderr)
    XCTAssertTrue(twice.stdout.contains("merged 0 result file(s) (2 already"), twice.stdout)
    XCTAssertEqual(try store.query("SELECT COUNT(*) AS n FROM run"), rows)

    let shown = try runMedtransfer(["study", "status", study.path, "--json"])
    let json = try XCTUnwrap(
      try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(json["finished"] as? Int, 1, shown.stdout)
    XCTAssertEqual(json["failed"] as? Int, 1, shown.stdout)
    XCTAssertEqual(json["pending"] as? Int, 6, shown.stdout)
  }
}
