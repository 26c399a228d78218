import ArgumentParser
import Backbones
import Foundation
import Neural
import Randomness

#if canImport(Glibc)
  import Glibc
#endif

/// `medtransfer bench train|infer|probe`: EfficientNet-Lite throughput on random data.
enum BenchModelCommand {
  /// The model benchmarks, for the `bench` group.
  static let subcommands: [ParsableCommand.Type] = [
    BenchTrain.self, BenchInfer.self, BenchProbe.self,
  ]
}

/// What a model benchmark measures.
enum BenchMode: String {
  /// forward (BN batch statistics) + cross-entropy + backward + SGD momentum step.
  case train
  /// forward in inference mode.
  case infer
  /// frozen backbone in inference mode, the classifier trained (linear probe).
  case probe
}

/// The options shared by the three model benchmarks.
struct BenchModelOptions: ParsableArguments {
  @Option(help: "Backbone (scratch weights of this architecture; no download needed).")
  var model = "efficientnet-lite0"
  @Option(help: "Images per batch.") var batch = 32
  @Option(help: "Square input size in pixels.") var size = 224
  @Option(help: "Timed iterations (after the warm-up).") var iterations = 5
  @Option(help: "Untimed warm-up iterations (buffers are allocated here).") var warmup = 2
  @Option(
    help:
      "Kernel threads (default: every core). A study worker runs with 1 (`study run --workers N`)."
  )
  var threads: Int?
  @Flag(help: "Print one JSON document on stdout.") var json = false
  @Flag(help: "Print a per-layer time profile on stderr (adds a little overhead).") var profile =
    false

  func validate() throws {
    guard batch >= 1, size >= 32, iterations >= 1, warmup >= 0, (threads ?? 1) >= 1 else {
      throw ValidationError(
        "--batch ≥ 1, --size ≥ 32, --iterations ≥ 1, --warmup ≥ 0 and --threads ≥ 1 are required")
    }
  }
}

// JSON keys of the benchmark record (snake_case, read by scripts/bench_compare.sh).
// swift-format-ignore: AlwaysUseLowerCamelCase
struct BenchResult: Encodable {
  var mode: String
  var model: String
  var batch: Int
  var size: Int
  var iterations: Int
  var threads: Int
  var images_per_second: Double
  var seconds_per_iteration: Double
  var peak_rss_bytes: Int
  var gflop_per_second: Double
  var mmacs_per_image: Double
  /// SGEMM rate on 1024² matrices measured just before, same threads and strategy.
  var sgemm_peak_gflop_per_second: Double
  /// gflop_per_second / sgemm_peak_gflop_per_second.
  var fraction_of_sgemm_peak: Double
  /// 1-minute load average when the benchmark ended (the machine is shared).
  var load_average: Double
}

/// Peak resident set size of this process (Linux reports kilobytes).
func peakResidentBytes() -> Int {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  return Int(usage.ru_maxrss) * 1024
}

func runModelBenchmark(_ mode: BenchMode, _ o: BenchModelOptions) throws {
  if let threads = o.threads { Parallel.workers = threads }
  let weights: PretrainedWeights
  do { weights = try PretrainedRegistry.weights(named: o.model) } catch { throw cliError(error) }
  let network = EfficientNetLite(weights.configuration, seed: 1)
  let x = Tensor(shape: [o.batch, o.size, o.size, 3])
  var g = SeededGenerator(seed: 42)
  for i in 0..<x.count { x[i] = g.uniformFloat(-1, 1) }
  let labels = (0..<o.batch).map { _ in Int(g.next() % 1000) }
  let loss = SoftmaxCrossEntropy()
  let trainable = mode == .probe ? network.head.parameters : network.parameters
  let optimizer = SGD(parameters: trainable, learningRate: 0.01, momentum: 0.9)

  func step() {
    switch mode {
    case .infer:
      _ = network.forward(x, mode: .inference)
    case .train:
      optimizer.zeroGrad()
      let logits = network.forward(x, mode: .training)
      _ = loss.forward(logits: logits, labels: labels)
      _ = network.backward(loss.backward())
      optimizer.step()
    case .probe:
      optimizer.zeroGrad()
      let features = network.extractFeatures(x, mode: .inference)
      let logits = network.head.forward(features, mode: .training)
      _ = loss.forward(logits: logits, labels: labels)
      _ = network.head.backward(loss.backward())
      optimizer.step()
    }
  }

  for _ in 0..<o.warmup { step() }
  if o.profile {
    Profiler.reset()
    Profiler.enabled = true
  }
  let start = DispatchTime.now().uptimeNanoseconds
  for _ in 0..<o.iterations { step() }
  let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
  Profiler.enabled = false

  let peak = Gemm.measurePeak()
  let macs = Double(weights.configuration.multiplyAccumulates(resolution: o.size))
  // Training costs ~3 forward passes (forward, input gradients, weight gradients); the probe
  // and inference one (the probe's head is negligible).
  let passes = mode == .train ? 3.0 : 1.0
  let imagesPerSecond = Double(o.batch * o.iterations) / seconds
  let result = BenchResult(
    mode: mode.rawValue, model: weights.name, batch: o.batch, size: o.size,
    iterations: o.iterations, threads: Parallel.workers,
    images_per_second: imagesPerSecond, seconds_per_iteration: seconds / Double(o.iterations),
    peak_rss_bytes: peakResidentBytes(),
    gflop_per_second: imagesPerSecond * macs * 2 * passes / 1e9, mmacs_per_image: macs / 1e6,
    sgemm_peak_gflop_per_second: peak,
    fraction_of_sgemm_peak: imagesPerSecond * macs * 2 * passes / 1e9 / peak,
    load_average: loadAverage())
  if o.profile { printProfile(totalSeconds: seconds, peak: peak) }
  if o.json {
    print(try jsonLine(result))
  } else {
    print(
      "\(mode.rawValue) \(weights.name) batch \(o.batch) size \(o.size): "
        + String(
          format:
            "%.1f images/s, %.1f GFLOP/s (%.0f%% of SGEMM's %.0f), peak RSS %.2f GB, load %.2f",
          imagesPerSecond, result.gflop_per_second, result.fraction_of_sgemm_peak * 100, peak,
          Double(result.peak_rss_bytes) / 1e9, result.load_average))
  }
}

/// 1-minute load average (0 when unavailable).
func loadAverage() -> Double {
  var loads = [Double](repeating: 0, count: 3)
  return getloadavg(&loads, 3) > 0 ? loads[0] : 0
}

/// Per-layer-kind and slowest-layer tables on stderr, with achieved GFLOP/s per kind and its
/// share of the measured SGEMM peak.
func printProfile(totalSeconds: Double, peak: Double) {
  logLine(String(format: "profile: leaf layers by kind (SGEMM peak here %.0f GFLOP/s)", peak))
  logLine(
    "  " + "kind".padding(toLength: 36, withPad: " ", startingAt: 0)
      + "  forward s backward s   share  GFLOP/s  of peak")
  for row in Profiler.summary() {
    let share = (row.forwardSeconds + row.backwardSeconds) / totalSeconds * 100
    let rate = row.gflopPerSecond
    logLine(
      "  " + row.kind.padding(toLength: 36, withPad: " ", startingAt: 0)
        + String(format: " %9.3f %9.3f %6.1f%%", row.forwardSeconds, row.backwardSeconds, share)
        + (row.multiplyAccumulates > 0
          ? String(format: " %8.1f %7.0f%%", rate, rate / peak * 100) : ""))
  }
  logLine("profile: 15 slowest layers (forward s, backward s, GFLOP/s)")
  let leaves = Profiler.entries.filter { !$0.isContainer }
    .sorted { $0.forwardSeconds + $0.backwardSeconds > $1.forwardSeconds + $1.backwardSeconds }
  for e in leaves.prefix(15) {
    let t = e.forwardSeconds + e.backwardSeconds
    let macs = e.forwardMultiplyAccumulates + e.backwardMultiplyAccumulates
    logLine(
      "  " + e.path.padding(toLength: 40, withPad: " ", startingAt: 0) + " "
        + e.kind.padding(toLength: 36, withPad: " ", startingAt: 0)
        + String(format: " %8.3f %8.3f", e.forwardSeconds, e.backwardSeconds)
        + (macs > 0 && t > 0 ? String(format: " %8.1f", 2 * Double(macs) / t / 1e9) : ""))
  }
}

struct BenchTrain: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract:
      "Full fine-tuning step: forward (BN training) + cross-entropy + backward + SGD momentum.")
  @OptionGroup var options: BenchModelOptions
  func run() throws { try runModelBenchmark(.train, options) }
}

struct BenchInfer: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "infer", abstract: "Inference: forward pass in eval mode.")
  @OptionGroup var options: BenchModelOptions
  func run() throws { try runModelBenchmark(.infer, options) }
}

struct BenchProbe: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "probe", abstract: "Linear probe: frozen backbone (eval), classifier trained.")
  @OptionGroup var options: BenchModelOptions
  func run() throws { try runModelBenchmark(.probe, options) }
}
