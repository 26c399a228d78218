// Support: the seeded random generator, work splitting over cores (`Parallel`), SIMD load/store
// helpers and the per-layer profiler.
//
//   InitialSeeds.next()               the seed of a layer built without one (Randomness).
//   Parallel.workers                  workers for all kernels (default: online cores).
//   Parallel.forEach(n) { i in … }    runs i in 0..<n across workers (serial if workers == 1).
//   Parallel.range(i, of: n, total:)  the i-th of n near-equal slices of 0..<total.
//   Profiler.enabled / .reset() / .entries / .summary()   seconds per layer path and kind.

import Dispatch
import LinearAlgebra
import Randomness

#if canImport(Glibc)
  import Glibc
#endif

// MARK: - Random numbers

/// Seeds for layers constructed without an explicit generator: a process-wide counter, so the
/// initialisation is deterministic given the construction order. Use
/// `Layer.resetParameters(seed:)` for an explicit seed.
enum InitialSeeds {
  static var counter: UInt64 = 0x5EED
  static func next() -> SeededGenerator {
    counter &+= 1
    return SeededGenerator(seed: counter &* 0x2545_F491_4F6C_DD1D)
  }
}

/// Fills `t` with U(-bound, bound), PyTorch's default for conv/linear weights and biases
/// (`kaiming_uniform_(a=√5)` gives bound = 1/√fan_in).
func fillUniform(_ t: Tensor, bound: Float, using generator: inout SeededGenerator) {
  for i in 0..<t.count { t.data[i] = generator.uniformFloat(-bound, bound) }
}

// MARK: - Parallel work splitting

/// Splits non-GEMM kernels across cores with `DispatchQueue.concurrentPerform`.
///
/// Kernels never run while a GEMM runs (layers call them one after the other), and GEMMs are
/// split over the same workers with single-threaded OpenBLAS (`Gemm`), so nothing competes.
/// Reductions split their input into a fixed number of slices (independent of `workers`) and
/// add the partial results in slice order, so results are the same for any worker count.
public enum Parallel {
  /// Number of workers for every kernel (GEMMs too, see `Gemm`); 1 runs everything on the
  /// calling thread. Results are identical for any value (fixed reduction blocks).
  public static var workers: Int = {
    let n = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    return Swift.max(1, n)
  }()
  {
    didSet { workers = Swift.max(1, workers) }
  }

  /// Below this many elements a kernel runs on the calling thread (dispatch costs more).
  static let minimumParallelWork = 16_384

  /// Runs `body(i)` for every i in 0..<count, spread over the workers.
  @inline(__always)
  public static func forEach(_ count: Int, _ body: (Int) -> Void) {
    if count <= 1 || workers <= 1 {
      for i in 0..<count { body(i) }
    } else {
      DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }
  }

  /// Number of slices for an elementwise job over `work` elements made of `items` items.
  @inline(__always)
  static func slices(items: Int, work: Int) -> Int {
    if workers <= 1 || work < minimumParallelWork { return 1 }
    return Swift.max(1, Swift.min(items, workers * 4))
  }

  /// The `index`-th of `count` near-equal, contiguous slices of 0..<total.
  @inline(__always)
  public static func range(_ index: Int, of count: Int, total: Int) -> Range<Int> {
    (index * total / count)..<((index + 1) * total / count)
  }
}

/// Monotonic seconds.
@inline(__always) func now() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

// MARK: - Profiler

/// Accumulates wall-clock seconds per layer when enabled (containers record their children).
///
/// Paths join the names containers give their children ("_blocks.3._depthwise_conv"). Leaf
/// entries (not `Sequential`/`Residual`) add up to the time spent in kernels.
public enum Profiler {
  /// One layer's accumulated time.
  public struct Entry: Sendable {
    /// Joined child names from the outermost container.
    public var path: String
    /// The layer's `kind` ("Conv2d 1x1", "BatchNorm2d+ReLU6", …).
    public var kind: String
    /// Whether the layer contains other layers (its time includes theirs).
    public var isContainer: Bool
    public var forwardSeconds: Double = 0
    public var backwardSeconds: Double = 0
    public var forwardCalls: Int = 0
    public var backwardCalls: Int = 0
    /// Multiply-accumulates done in the recorded forward calls (convolutions and `Linear`).
    public var forwardMultiplyAccumulates: Int = 0
    /// Multiply-accumulates done in the recorded backward calls (input and weight gradients).
    public var backwardMultiplyAccumulates: Int = 0
  }

  /// Whether containers time their children. Off by default (no cost when off).
  public static var enabled = false
  static var table: [String: Int] = [:]
  static var list: [Entry] = []
  static var stack: [String] = []

  /// Forgets everything recorded.
  public static func reset() {
    table = [:]
    list = []
    stack = []
  }

  /// Every entry, in first-seen order.
  public static var entries: [Entry] { list }

  /// One kind's leaf totals.
  public struct KindTotal: Sendable {
    public var kind: String
    public var forwardSeconds: Double
    public var backwardSeconds: Double
    /// Forward + backward multiply-accumulates.
    public var multiplyAccumulates: Int
    /// Achieved GFLOP/s (2 FLOPs per multiply-accumulate) over forward + backward time.
    public var gflopPerSecond: Double {
      let t = forwardSeconds + backwardSeconds
      return t > 0 ? 2 * Double(multiplyAccumulates) / t / 1e9 : 0
    }
  }

  /// Leaf totals per kind, largest total time first.
  public static func summary() -> [KindTotal] {
    var sums: [String: KindTotal] = [:]
    for e in list where !e.isContainer {
      var s =
        sums[e.kind]
        ?? KindTotal(kind: e.kind, forwardSeconds: 0, backwardSeconds: 0, multiplyAccumulates: 0)
      s.forwardSeconds += e.forwardSeconds
      s.backwardSeconds += e.backwardSeconds
      s.multiplyAccumulates += e.forwardMultiplyAccumulates + e.backwardMultiplyAccumulates
      sums[e.kind] = s
    }
    return sums.values.sorted {
      $0.forwardSeconds + $0.backwardSeconds > $1.forwardSeconds + $1.backwardSeconds
    }
  }

  /// Times `body` as a forward leaf called `path` (for code that runs kernels outside
  /// `Sequential`, such as a model's folded inference path).
  public static func record<T>(
    path: String, kind: String, multiplyAccumulates: Int, _ body: () -> T
  ) -> T {
    let t0 = now()
    let result = body()
    let dt = now() - t0
    let index = entryIndex(path: path, kind: kind, isContainer: false)
    list[index].forwardSeconds += dt
    list[index].forwardCalls += 1
    list[index].forwardMultiplyAccumulates += multiplyAccumulates
    return result
  }

  static func entryIndex(path: String, kind: String, isContainer: Bool) -> Int {
    if let i = table[path] { return i }
    let index = list.count
    table[path] = index
    list.append(Entry(path: path, kind: kind, isContainer: isContainer))
    return index
  }

  @inline(never)
  static func measure(
    _ name: String, _ layer: Layer, backward: Bool, _ body: () -> Tensor
  ) -> Tensor {
    stack.append(name)
    let path = stack.filter { !$0.isEmpty }.joined(separator: ".")
    let t0 = now()
    let result = body()
    let dt = now() - t0
    stack.removeLast()
    let container = layer is Sequential || layer is Residual
    let index = entryIndex(path: path, kind: layer.kind, isContainer: container)
    let macs = (layer as? CostedLayer)?.lastMultiplyAccumulates(backward: backward) ?? 0
    if backward {
      list[index].backwardSeconds += dt
      list[index].backwardCalls += 1
      list[index].backwardMultiplyAccumulates += macs
    } else {
      list[index].forwardSeconds += dt
      list[index].forwardCalls += 1
      list[index].forwardMultiplyAccumulates += macs
    }
    return result
  }
}

/// A layer that can say how many multiply-accumulates its last call did (for the profiler).
protocol CostedLayer {
  func lastMultiplyAccumulates(backward: Bool) -> Int
}
