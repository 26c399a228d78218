import Foundation

/// Progress on stderr: one line per finished run, plus a bar with the ETA (redrawn in place on
/// a terminal, printed after each run line otherwise).
public final class ProgressPrinter {
  private let write: (String) -> Void
  private let isTerminal: Bool
  private var total = 0
  private var done = 0
  private var toRun = 0
  private var ranThisTime = 0
  private var secondsThisTime = 0.0
  private var startedAt = Date()
  private var barShown = false

  /// `write` receives text including newlines (default: stderr).
  public init(
    write: @escaping (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) },
    isTerminal: Bool = isatty(2) == 1
  ) {
    self.write = write
    self.isTerminal = isTerminal
  }

  func start(total: Int, alreadyDone: Int, toRun: Int) {
    self.total = total
    self.done = alreadyDone
    self.toRun = toRun
    startedAt = Date()
    line(
      "study: \(total) runs, \(alreadyDone) already in the store, \(toRun) to run")
    bar()
  }

  func epoch(_ config: RunConfig, _ epoch: EpochRecord, of epochs: Int) {
    guard isTerminal else { return }
    let metric = epoch.valMetric.map { String(format: " val %.3f", $0) } ?? ""
    clearBar()
    write(
      "\r  \(config.label): epoch \(epoch.epoch)/\(epochs)\(metric) \(Self.duration(epoch.wallSeconds))"
    )
    barShown = true
  }

  func runFinished(_ config: RunConfig, result: RunResult, metric: MetricName, seconds: Double) {
    ranThisTime += 1
    secondsThisTime += seconds
    done += 1
    let value = result.target.value(metric).map { String(format: "%.3f", $0) } ?? "—"
    let acc = String(format: "%.3f", result.target.accuracy)
    line(
      "[\(pad(done))/\(total)] \(config.label): target \(metric.title) \(value) "
        + "(accuracy \(acc)) in \(Self.duration(seconds))")
    bar()
  }

  func runFailed(_ config: RunConfig, error: String, seconds: Double) {
    ranThisTime += 1
    secondsThisTime += seconds
    done += 1
    line(
      "[\(pad(done))/\(total)] \(config.label): FAILED after \(Self.duration(seconds)): \(error)")
    bar()
  }

  func log(_ text: String) { line(text) }

  func finish(_ summary: StudyRunner.Summary) {
    clearBar()
    var parts = ["\(summary.finished) finished", "\(summary.skipped) reused from the store"]
    if summary.failed > 0 { parts.append("\(summary.failed) failed") }
    if summary.previouslyFailed > 0 {
      parts.append("\(summary.previouslyFailed) failed earlier (rerun with --retry-failed)")
    }
    write(
      "study done in \(Self.duration(Date().timeIntervalSince(startedAt))): "
        + parts.joined(separator: ", ") + "\n")
  }

  private func pad(_ n: Int) -> String {
    let width = String(total).count
    return String(repeating: " ", count: max(0, width - String(n).count)) + String(n)
  }

  private func line(_ text: String) {
    clearBar()
    write(text + "\n")
  }

  private func clearBar() {
    if isTerminal && barShown {
      write("\r\u{1B}[2K")
      barShown = false
    }
  }

  private func bar() {
    let width = 30
    let fraction = total == 0 ? 1 : Double(done) / Double(total)
    let filled = Int((fraction * Double(width)).rounded(.down))
    let remaining = total - done
    var eta = "ETA —"
    if ranThisTime > 0 {
      eta = "ETA " + Self.duration(secondsThisTime / Double(ranThisTime) * Double(remaining))
    } else if remaining == 0 {
      eta = "ETA 0s"
    }
    let text =
      "[" + String(repeating: "#", count: filled)
      + String(repeating: "-", count: width - filled) + "] \(done)/\(total) "
      + String(format: "%3.0f%%", fraction * 100) + " · elapsed "
      + Self.duration(Date().timeIntervalSince(startedAt)) + " · \(eta)"
    if isTerminal {
      write("\r" + text)
      barShown = true
    } else {
      write(text + "\n")
    }
  }

  /// "42s", "3m05s", "1h02m".
  public static func duration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "—" }
    if seconds < 10 { return String(format: "%.1fs", seconds) }
    let s = Int(seconds.rounded())
    if s < 60 { return "\(s)s" }
    if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
  }
}
