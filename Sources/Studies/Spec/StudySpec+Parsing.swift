import Adaptation
import Datasets
import Foundation
import Yams

// MARK: - Parsing and validation

extension StudySpec {
  /// Reads and validates a spec file; errors name the file, line, key and fix.
  public static func load(file: String) throws -> StudySpec {
    let text: String
    do {
      text = try String(contentsOfFile: file, encoding: .utf8)
    } catch {
      throw StudiesError.unreadableSpec(file: file, cause: (error as NSError).localizedDescription)
    }
    let base = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
    return try parse(yaml: text, file: file, defaultName: base)
  }

  /// Parses and validates spec text. `file` is used in error messages and kept in the spec.
  public static func parse(yaml: String, file: String, defaultName: String) throws -> StudySpec {
    let root: Node?
    do {
      root = try Yams.compose(yaml: yaml)
    } catch let error as YamlError {
      throw StudiesError.yamlSyntax(file: file, line: yamlLine(error), cause: yamlProblem(error))
    } catch {
      throw StudiesError.yamlSyntax(file: file, line: nil, cause: "\(error)")
    }
    let p = SpecReader(file: file)
    guard let root, let top = root.mapping else {
      throw p.fail(
        root, "(top level)", "the spec is not a mapping of keys",
        "start from studies/quickstart.yaml")
    }
    try p.checkKeys(
      top, path: "",
      known: [
        "name", "description", "data", "backbone", "input_size", "preprocessing", "arms",
        "budgets", "seeds", "training", "shift", "report",
      ])
    // Sections in the order of the file's keys, so the first problem is the one reported.
    let name = try p.name(top, default: defaultName)
    let description = try p.description(top)
    let data = try p.data(top, root: root)
    let backbone = try p.backbone(top)
    let inputSize = try top["input_size"].map { try p.int($0, "input_size", in: 32...1024) } ?? 128
    let window = try p.window(top)
    let arms = try p.arms(top, root: root)
    let budgets = try p.budgets(top, arms: arms.budgetNodes)
    return StudySpec(
      name: name, description: description, source: data.source, targets: data.targets,
      backbone: backbone, inputSize: inputSize, arms: arms.arms, budgets: budgets.all,
      armBudgets: budgets.perArm, armTraining: arms.training.isEmpty ? nil : arms.training,
      window: window, seeds: try p.seeds(top), training: try p.training(top),
      shift: try p.shift(top), report: try p.report(top), yaml: yaml, file: file,
      onBad: data.onBad)
  }

  private static func yamlLine(_ error: YamlError) -> Int? {
    switch error {
    case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
      return mark.line
    default: return nil
    }
  }

  private static func yamlProblem(_ error: YamlError) -> String {
    switch error {
    case .scanner(_, let problem, _, _), .parser(_, let problem, _, _),
      .composer(_, let problem, _, _):
      return problem
    case .duplicatedKeysInMapping(let duplicates, _):
      return "duplicated key \(duplicates.joined(separator: ", "))"
    default: return "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
    }
  }
}

/// Typed accessors over Yams nodes that throw `StudiesError.invalidSpec` with file, line and key.
private struct SpecReader {
  let file: String

  func fail(_ node: Node?, _ key: String, _ reason: String, _ fix: String) -> StudiesError {
    .invalidSpec(file: file, line: node?.mark?.line, key: key, reason: reason, fix: fix)
  }

  func checkKeys(_ mapping: Node.Mapping, path: String, known: [String]) throws {
    for (key, _) in mapping {
      let k = key.string ?? "?"
      if !known.contains(k) {
        let full = path.isEmpty ? k : "\(path).\(k)"
        let suggestion = known.min { distance($0, k) < distance($1, k) }
        let fix = suggestion.map { distance($0, k) <= 3 ? "did you mean '\($0)'?" : "" } ?? ""
        throw fail(
          key, full, "unknown key",
          (fix.isEmpty ? "" : fix + " ") + "known keys here: \(known.joined(separator: ", "))")
      }
    }
  }

  func string(_ node: Node, _ key: String) throws -> String {
    guard node.scalar != nil, let s = node.string else {
      throw fail(node, key, "must be a single value", "write it as plain text")
    }
    return s
  }

  func int(_ node: Node, _ key: String, in range: ClosedRange<Int>) throws -> Int {
    guard let v = node.int else {
      throw fail(
        node, key, "'\(node.string ?? "?")' is not a whole number",
        "write a number in \(range.lowerBound)…\(range.upperBound)")
    }
    guard range.contains(v) else {
      throw fail(
        node, key, "\(v) is out of range", "use a value in \(range.lowerBound)…\(range.upperBound)")
    }
    return v
  }

  func positive(_ node: Node, _ key: String) throws -> Double {
    guard let v = node.float, v.isFinite, v > 0 else {
      throw fail(node, key, "'\(node.string ?? "?")' is not a positive number", "write e.g. 0.01")
    }
    return v
  }

  func nonNegative(_ node: Node, _ key: String) throws -> Double {
    guard let v = node.float, v.isFinite, v >= 0 else {
      throw fail(node, key, "'\(node.string ?? "?")' is not a number ≥ 0", "write e.g. 0.0001")
    }
    return v
  }

  func budgets(_ b: Node, _ key: String) throws -> [LabelBudget] {
    guard let seq = b.sequence, !seq.isEmpty else {
      throw fail(b, key, "must be a non-empty list", "e.g. budgets: [10, 25, 50, all]")
    }
    var budgets: [LabelBudget] = []
    for (i, node) in seq.enumerated() {
      if node.string == "all" {
        budgets.append(.all)
      } else if let n = node.int, n >= 1 {
        budgets.append(.perClass(n))
      } else {
        throw fail(
          node, "\(key)[\(i)]", "'\(node.string ?? "?")' is not a label budget",
          "use a positive number of labels per class or 'all'")
      }
    }
    if Set(budgets).count != budgets.count {
      throw fail(b, key, "lists a budget twice", "remove the duplicate")
    }
    return budgets.sorted()
  }

  func metric(_ node: Node, _ key: String) throws -> MetricName {
    let s = try string(node, key)
    guard let m = MetricName(name: s) else {
      throw fail(node, key, "unknown metric '\(s)'", "use \(MetricName.names)")
    }
    return m
  }

  /// `{manifest: path, domain: X}` or `{generator: spec.yaml, site: B, seed: 0}`.
  func dataset(_ node: Node, _ key: String) throws -> DatasetRef {
    guard let m = node.mapping else {
      throw fail(
        node, key, "must be a mapping",
        "write {generator: ../datasets/chest-ct-sites.yaml, site: A} or {manifest: data.csv}")
    }
    try checkKeys(m, path: key, known: ["manifest", "generator", "site", "domain", "seed"])
    switch (m["manifest"], m["generator"]) {
    case (let manifest?, nil):
      if let s = m["site"] {
        throw fail(s, "\(key).site", "a manifest has domains, not sites", "write domain: instead")
      }
      return DatasetRef(
        kind: .manifest, path: try string(manifest, "\(key).manifest"),
        site: try m["domain"].map { try string($0, "\(key).domain") })
    case (nil, let generator?):
      guard let site = m["site"] else {
        throw fail(node, "\(key).site", "missing", "name the generator site, e.g. site: A")
      }
      if let d = m["domain"] {
        throw fail(d, "\(key).domain", "a generator has sites, not domains", "write site: instead")
      }
      return DatasetRef(
        kind: .generator, path: try string(generator, "\(key).generator"),
        site: try string(site, "\(key).site"),
        seed: try m["seed"].map { try int($0, "\(key).seed", in: 0...Int(Int32.max)) })
    default:
      throw fail(node, key, "needs exactly one of manifest or generator", "give one of them")
    }
  }

  /// Levenshtein distance, for "did you mean".
  private func distance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
    var previous = Array(0...b.count)
    for i in 1...a.count {
      var current = [i] + Array(repeating: 0, count: b.count)
      for j in 1...b.count {
        current[j] = min(
          previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
      }
      previous = current
    }
    return previous[b.count]
  }
}

// MARK: - The spec's sections, one reader each

extension SpecReader {
  func name(_ top: Node.Mapping, default defaultName: String) throws -> String {
    var name = defaultName
    if let n = top["name"] {
      name = try string(n, "name")
      guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) })
      else {
        throw fail(n, "name", "'\(name)' is not a folder-safe name", "use letters, digits, - _ .")
      }
    }
    return name
  }

  func description(_ top: Node.Mapping) throws -> String {
    return try top["description"].map { try string($0, "description") } ?? ""
  }

  func data(_ top: Node.Mapping, root: Node) throws -> (
    source: DatasetRef, targets: [DatasetRef], onBad: OnBad?
  ) {
    guard let dataNode = top["data"] else {
      throw fail(root, "data", "missing", "add data: {source: …, targets: […]}")
    }
    guard let data = dataNode.mapping else {
      throw fail(dataNode, "data", "must be a mapping", "give data.source and data.targets")
    }
    try checkKeys(data, path: "data", known: ["source", "target", "targets", "on_bad"])
    var onBad: OnBad?
    if let v = data["on_bad"] {
      let text = try string(v, "data.on_bad")
      guard let policy = OnBad(rawValue: text) else {
        throw fail(
          v, "data.on_bad", "'\(text)' is not fail or skip",
          "write on_bad: skip (leave bad rows and undecodable images out) or on_bad: fail")
      }
      onBad = policy
    }
    guard let sourceNode = data["source"] else {
      throw fail(dataNode, "data.source", "missing", "name the source dataset")
    }
    let source = try dataset(sourceNode, "data.source")
    var targets: [DatasetRef] = []
    if let t = data["target"] { targets.append(try dataset(t, "data.target")) }
    if let ts = data["targets"] {
      guard let seq = ts.sequence, !seq.isEmpty else {
        throw fail(ts, "data.targets", "must be a non-empty list", "list one or more datasets")
      }
      for (i, t) in seq.enumerated() { targets.append(try dataset(t, "data.targets[\(i)]")) }
    }
    if targets.isEmpty {
      throw fail(dataNode, "data.targets", "missing", "add data.targets: [{…, site: B}]")
    }
    if Set(targets.map(\.key)).count != targets.count {
      throw fail(dataNode, "data.targets", "lists a dataset twice", "remove the duplicate")
    }
    return (source, targets, onBad)
  }

  func backbone(_ top: Node.Mapping) throws -> String {
    let backbone = try top["backbone"].map { try string($0, "backbone") } ?? "efficientnet-lite0"
    let knownBackbones = ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"]
    if !knownBackbones.contains(backbone) {
      throw fail(
        top["backbone"], "backbone", "unknown backbone '\(backbone)'",
        "use one of \(knownBackbones.joined(separator: ", "))")
    }
    return backbone
  }

  func window(_ top: Node.Mapping) throws -> String? {
    var window: String?
    if let node = top["preprocessing"] {
      guard let m = node.mapping else {
        throw fail(
          node, "preprocessing", "must be a mapping", "e.g. preprocessing: {window: auto}")
      }
      try checkKeys(m, path: "preprocessing", known: ["window"])
      if let v = m["window"] {
        let text = try string(v, "preprocessing.window")
        let parsed: Preprocessing.Window
        do { parsed = try Preprocessing.parseWindow(text, input: "preprocessing.window") } catch {
          throw fail(
            v, "preprocessing.window", "'\(text)' is not a window setting",
            "use auto, file, file:C,W, \"C,W\" (e.g. \"40,400\") or \"pLOW,HIGH\" (e.g. \"p1,99\")")
        }
        // `auto` is the default: the same runs, the same hashes.
        window = parsed == .auto ? nil : parsed.description
      }
    }
    return window
  }

  func arms(_ top: Node.Mapping, root: Node) throws -> (
    arms: [ArmSpec], budgetNodes: [(String, Node, String)], training: [String: ArmTrainingOverride]
  ) {
    guard let armsNode = top["arms"] else {
      throw fail(root, "arms", "missing", "add arms: [scratch, full]")
    }
    guard let armSeq = armsNode.sequence, !armSeq.isEmpty else {
      throw fail(armsNode, "arms", "must be a non-empty list", "e.g. arms: [scratch, full]")
    }
    var arms: [ArmSpec] = []
    var armBudgetNodes: [(String, Node, String)] = []
    var armTraining: [String: ArmTrainingOverride] = [:]
    for (i, node) in armSeq.enumerated() {
      var textNode = node
      var key = "arms[\(i)]"
      if let m = node.mapping {
        try checkKeys(
          m, path: key, known: ["arm", "budgets", "epochs", "patience", "source_epochs"])
        guard let a = m["arm"] else {
          throw fail(node, "\(key).arm", "missing", "write {arm: full+l2sp(1), budgets: [50]}")
        }
        textNode = a
        key += ".arm"
      }
      let text = try string(textNode, key)
      switch ArmSpec.parse(text) {
      case .success(let arm):
        if arms.contains(arm) {
          throw fail(textNode, key, "'\(text)' repeats an earlier arm", "remove it")
        }
        arms.append(arm)
        if let b = node.mapping?["budgets"] {
          armBudgetNodes.append((arm.name, b, "arms[\(i)].budgets"))
        }
        if let m = node.mapping {
          var o = ArmTrainingOverride()
          for (field, minimum) in [("epochs", 1), ("patience", 0), ("source_epochs", 1)] {
            guard let v = m[field] else { continue }
            guard let n = v.int, n >= minimum else {
              throw fail(
                v, "arms[\(i)].\(field)", "must be an integer ≥ \(minimum)",
                "e.g. {arm: scratch, \(field): 40}")
            }
            switch field {
            case "epochs": o.epochs = n
            case "patience": o.patience = n
            default: o.sourceEpochs = n
            }
          }
          if o != ArmTrainingOverride() { armTraining[arm.name] = o }
        }
      case .failure(let error):
        throw fail(textNode, key, error.reason, "see the arm grammar in studies/README.md")
      }
    }
    return (arms, armBudgetNodes, armTraining)
  }

  func budgets(_ top: Node.Mapping, arms budgetNodes: [(String, Node, String)]) throws -> (
    all: [LabelBudget], perArm: [String: [LabelBudget]]
  ) {
    var budgets: [LabelBudget] = [
      .perClass(10), .perClass(25), .perClass(50), .perClass(100), .all,
    ]
    if let b = top["budgets"] { budgets = try self.budgets(b, "budgets") }
    var armBudgets: [String: [LabelBudget]] = [:]
    for (name, node, key) in budgetNodes {
      let subset = try self.budgets(node, key)
      if let missing = subset.first(where: { !budgets.contains($0) }) {
        throw fail(
          node, key, "budget \(missing) is not in the study's budgets",
          "add it to budgets or use one of \(budgets.map(\.description).joined(separator: ", "))")
      }
      armBudgets[name] = subset
    }
    return (budgets, armBudgets)
  }

  func seeds(_ top: Node.Mapping) throws -> [Int] {
    var seeds = [0, 1, 2]
    if let s = top["seeds"] {
      if let n = s.int {
        guard (1...100).contains(n) else {
          throw fail(s, "seeds", "\(n) seeds", "give a count 1…100 or a list of seeds")
        }
        seeds = Array(0..<n)
      } else if let seq = s.sequence, !seq.isEmpty {
        seeds = try seq.enumerated().map { try int($1, "seeds[\($0)]", in: 0...Int(Int32.max)) }
        if Set(seeds).count != seeds.count {
          throw fail(s, "seeds", "lists a seed twice", "remove the duplicate")
        }
      } else {
        throw fail(s, "seeds", "must be a count or a list", "e.g. seeds: 3 or seeds: [0, 1, 2]")
      }
    }
    return seeds
  }

  func training(_ top: Node.Mapping) throws -> TrainingSettings {
    var training = TrainingSettings()
    if let t = top["training"] {
      guard let m = t.mapping else {
        throw fail(t, "training", "must be a mapping", "e.g. training: {epochs: 20}")
      }
      try checkKeys(
        m, path: "training",
        known: [
          "epochs", "patience", "early_stopping", "monitor", "batch_size", "optimizer",
          "learning_rate", "backbone_lr_scale", "weight_decay", "augment", "source_epochs",
          "options",
        ])
      if let v = m["epochs"] { training.epochs = try int(v, "training.epochs", in: 1...10_000) }
      if let v = m["patience"] ?? m["early_stopping"] {
        let key = m["patience"] != nil ? "training.patience" : "training.early_stopping"
        if v.bool == false {
          training.patience = 0
        } else {
          training.patience = try int(v, key, in: 0...10_000)
        }
      }
      if let v = m["monitor"] { training.monitor = try metric(v, "training.monitor") }
      if let v = m["batch_size"] {
        training.batchSize = try int(v, "training.batch_size", in: 1...4096)
      }
      if let v = m["optimizer"] {
        let name = try string(v, "training.optimizer")
        guard let optimizer = OptimizerKind(rawValue: name) else {
          throw fail(v, "training.optimizer", "unknown optimizer '\(name)'", "use sgd or adamw")
        }
        training.optimizer = optimizer
      }
      if let v = m["learning_rate"] {
        training.learningRate = try positive(v, "training.learning_rate")
      }
      if let v = m["backbone_lr_scale"] {
        training.backboneLearningRateScale = try positive(v, "training.backbone_lr_scale")
      }
      if let v = m["weight_decay"] {
        training.weightDecay = try nonNegative(v, "training.weight_decay")
      }
      if let v = m["augment"] {
        guard let b = v.bool else {
          throw fail(v, "training.augment", "must be true or false", "write augment: true")
        }
        training.augment = b
      }
      if let v = m["source_epochs"] {
        training.sourceEpochs = try int(v, "training.source_epochs", in: 1...10_000)
      }
      if let v = m["options"] {
        guard let om = v.mapping else {
          throw fail(
            v, "training.options", "must be a mapping", "e.g. options: {lr_schedule: cosine}")
        }
        for (k, val) in om {
          guard let ks = k.string, let vs = val.string else {
            throw fail(val, "training.options", "values must be scalars", "quote them")
          }
          training.options[ks] = vs
        }
      }
    }
    return training
  }

  func shift(_ top: Node.Mapping) throws -> ShiftSettings {
    var shift = ShiftSettings()
    if let s = top["shift"] {
      guard let m = s.mapping else {
        throw fail(s, "shift", "must be a mapping", "e.g. shift: {analyses: [mmd, intensity]}")
      }
      try checkKeys(
        m, path: "shift", known: ["analyses", "permutations", "bootstrap", "max_images"])
      if let a = m["analyses"] {
        guard let seq = a.sequence else {
          throw fail(
            a, "shift.analyses", "must be a list", "e.g. analyses: [mmd, intensity] or []")
        }
        shift.analyses = try seq.enumerated().map { i, node in
          let text = try string(node, "shift.analyses[\(i)]")
          guard let kind = ShiftAnalysisKind(rawValue: text) else {
            throw fail(
              node, "shift.analyses[\(i)]", "unknown analysis '\(text)'",
              "use \(ShiftAnalysisKind.allCases.map(\.rawValue).joined(separator: ", "))")
          }
          return kind
        }
      }
      if let v = m["permutations"] {
        shift.permutations = try int(v, "shift.permutations", in: 0...1_000_000)
      }
      if let v = m["bootstrap"] {
        shift.bootstrap = try int(v, "shift.bootstrap", in: 0...1_000_000)
      }
      if let v = m["max_images"] {
        shift.maxImages = try int(v, "shift.max_images", in: 2...1_000_000)
      }
    }
    return shift
  }

  func report(_ top: Node.Mapping) throws -> ReportSettings {
    var report = ReportSettings()
    if let r = top["report"] {
      guard let m = r.mapping else {
        throw fail(r, "report", "must be a mapping", "e.g. report: {metric: accuracy}")
      }
      try checkKeys(m, path: "report", known: ["metric", "target_value", "confidence", "output"])
      if let v = m["metric"] { report.metric = try metric(v, "report.metric") }
      if let v = m["target_value"] {
        let x = try positive(v, "report.target_value")
        guard x <= 1 else {
          throw fail(v, "report.target_value", "\(x) is above 1", "give a metric value in (0, 1]")
        }
        report.targetValue = x
      }
      if let v = m["confidence"] {
        let c = try positive(v, "report.confidence")
        guard c < 1, c >= 0.5 else {
          throw fail(v, "report.confidence", "\(c) is not a confidence level", "use e.g. 0.95")
        }
        report.confidence = c
      }
      if let v = m["output"] { report.output = try string(v, "report.output") }
    }
    return report
  }
}
