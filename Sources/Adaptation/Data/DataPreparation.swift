import Datasets
import Foundation
import Neural

/// What data a training run asks for (the `medtransfer train` data options).
public struct DataRequest: Codable, Hashable, Sendable {
  /// Manifest CSV, image folder or DICOM tree (Datasets' loader decides).
  public var source: String
  /// Domains trained and tested on (empty: all).
  public var domains: [String]
  /// The unlabelled target domain (its train-split images feed AdaBN/CORAL).
  public var targetDomain: String?
  /// Square input size.
  public var inputSize: Int
  /// Labels per class from the train split (nested budgets); nil: all.
  public var labelsPerClass: Int?
  /// Seed of the split and the budget.
  public var seed: Int
  /// Split fractions, e.g. `train=0.6,val=0.2,test=0.2` (hand-given splits are kept).
  public var splits: String
  /// Header attributes defining the domain (empty: the manifest's `domain` column).
  public var domainBy: [String]
  /// The VOI window (`--window`; default `auto`: chosen per image, see `Preprocessing`).
  public var window: Preprocessing.Window

  /// Creates a request.
  public init(source: String, domains: [String] = [], targetDomain: String? = nil,
              inputSize: Int = 128, labelsPerClass: Int? = nil, seed: Int = 0,
              splits: String = "train=0.6,val=0.2,test=0.2", domainBy: [String] = [],
              window: Preprocessing.Window = .auto) {
    self.window = window
    self.source = source
    self.domains = domains
    self.targetDomain = targetDomain
    self.inputSize = inputSize
    self.labelsPerClass = labelsPerClass
    self.seed = seed
    self.splits = splits
    self.domainBy = domainBy
  }
}

/// A run's data ready for the trainer, and where it came from.
public struct PreparedData {
  /// Train (budgeted) / validation / test of the requested domains, plus unlabelled target.
  public var data: RunData
  /// Hashes and counts for `config.json`.
  public var provenance: DataProvenance
  /// Seeded in-place augmentation of a training batch (Datasets' default augmentation).
  public var augmentation: ((Tensor, UInt64) -> Void)?
}

/// Turns a Datasets manifest into `ImageSet`s through Datasets' preprocessing and tensor cache.
public enum DataPreparation {
  /// The preprocessing used for `inputSize` and `channels`: `window` (default `auto`: the
  /// file's own VOI window, else a modality-aware default; MONOCHROME1 radiographs inverted),
  /// resample, `(v/255 − 0.5)/0.5` (EfficientNet-Lite's ImageNet normalisation).
  public static func preprocessing(
    inputSize: Int, channels: Int, window: Preprocessing.Window = .auto
  ) -> Preprocessing {
    Preprocessing(window: window, size: inputSize, channels: channels)
  }

  /// Loads, splits, budgets and preprocesses (cached) what `request` asks for.
  public static func prepare(_ request: DataRequest, channels: Int = 3) throws -> PreparedData {
    let dataset = try DatasetLoader.load(request.source,
                                         options: DatasetLoadOptions(domainBy: request.domainBy))
    let fractions = try Splitter.parseFractions(request.splits)
    let assignment = try Splitter.split(dataset, fractions: fractions, seed: UInt64(request.seed))
    let wanted = Set(request.domains)
    func inDomain(_ i: Int) -> Bool {
      wanted.isEmpty || wanted.contains(dataset.entries[i].domain ?? "-")
    }
    var train = assignment.indices(of: "train", in: dataset).filter(inDomain)
    let validation = assignment.indices(of: "val", in: dataset).filter(inDomain)
    let test = assignment.indices(of: "test", in: dataset).filter(inDomain)
    guard !train.isEmpty else { throw AdaptationError.emptySplit("train") }
    if let n = request.labelsPerClass {
      train = LabelBudget.perClass(n).select(from: train, in: dataset, seed: UInt64(request.seed))
    }
    let target = request.targetDomain.map { d in
      assignment.indices(of: "train", in: dataset).filter { dataset.entries[$0].domain == d }
    }
    let prep = preprocessing(
      inputSize: request.inputSize, channels: channels, window: request.window)
    let cache = try TensorCache(preprocessing: prep)
    var windows: [Preprocessing.AppliedWindow] = []
    let trainSet = try imageSet(dataset, train, cache: cache, windows: &windows)
    let data = RunData(
      train: trainSet,
      validation: validation.isEmpty
        ? nil : try imageSet(dataset, validation, cache: cache, windows: &windows),
      test: test.isEmpty ? nil : try imageSet(dataset, test, cache: cache, windows: &windows),
      unlabelledTarget: try target.map {
        try imageSet(dataset, $0, cache: cache, windows: &windows)
      })
    let splitJSON = try JSONEncoder.sorted.encode(assignment.splitOf)
    var counts = ["train": train.count, "val": validation.count, "test": test.count]
    if let target { counts["target"] = target.count }
    let cacheKeys = (train + validation + test + (target ?? [])).map {
      dataset.entries[$0].path
    }.sorted().joined(separator: "\n")
    let provenance = DataProvenance(
      source: request.source, sourceSHA256: try sourceHash(request.source),
      domains: request.domains, targetDomain: request.targetDomain, classes: dataset.labels,
      counts: counts, splitSHA256: Datasets.sha256Hex(splitJSON),
      preprocessingSHA256: prep.hash,
      preprocessing: String(decoding: try JSONEncoder.sorted.encode(prep), as: UTF8.self),
      cache: cache.directory, cacheSHA256: Datasets.sha256Hex(Data(cacheKeys.utf8)),
      window: request.window.description, windows: prep.summarize(windows))
    let augmentation = Augmentation()
    let apply: (Tensor, UInt64) -> Void = { batch, seed in
      let (h, w, c) = (batch.shape[1], batch.shape[2], batch.shape[3])
      let per = h * w * c
      let scratch = UnsafeMutablePointer<Float>.allocate(capacity: per)
      defer { scratch.deallocate() }
      for i in 0..<batch.shape[0] {
        var rng = Datasets.SeededGenerator(seed: seed, stream: [UInt64(i)])
        let image = batch.data + i * per
        scratch.update(from: image, count: per)
        augmentation.apply(scratch, height: h, width: w, channels: c, into: image, rng: &rng)
      }
    }
    return PreparedData(data: data, provenance: provenance, augmentation: apply)
  }

  /// Every image of `source` (optionally one split of the given domains) for `evaluate`, with
  /// labels mapped onto the run's `classes`.
  /// `preprocessing` should be the run's own (`Preprocessing.recorded` of its provenance);
  /// its size and channels are replaced by `inputSize` and `channels`. Nil: the default.
  public static func evaluationSet(source: String, domains: [String], split: String?,
                                   inputSize: Int, classes: [String], channels: Int = 3,
                                   splits: String = "train=0.6,val=0.2,test=0.2", seed: Int = 0,
                                   preprocessing recorded: Preprocessing? = nil)
    throws -> ImageSet
  {
    let dataset = try DatasetLoader.load(source, options: DatasetLoadOptions(labels: classes))
    var indices = Array(dataset.entries.indices)
    if let split {
      let assignment = try Splitter.split(dataset, fractions: try Splitter.parseFractions(splits),
                                          seed: UInt64(seed))
      indices = assignment.indices(of: split, in: dataset)
    }
    if !domains.isEmpty {
      indices = indices.filter { domains.contains(dataset.entries[$0].domain ?? "-") }
    }
    guard !indices.isEmpty else { throw AdaptationError.emptySplit(split ?? "all") }
    var prep = recorded ?? preprocessing(inputSize: inputSize, channels: channels)
    prep.size = inputSize
    prep.channels = channels
    let cache = try TensorCache(preprocessing: prep)
    var set = try imageSet(dataset, indices, cache: cache)
    let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
    set.labels = indices.map { index[dataset.entries[$0].label]! }
    set.classes = classes
    return set
  }

  /// The preprocessed images of `indices`, with domains and (from DICOM headers) sex and age
  /// band subgroups.
  public static func imageSet(_ dataset: Dataset, _ indices: [Int], cache: TensorCache) throws
    -> ImageSet
  {
    var windows: [Preprocessing.AppliedWindow] = []
    return try imageSet(dataset, indices, cache: cache, windows: &windows)
  }

  /// `imageSet`, appending the window each image got to `windows`.
  static func imageSet(
    _ dataset: Dataset, _ indices: [Int], cache: TensorCache,
    windows: inout [Preprocessing.AppliedWindow]
  ) throws -> ImageSet {
    let p = cache.preprocessing
    let t = Tensor(shape: [indices.count, p.size, p.size, p.channels])
    var subgroups: [[String]] = []
    for (row, i) in indices.enumerated() {
      let entry = dataset.entries[i]
      let image = try cache.image(path: entry.path)
      (t.data + row * p.valuesPerImage).update(from: image.values, count: p.valuesPerImage)
      if let window = image.window { windows.append(window) }
      var groups: [String] = []
      if let header = try? ScanLoader.attributes(path: entry.path,
                                                 names: ["PatientSex", "PatientAge"]).values {
        if let sex = header["PatientSex"], !sex.isEmpty { groups.append("sex=\(sex)") }
        if let age = header["PatientAge"].flatMap(ageYears) { groups.append("age=\(ageBand(age))") }
      }
      subgroups.append(groups)
    }
    let labels = dataset.labelIndices
    return ImageSet(images: t, labels: indices.map { labels[$0] }, classes: dataset.labels,
                    domains: indices.map { dataset.entries[$0].domain ?? "-" },
                    subgroups: subgroups)
  }

  /// DICOM AgeString `nnnY` (or M/W/D) in years.
  static func ageYears(_ text: String) -> Int? {
    guard let unit = text.last, let n = Int(text.dropLast()) else { return Int(text) }
    switch unit {
    case "Y": return n
    case "M": return n / 12
    case "W": return n / 52
    case "D": return n / 365
    default: return nil
    }
  }

  /// 20-year bands: `0-19`, `20-39`, … `80+`.
  static func ageBand(_ years: Int) -> String {
    years >= 80 ? "80+" : "\(years / 20 * 20)-\(years / 20 * 20 + 19)"
  }

  static func sourceHash(_ path: String) throws -> String {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
       let data = try? Data(contentsOf: URL(fileURLWithPath: path)) {
      return Datasets.sha256Hex(data)
    }
    let files = (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? []).sorted()
    return Datasets.sha256Hex(Data(files.joined(separator: "\n").utf8))
  }
}

extension JSONEncoder {
  static var sorted: JSONEncoder {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    return e
  }
}
