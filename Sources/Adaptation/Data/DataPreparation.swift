import Datasets
import Foundation
import Interchange
import Neural
import Randomness

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
  /// Bad rows and undecodable images: `fail` stops with one error listing them, `skip` leaves
  /// them out and lists them in `PreparedData.notes`.
  public var onBad: OnBad
  /// The VOI window (`--window`; default `auto`: chosen per image, see `Preprocessing`).
  public var window: Preprocessing.Window

  /// Creates a request.
  public init(
    source: String, domains: [String] = [], targetDomain: String? = nil,
    inputSize: Int = 128, labelsPerClass: Int? = nil, seed: Int = 0,
    splits: String = "train=0.6,val=0.2,test=0.2", domainBy: [String] = [],
    onBad: OnBad = .fail, window: Preprocessing.Window = .auto
  ) {
    self.window = window
    self.source = source
    self.domains = domains
    self.targetDomain = targetDomain
    self.inputSize = inputSize
    self.labelsPerClass = labelsPerClass
    self.seed = seed
    self.splits = splits
    self.domainBy = domainBy
    self.onBad = onBad
  }
}

/// What a preparation left out or could not know, for the caller to print once.
public struct DataNotes: Sendable {
  /// Rows skipped under `OnBad.skip`: bad manifest rows and images that failed to decode,
  /// by row number (each row once).
  public var skipped: [BadRow]
  /// `Dataset.patientWarning` of the loaded dataset (images whose patient is unknown).
  public var patientWarning: String?

  /// Notes with the skipped rows of `dataset` plus `decodeFailures`.
  init(_ dataset: Dataset, decodeFailures: [BadRow] = []) {
    var seen = Set<Int>()
    skipped = (dataset.skipped + decodeFailures).filter { seen.insert($0.row).inserted }
      .sorted { $0.row < $1.row }
    patientWarning = dataset.patientWarning
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
  /// Skipped rows and the patients-unknown warning.
  public var notes: DataNotes
  /// Which images went where (before decoding; the train set after any redraw for images that
  /// failed to decode under `skip`).
  public var plan: DataPreparation.Plan
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

  /// Which images of a dataset a run uses, before any pixel is decoded: the patient-grouped
  /// split, the label budget and the unlabelled target images.
  ///
  /// Every arm of a study, the majority-class baseline included, takes its images from this
  /// one function, so all of them train on the same budgeted subset and are scored on the same
  /// test images of the same split. (The one exception: under `skip`, an arm that finds an
  /// undecodable training image draws its budget again without it, which the baseline, reading
  /// no pixels, cannot know.)
  public struct Plan {
    /// The loaded dataset (every valid row).
    public var dataset: Dataset
    /// The split of every entry (hand-given splits kept).
    public var assignment: SplitAssignment
    /// Training images of the requested domains, after the label budget.
    public var train: [Int]
    /// Validation images of the requested domains.
    public var validation: [Int]
    /// Test images of the requested domains.
    public var test: [Int]
    /// Training-split images of the target domain, for AdaBN/CORAL (nil without one).
    public var unlabelledTarget: [Int]?

    /// SHA-256 of the sorted manifest keys of the (budgeted) training images: equal for every
    /// arm of a seed and budget, since they all take their images from `plan`.
    public var trainSHA256: String {
      sha256Hex(
        Data(
          train.map { dataset.entries[$0].key }.sorted()
            .joined(separator: "\n").utf8))
    }
  }

  /// Loads, splits and budgets what `request` asks for (no decoding); `excluding` are entries
  /// the budget must pass over (images found undecodable).
  public static func plan(_ request: DataRequest, excluding excluded: Set<Int> = []) throws
    -> Plan
  {
    let dataset = try DatasetLoader.load(
      request.source, options: DatasetLoadOptions(onBad: request.onBad, domainBy: request.domainBy))
    return try plan(request, dataset: dataset, excluding: excluded)
  }

  /// `plan` on an already loaded dataset.
  static func plan(_ request: DataRequest, dataset: Dataset, excluding excluded: Set<Int>)
    throws -> Plan
  {
    let fractions = try Splitter.parseFractions(request.splits)
    let assignment = try Splitter.split(dataset, fractions: fractions, seed: UInt64(request.seed))
    let wanted = Set(request.domains)
    func inDomain(_ i: Int) -> Bool {
      wanted.isEmpty || wanted.contains(dataset.entries[i].domain ?? "-")
    }
    var train = assignment.indices(of: "train", in: dataset).filter(inDomain)
    guard !train.isEmpty else { throw AdaptationError.emptySplit("train") }
    if let n = request.labelsPerClass {
      train = LabelBudget.perClass(n).select(
        from: train, in: dataset, seed: UInt64(request.seed), excluding: excluded)
    } else {
      train = train.filter { !excluded.contains($0) }
    }
    return Plan(
      dataset: dataset, assignment: assignment, train: train,
      validation: assignment.indices(of: "val", in: dataset).filter(inDomain),
      test: assignment.indices(of: "test", in: dataset).filter(inDomain),
      unlabelledTarget: request.targetDomain.map { d in
        assignment.indices(of: "train", in: dataset).filter { dataset.entries[$0].domain == d }
      })
  }

  /// Loads, splits, budgets and preprocesses (cached) what `request` asks for.
  ///
  /// Under `request.onBad == .skip`, an image that fails to decode is left out of its set
  /// and, in the budgeted train set, replaced by the next image of the budget's order.
  public static func prepare(_ request: DataRequest, channels: Int = 3) throws -> PreparedData {
    let dataset = try DatasetLoader.load(
      request.source, options: DatasetLoadOptions(onBad: request.onBad, domainBy: request.domainBy))
    let prep = preprocessing(
      inputSize: request.inputSize, channels: channels, window: request.window)
    let cache = try TensorCache(preprocessing: prep)
    var windows: [Preprocessing.AppliedWindow] = []
    // The budgeted train set: undecodable images found while building it are passed over and
    // the budget is drawn again without them, until every chosen image decodes.
    var failures: [BadRow] = []
    var excluded = Set<Int>()
    var planned: Plan
    var built: (set: ImageSet, kept: [Int], skipped: [BadRow])
    repeat {
      planned = try plan(request, dataset: dataset, excluding: excluded)
      built = try imageSet(
        dataset, planned.train, cache: cache, onBad: request.onBad, windows: &windows)
      failures += built.skipped
      excluded.formUnion(Set(planned.train).subtracting(built.kept))
    } while !built.skipped.isEmpty && request.labelsPerClass != nil
    let train = built.kept
    planned.train = train
    guard !train.isEmpty else { throw AdaptationError.emptySplit("train") }
    let assignment = planned.assignment
    func decoded(_ indices: [Int]) throws -> (set: ImageSet, kept: [Int])? {
      guard !indices.isEmpty else { return nil }
      let r = try imageSet(dataset, indices, cache: cache, onBad: request.onBad, windows: &windows)
      failures += r.skipped
      return r.kept.isEmpty ? nil : (r.set, r.kept)
    }
    let validation = try decoded(planned.validation)
    let test = try decoded(planned.test)
    let target = try planned.unlabelledTarget.map { try decoded($0) }
    let data = RunData(
      train: built.set, validation: validation?.set, test: test?.set,
      unlabelledTarget: target.map { $0?.set ?? emptySet(dataset, cache: cache) })
    let notes = DataNotes(dataset, decodeFailures: failures)
    let splitJSON = try JSONCoding.encoder(.canonical).encode(assignment.splitOf)
    let validationKept = validation?.kept ?? []
    let testKept = test?.kept ?? []
    let targetKept = target.map { $0?.kept ?? [] }
    var counts = ["train": train.count, "val": validationKept.count, "test": testKept.count]
    if let targetKept { counts["target"] = targetKept.count }
    let cacheKeys = (train + validationKept + testKept + (targetKept ?? [])).map {
      dataset.entries[$0].path
    }.sorted().joined(separator: "\n")
    let provenance = DataProvenance(
      source: request.source, sourceSHA256: DatasetFingerprint.source(request.source),
      domains: request.domains, targetDomain: request.targetDomain, classes: dataset.labels,
      counts: counts, splitSHA256: sha256Hex(splitJSON),
      preprocessingSHA256: prep.hash,
      preprocessing: String(
        decoding: try JSONCoding.encoder(.canonical).encode(prep), as: UTF8.self),
      cache: cache.directory, cacheSHA256: sha256Hex(Data(cacheKeys.utf8)),
      skipped: notes.skipped.isEmpty ? nil : notes.skipped,
      window: request.window.description, windows: prep.summarize(windows))
    let augmentation = Augmentation()
    let apply: (Tensor, UInt64) -> Void = { batch, seed in
      let (h, w, c) = (batch.shape[1], batch.shape[2], batch.shape[3])
      let per = h * w * c
      let scratch = UnsafeMutablePointer<Float>.allocate(capacity: per)
      defer { scratch.deallocate() }
      for i in 0..<batch.shape[0] {
        var rng = SeededGenerator(seed: seed, stream: [UInt64(i)])
        let image = batch.data + i * per
        scratch.update(from: image, count: per)
        augmentation.apply(scratch, height: h, width: w, channels: c, into: image, rng: &rng)
      }
    }
    return PreparedData(
      data: data, provenance: provenance, augmentation: apply, notes: notes, plan: planned)
  }

  /// An image set with no images (a target domain whose every image failed to decode).
  static func emptySet(_ dataset: Dataset, cache: TensorCache) -> ImageSet {
    ImageSet(
      cached: CachedImages(cache: cache, sources: [], entries: []), labels: [],
      classes: dataset.labels, domains: [], subgroups: [])
  }

  /// Every image of `source` (optionally one split of the given domains) for `evaluate`, with
  /// labels mapped onto the run's `classes`, and what was skipped under `onBad == .skip`.
  /// `preprocessing` should be the run's own (`Preprocessing.recorded` of its provenance);
  /// its size and channels are replaced by `inputSize` and `channels`. Nil: the default.
  public static func evaluationSet(
    source: String, domains: [String], split: String?,
    inputSize: Int, classes: [String], channels: Int = 3,
    splits: String = "train=0.6,val=0.2,test=0.2", seed: Int = 0,
    onBad: OnBad = .fail, preprocessing recorded: Preprocessing? = nil
  )
    throws -> (set: ImageSet, notes: DataNotes)
  {
    let dataset = try DatasetLoader.load(
      source, options: DatasetLoadOptions(onBad: onBad, labels: classes))
    var indices = Array(dataset.entries.indices)
    if let split {
      let assignment = try Splitter.split(
        dataset, fractions: try Splitter.parseFractions(splits),
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
    let built = try imageSet(dataset, indices, cache: cache, onBad: onBad)
    guard !built.kept.isEmpty else { throw AdaptationError.emptySplit(split ?? "all") }
    let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
    var set = built.set
    set.labels = built.kept.map { index[dataset.entries[$0].label]! }
    set.classes = classes
    return (set, DataNotes(dataset, decodeFailures: built.skipped))
  }

  /// The preprocessed images of `indices`, with domains and (from DICOM headers) sex and age
  /// band subgroups.
  ///
  /// An image that fails to decode is a bad row (`undecodable`): under `.fail` every such row
  /// of the set is listed in one `DatasetsError.badRows`; under `.skip` it is left out (labels,
  /// domains and subgroups stay aligned with the images) and returned in `skipped`. `kept` are
  /// the indices of the images in the set, in order.
  public static func imageSet(
    _ dataset: Dataset, _ indices: [Int], cache: TensorCache,
    onBad: OnBad = .fail
  ) throws
    -> (set: ImageSet, kept: [Int], skipped: [BadRow])
  {
    var windows: [Preprocessing.AppliedWindow] = []
    return try imageSet(dataset, indices, cache: cache, onBad: onBad, windows: &windows)
  }

  /// `imageSet`, appending the window each kept image got to `windows`.
  static func imageSet(
    _ dataset: Dataset, _ indices: [Int], cache: TensorCache, onBad: OnBad,
    windows: inout [Preprocessing.AppliedWindow]
  ) throws -> (set: ImageSet, kept: [Int], skipped: [BadRow]) {
    var kept: [Int] = []
    var entries: [String] = []
    var skipped: [BadRow] = []
    var subgroups: [[String]] = []
    for i in indices {
      let entry = dataset.entries[i]
      let image: MappedImage
      do { image = try cache.image(path: entry.path) } catch let error as DatasetsError {
        // Only a file that cannot be read or decoded is a bad row; a cache that cannot be
        // written is not the data's fault.
        guard case .decode = error else { throw error }
        skipped.append(BadRow(undecodable: entry, error: error))
        continue
      }
      if let window = image.window { windows.append(window) }
      entries.append(image.entry)
      kept.append(i)
      subgroups.append(Self.subgroups(of: entry))
    }
    if !skipped.isEmpty && onBad == .fail {
      throw DatasetsError.badRows(path: dataset.source, rows: skipped)
    }
    let labels = dataset.labelIndices
    let set = ImageSet(
      cached: CachedImages(
        cache: cache, sources: kept.map { dataset.entries[$0].path }, entries: entries),
      labels: kept.map { labels[$0] }, classes: dataset.labels,
      domains: kept.map { dataset.entries[$0].domain ?? "-" },
      subgroups: subgroups)
    return (set, kept, skipped)
  }

  /// The subgroups of one image from its DICOM header (`sex=F`, `age=40-59`); none for files
  /// without those attributes.
  public static func subgroups(of entry: DatasetEntry) -> [String] {
    var groups: [String] = []
    if let header = try? ScanLoader.attributes(
      path: entry.path,
      names: ["PatientSex", "PatientAge"]
    ).values {
      if let sex = header["PatientSex"], !sex.isEmpty { groups.append("sex=\(sex)") }
      if let age = header["PatientAge"].flatMap(ageYears) { groups.append("age=\(ageBand(age))") }
    }
    return groups
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

}
