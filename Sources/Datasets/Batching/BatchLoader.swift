import Dispatch
import Foundation
import Neural
import Randomness

/// One mini-batch: images as an NHWC tensor, their class indices and sample positions.
public struct Batch {
  /// (N, H, W, C) Float32. Valid until the next call to `next()` on its epoch (buffers are
  /// recycled, ARCHITECTURE.md "Numerical conventions").
  public let images: Tensor
  /// Class index per image.
  public let labels: [Int]
  /// The sample positions (into the loader's `samples`) in this batch.
  public let samples: [Int]
}

/// Turns samples into NHWC batches, with a background producer thread that prepares the next
/// batches while the trainer computes.
///
/// The order is a permutation drawn from (seed, epoch), and each sample's augmentation draws
/// from (seed, epoch, sample), so batches are identical whatever the timing of the threads.
public final class BatchLoader: @unchecked Sendable {
  /// Number of samples.
  public let count: Int
  /// Images per batch.
  public let batchSize: Int
  /// Shuffle every epoch.
  public let shuffle: Bool
  /// Drop the last incomplete batch.
  public let dropLast: Bool
  /// Base seed.
  public let seed: UInt64
  /// Augmentation applied to each sample, or nil.
  public let augmentation: Augmentation?
  /// Batches prepared ahead of the consumer.
  public let prefetch: Int
  let labels: [Int]
  let image: (Int) throws -> MappedImage

  /// - Parameters:
  ///   - labels: class index of each sample.
  ///   - image: returns the preprocessed image of sample `i` (e.g. from a `TensorCache`); called
  ///     from the producer thread.
  public init(
    labels: [Int], batchSize: Int, shuffle: Bool, seed: UInt64, augmentation: Augmentation? = nil,
    dropLast: Bool = false, prefetch: Int = 2, image: @escaping (Int) throws -> MappedImage
  ) {
    precondition(batchSize > 0, "BatchLoader needs a positive batch size.")
    precondition(prefetch >= 1, "BatchLoader needs prefetch >= 1.")
    self.count = labels.count
    self.labels = labels
    self.batchSize = batchSize
    self.shuffle = shuffle
    self.seed = seed
    self.augmentation = augmentation
    self.dropLast = dropLast
    self.prefetch = prefetch
    self.image = image
  }

  /// Convenience: samples are dataset entries read through a tensor cache.
  public convenience init(
    dataset: Dataset, indices: [Int], cache: TensorCache, batchSize: Int, shuffle: Bool,
    seed: UInt64, augmentation: Augmentation? = nil, dropLast: Bool = false, prefetch: Int = 2
  ) {
    let all = dataset.labelIndices
    let paths = indices.map { dataset.entries[$0].path }
    self.init(
      labels: indices.map { all[$0] }, batchSize: batchSize, shuffle: shuffle, seed: seed,
      augmentation: augmentation, dropLast: dropLast, prefetch: prefetch
    ) { try cache.image(path: paths[$0]) }
  }

  /// Number of batches per epoch.
  public var batchesPerEpoch: Int {
    dropLast ? count / batchSize : (count + batchSize - 1) / batchSize
  }

  /// The sample order of `epoch`.
  public func order(epoch: Int) -> [Int] {
    var order = Array(0..<count)
    if shuffle {
      var rng = SeededGenerator(seed: seed, stream: [UInt64(epoch), 0x4F52])
      rng.shuffle(&order)
    }
    return order
  }

  /// Starts producing the batches of `epoch` in the background.
  public func epoch(_ epoch: Int) -> Epoch { Epoch(loader: self, epoch: epoch) }

  /// Fills `tensor` with the given samples (shape set to (n, H, W, C)).
  func fill(_ tensor: Tensor, samples: [Int], epoch: Int) throws {
    var shapeSet = false
    for (k, s) in samples.enumerated() {
      let img = try image(s)
      let per = img.count
      if !shapeSet {
        tensor.reshape([samples.count, img.height, img.width, img.channels])
        shapeSet = true
      }
      guard tensor.count == samples.count * per else {
        throw DatasetsError.decode(
          path: "sample \(s)", cause: "image size differs from the batch's first image")
      }
      let out = tensor.data + k * per
      if let aug = augmentation {
        var rng = SeededGenerator(seed: seed, stream: [UInt64(epoch), UInt64(s), 0x4147])
        aug.apply(
          img.values, height: img.height, width: img.width, channels: img.channels, into: out,
          rng: &rng)
      } else {
        out.update(from: img.values, count: per)
      }
    }
  }

  /// The batches of one epoch; iterate with `next()`.
  public final class Epoch: @unchecked Sendable {
    private final class State: @unchecked Sendable {
      let lock = NSLock()
      let filled = DispatchSemaphore(value: 0)
      let free: DispatchSemaphore
      var results: [Int: Result<Batch, Error>] = [:]
      var cancelled = false
      init(buffers: Int) { free = DispatchSemaphore(value: buffers) }
    }

    private let state: State
    private let total: Int
    private var nextIndex = 0
    private var holding = false

    init(loader: BatchLoader, epoch: Int) {
      let order = loader.order(epoch: epoch)
      let total = loader.batchesPerEpoch
      self.total = total
      let buffers = loader.prefetch + 1
      let state = State(buffers: buffers)
      self.state = state
      let tensors = (0..<buffers).map { _ in Tensor(shape: [0]) }
      let thread = Thread {
        for b in 0..<total {
          state.free.wait()
          state.lock.lock()
          let stop = state.cancelled
          state.lock.unlock()
          if stop { return }
          let samples = Array(
            order[(b * loader.batchSize)..<min((b + 1) * loader.batchSize, order.count)])
          let tensor = tensors[b % buffers]
          let result: Result<Batch, Error>
          do {
            try loader.fill(tensor, samples: samples, epoch: epoch)
            result = .success(
              Batch(images: tensor, labels: samples.map { loader.labels[$0] }, samples: samples))
          } catch {
            result = .failure(error)
          }
          state.lock.lock()
          state.results[b] = result
          state.lock.unlock()
          state.filled.signal()
        }
      }
      thread.name = "medtransfer.prefetch"
      thread.start()
    }

    deinit {
      state.lock.lock()
      state.cancelled = true
      state.lock.unlock()
      for _ in 0...total { state.free.signal() }
    }

    /// The next batch, or nil at the end of the epoch. The previous batch's tensor is recycled.
    public func next() throws -> Batch? {
      if holding {
        state.free.signal()
        holding = false
      }
      guard nextIndex < total else { return nil }
      state.filled.wait()
      state.lock.lock()
      let result = state.results.removeValue(forKey: nextIndex)!
      state.lock.unlock()
      nextIndex += 1
      holding = true
      return try result.get()
    }
  }
}
