import Adaptation
import ArgumentParser
import Datasets
import Foundation
import Interchange
import Metrics
import Reports

/// `medtransfer shift`: how different is the target data from the source, and will a
/// pretrained backbone transfer to it.
struct ShiftCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "shift",
    abstract:
      "Measure the domain shift between two datasets (features, intensities, headers, labels).",
    discussion: """
      DATASET is a manifest CSV, a folder holding manifest.csv, an ImageFolder tree or a DICOM \
      tree with --labels-csv (as in `medtransfer dataset summary`). When one manifest holds both \
      sides, pick them with --source-domain/--target-domain (and/or --source-split/--target-split \
      over patient-grouped splits, e.g. --splits a=0.5,b=0.5 for two disjoint halves of a site). \
      Prints MMD² with a permutation p-value, proxy A-distance, Fréchet and CORAL distances with \
      bootstrap intervals, per-image intensity KS/Wasserstein and pooled histograms, the \
      acquisition-header table, label-prior shift, Holm-corrected tests, a 2-D embedding, and \
      LogME of every cached backbone plus a random-init baseline on the target labels.
      """)

  @Option(name: .long, help: "Source dataset (manifest CSV, ImageFolder or DICOM tree).")
  var source: String

  @Option(
    name: .long, help: "Target dataset (default: the source dataset; then pick domains or splits).")
  var target: String?

  @OptionGroup var loading: DatasetSourceOptions

  @Option(name: .customLong("source-domain"), help: "Only this domain of the source dataset.")
  var sourceDomain: String?

  @Option(name: .customLong("target-domain"), help: "Only this domain of the target dataset.")
  var targetDomain: String?

  @Option(name: .customLong("source-split"), help: "Only this split of the source dataset.")
  var sourceSplit: String?

  @Option(name: .customLong("target-split"), help: "Only this split of the target dataset.")
  var targetSplit: String?

  @Option(
    name: .long,
    help: "Split fractions for --source-split/--target-split (hand-given splits are kept).")
  var splits: String = "train=0.6,val=0.2,test=0.2"

  @Option(
    name: .customLong("max-images"),
    help: "At most N images per side (even stride over the manifest order).")
  var maxImages: Int?

  @Option(name: .long, help: "Backbone whose pooled features are compared.")
  var model: String = "efficientnet-lite0"

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Run folder of `medtransfer train`: compare that trained network's features (at its input size) instead of --model's ImageNet features.",
      valueName: "run-folder"))
  var checkpoint: String?

  @Flag(
    name: .customLong("permute-within-labels"),
    help:
      "MMD permutations exchange images (or patients) only within a class label: for samples drawn per class (balanced designs), where the plain test is conservative."
  )
  var permuteWithinLabels = false

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Layer whose globally pooled output is compared: stem, stage1 … stage7, head_conv (the penultimate features), or softmax (a --checkpoint's class probabilities: black-box shift detection).",
      valueName: "layer"))
  var layer: String = "head_conv"

  @Option(name: .customLong("input-size"), help: "Square network input size in pixels.")
  var inputSize: Int = 128

  @Option(
    name: .long, parsing: .unconditional,
    help: ArgumentHelp(
      "Input window: auto (the file's own VOI window, else a CT preset by body part, else the image's 0.5–99.5 percentiles), file[:C,W], C,W or pLOW,HIGH; with --checkpoint the run's own by default.",
      valueName: "window"))
  var window: String?

  @Option(name: .long, help: "MMD permutations B (p = (1 + #≥)/(1 + B)).")
  var permutations: Int = 1000

  @Option(
    name: .long, help: "Bootstrap replicates for the MMD, PAD, intensity and label intervals.")
  var bootstrap: Int = 1000

  @Option(
    name: .customLong("covariance-bootstrap"),
    help: "Bootstrap replicates for the Fréchet and CORAL intervals (each needs an eigenproblem).")
  var covarianceBootstrap: Int = 50

  @Option(name: .long, help: "2-D embedding: pca, tsne (exact, seeded; slower) or none.")
  var embedding: String = "pca"

  @Option(
    name: .long, help: "Seed of permutations, bootstrap, splits and the random-init baseline.")
  var seed: UInt64 = 0

  @Flag(
    name: .customLong("no-logme"),
    help: "Skip LogME of the other backbones and the random-init baseline.")
  var noLogME = false

  @Option(
    name: .customLong("logme-images"),
    help: "LogME on about this many target images (every backbone on the same ones).")
  var logMEImages: Int = 500

  @Option(name: .long, help: "Write an SVG scatter of the 2-D embedding here.")
  var plot: String?

  @Flag(name: .long, help: "Print one JSON document on stdout (logs go to stderr).")
  var json = false

  /// Argument checks as one-line errors (ArgumentParser's `validate` would add the usage).
  func checkArguments() throws {
    guard inputSize >= 32 && inputSize <= 1024 else {
      throw CLIError("--input-size \(inputSize): must be 32…1024 pixels; 128 is the default")
    }
    guard permutations >= 0, bootstrap >= 0, covarianceBootstrap >= 0 else {
      throw CLIError("--permutations/--bootstrap/--covariance-bootstrap must be ≥ 0")
    }
    guard ["pca", "tsne", "none"].contains(embedding) else {
      throw CLIError("--embedding '\(embedding)': must be pca, tsne or none")
    }
    guard logMEImages >= 2 else {
      throw CLIError("--logme-images \(logMEImages): must be at least 2")
    }
    if let maxImages, maxImages < 2 {
      throw CLIError("--max-images \(maxImages): must be at least 2")
    }
    guard ShiftSampleExtractor.comparableLayers.contains(layer) else {
      throw CLIError(
        "--layer '\(layer)': no such layer; choose one of "
          + ShiftSampleExtractor.comparableLayers.joined(separator: ", "))
    }
    if layer == "softmax" && checkpoint == nil {
      throw CLIError(
        "--layer softmax: class probabilities need a trained head; add --checkpoint RUN_FOLDER")
    }
    if plot != nil && embedding == "none" {
      throw CLIError("--plot needs an embedding; drop --embedding none")
    }
    if let window { _ = try parseWindowOption(window) }
  }

  func run() throws {
    try checkArguments()
    let clock = Date()
    let log: (String) -> Void = { line in
      FileHandle.standardError.write(Data(("shift: " + line + "\n").utf8))
    }
    do {
      let options = try loading.loadOptions()
      let sourceSet = try DatasetLoader.load(source, options: options)
      let targetPath = target ?? source
      let targetSet =
        targetPath == source
        ? sourceSet : try DatasetLoader.load(targetPath, options: options)
      for (path, set) in targetPath == source
        ? [(source, sourceSet)] : [(source, sourceSet), (targetPath, targetSet)]
      {
        printDataNotes(skipped: set.skipped, patientWarning: set.patientWarning, source: path)
      }
      let s = try select(
        sourceSet, path: source, domain: sourceDomain, split: sourceSplit, flag: "source")
      let t = try select(
        targetSet, path: targetPath, domain: targetDomain, split: targetSplit, flag: "target")
      let sourcePaths = Set(s.indices.map { sourceSet.entries[$0].path })
      let shared = t.indices.filter { sourcePaths.contains(targetSet.entries[$0].path) }.count
      if shared > 0 {
        throw CLIError(
          "\(shared) image(s) are on both sides (source \(s.name), target \(t.name)); the tests "
            + "need disjoint samples: pick different --source-domain/--target-domain or "
            + "--source-split/--target-split")
      }
      log(
        "source \(s.name): \(s.indices.count) images; target \(t.name): \(t.indices.count) images")
      let analysis = ShiftAnalysis.Options(
        permutations: permutations, bootstrapReplicates: bootstrap,
        covarianceBootstrapReplicates: covarianceBootstrap, projection: embedding != "none",
        embeddingMethod: embedding == "tsne" ? "tsne" : "pca", seed: seed,
        permuteWithinLabels: permuteWithinLabels)
      var request = FeatureShiftRun.Request(
        source: s, target: t, sourceSide: (source, sourceDomain, sourceSplit),
        targetSide: (targetPath, targetDomain, targetSplit), model: model,
        inputSize: inputSize, options: analysis, transferability: !noLogME, seed: seed,
        logMEImages: logMEImages)
      request.checkpoint = checkpoint
      request.layer = layer
      request.window = try window.map(parseWindowOption)
      let (document, undecodable) = try FeatureShiftRun.run(
        request, onBad: options.onBad, log: log)
      for (path, rows) in undecodable.sorted(by: { $0.key < $1.key }) {
        printDataNotes(skipped: rows, patientWarning: nil, source: path)
      }
      if let plot {
        guard let e = document.analysis.embedding else {
          throw CLIError("--plot \(plot): no embedding was computed")
        }
        let svg = EmbeddingChart.svg(
          e, sourceName: s.name, targetName: t.name,
          title: "\(document.model) \(layer) features: \(s.name) vs \(t.name)")
        do {
          try svg.write(to: URL(fileURLWithPath: plot), atomically: true, encoding: .utf8)
        } catch {
          throw CLIError("--plot \(plot): cannot write the SVG (\(error.localizedDescription))")
        }
        log("wrote \(plot)")
      }
      log(String(format: "done in %.1f s", Date().timeIntervalSince(clock)))
      if json {
        let data = try JSONCoding.encoder().encode(document)
        print(String(decoding: data, as: UTF8.self))
      } else {
        print(Self.text(document))
      }
    } catch let error as CLIError {
      throw error
    } catch let error as ValidationError {
      throw error
    } catch let error as CustomStringConvertible {
      throw CLIError(error.description)
    }
  }

  /// The entries of `dataset` in `domain` and `split`, limited to --max-images.
  func select(
    _ dataset: Dataset, path: String, domain: String?, split: String?, flag: String
  ) throws -> ShiftSample {
    var indices = Array(dataset.entries.indices)
    if let domain {
      let domains = Set(dataset.entries.compactMap(\.domain))
      guard domains.contains(domain) else {
        throw CLIError(
          "--\(flag)-domain '\(domain)': not a domain of \(path) (domains: "
            + "\(domains.sorted().joined(separator: ", ")))\(domains.isEmpty ? "; add a domain column or --domain-by" : "")"
        )
      }
      indices = indices.filter { dataset.entries[$0].domain == domain }
    }
    if let split {
      let fractions = try Splitter.parseFractions(splits)
      guard
        fractions.contains(where: { $0.name == split })
          || dataset.entries.contains(where: { $0.split == split })
      else {
        throw CLIError(
          "--\(flag)-split '\(split)': not a split of --splits \(splits); name one of "
            + fractions.map(\.name).joined(separator: ", "))
      }
      let assignment = try Splitter.split(dataset, fractions: fractions, seed: seed)
      let members = Set(assignment.indices(of: split, in: dataset))
      indices = indices.filter { members.contains($0) }
    }
    guard indices.count >= 2 else {
      throw CLIError(
        "--\(flag) \(path): \(indices.count) image(s) selected; the analysis needs at least 2 per side"
      )
    }
    var name = domain ?? (URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent)
    if let split { name += " (\(split))" }
    return ShiftSample(name: name, dataset: dataset, indices: indices).limited(to: maxImages)
  }

  /// The human-readable summary.
  static func text(_ d: ShiftDocument) -> String {
    let r = d.analysis
    func g(_ v: Double) -> String { String(format: "%.4g", v) }
    func ci(_ i: ConfidenceInterval?) -> String {
      i.map { " [\(g($0.lower)), \(g($0.upper))]" } ?? ""
    }
    func pad(_ s: String, _ n: Int) -> String {
      s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0)
    }
    var lines = [
      "\(d.source.name) (\(d.source.images) images) vs \(d.target.name) (\(d.target.images) images), "
        + "\(d.model) \(d.layer ?? "head_conv") @ \(d.inputSize) px, d = \(r.featureDimension)",
      "  input           \(d.preprocessing)",
    ]
    if let mmd = r.mmd {
      lines.append(
        "  MMD²            \(g(mmd.mmd2))\(ci(mmd.interval))  p = \(g(mmd.pValue)) "
          + "(\(mmd.permutations) permutations)")
    }
    if let pad = r.proxyADistance {
      lines.append("  proxy A-dist.   \(g(pad.value))\(ci(pad.interval))")
    }
    if let frechet = r.frechetDistance {
      lines.append("  Fréchet         \(g(frechet.value))\(ci(frechet.interval))")
    }
    if let coral = r.coralDistance {
      lines.append("  CORAL           \(g(coral.value))\(ci(coral.interval))")
    }
    if let labels = r.labels {
      lines.append(
        "  label prior TV  \(g(labels.totalVariation.value))\(ci(labels.totalVariation.interval))")
    }
    for c in r.intensity {
      lines.append(
        "  intensity \(pad(c.statistic, 5)) KS D = \(String(format: "%.3f", c.ks.statistic)) "
          + "p = \(g(c.ks.pValue)), W1 = \(g(c.wasserstein.value)) "
          + "(median \(String(format: "%.1f", c.sourceMedian)) → \(String(format: "%.1f", c.targetMedian)))"
      )
    }
    if let h = r.headers {
      lines.append(
        "  headers differing: "
          + (h.differing.isEmpty ? "none" : h.differing.joined(separator: ", ")))
    }
    lines.append("  Holm-corrected tests (α = \(r.alpha)):")
    for test in r.tests {
      lines.append(
        "    \(pad(test.name, 28)) p = \(g(test.pValue)), adjusted \(g(test.adjustedPValue))"
          + (test.rejected ? "  REJECTED" : ""))
    }
    lines.append("  shift detected: \(r.shiftDetected ? "yes" : "no")")
    if let p = d.predictions {
      lines.append(
        "  mean confidence \(String(format: "%.3f", p.sourceMeanConfidence)) → "
          + "\(String(format: "%.3f", p.targetMeanConfidence)) (drop \(String(format: "%+.3f", p.confidenceDrop)))"
      )
    }
    for t in d.transferability {
      lines.append(
        "  LogME \(t.backbone) (\(t.initialization)): \(String(format: "%.4f", t.logME))")
    }
    lines += d.notes.map { "  note: " + $0 }
    return lines.joined(separator: "\n")
  }
}
