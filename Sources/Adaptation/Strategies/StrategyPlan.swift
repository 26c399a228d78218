import Foundation
import Neural

/// What a strategy did to a model: which stages train, which BatchNorms keep frozen statistics.
public struct StrategyPlan: Codable, Equatable, Sendable {
  /// The strategy.
  public var strategy: Strategy
  /// Indices of trained backbone stages.
  public var trainedStages: [Int]
  /// Trained backbone parameter names.
  public var trainedParameters: [String]
  /// Frozen backbone parameter names.
  public var frozenParameters: [String]
  /// BatchNorm prefixes whose running statistics are frozen.
  public var frozenStatistics: [String]
  /// Whether the backbone is entirely frozen (features can be cached).
  public var backboneFrozen: Bool { trainedStages.isEmpty }
}

extension TransferModel {
  /// Freezes and unfreezes parameters and BatchNorm statistics as `strategy` says.
  ///
  /// Frozen stages keep their BatchNorm statistics frozen too: a frozen layer normalising with
  /// moving batch statistics would still change what the later layers see. The head is always
  /// trained (for `features+logreg` it is simply not used).
  @discardableResult
  public func apply(_ strategy: Strategy) throws -> StrategyPlan {
    let trained = try strategy.trainedStages(of: stages.count)
    var trainedNames: [String] = []
    var frozenNames: [String] = []
    for (name, p) in backbone.parameters {
      let s = stage(of: name)!
      p.frozen = !trained.contains(s)
      if p.frozen { frozenNames.append(name) } else { trainedNames.append(name) }
    }
    for (_, p) in head.parameters { p.frozen = false }
    var frozenStats: [String] = []
    for (name, s, bn) in batchNorms {
      bn.statisticsFrozen = !trained.contains(s)
      if bn.statisticsFrozen { frozenStats.append(name) }
    }
    return StrategyPlan(
      strategy: strategy, trainedStages: trained.sorted(),
      trainedParameters: trainedNames, frozenParameters: frozenNames,
      frozenStatistics: frozenStats)
  }

  /// The optimizer groups (Neural's `ParameterGroup`): trained backbone parameters at
  /// `backboneScale` × the head's learning rate, then the head.
  public func parameterGroups(learningRate: Double, backboneScale: Double, weightDecay: Double)
    -> [ParameterGroup]
  {
    let trainedBackbone = backbone.parameters.filter { !$0.parameter.frozen }
    var groups: [ParameterGroup] = []
    if !trainedBackbone.isEmpty {
      groups.append(
        ParameterGroup(
          trainedBackbone, learningRate: learningRate * backboneScale,
          weightDecay: weightDecay))
    }
    groups.append(
      ParameterGroup(
        head.parameters, learningRate: learningRate,
        weightDecay: weightDecay))
    return groups
  }

  /// The L2-SP / weight penalty of `spec`: backbone anchored at its current values (take the
  /// snapshot right after loading the pretrained weights), head anchored at zero.
  public func penalty(_ spec: RegularizerSpec) -> WeightPenalty {
    switch spec.anchor {
    case .none: return WeightPenalty(terms: [])
    case .startingPoint, .zero:
      return WeightPenalty.l2sp(
        shared: backbone.parameters, head: head.parameters,
        alpha: spec.alpha, beta: spec.beta, scope: spec.scope,
        anchorAtZero: spec.anchor == .zero)
    }
  }

  /// ‖w − w⁰‖ per stage and for the head, against `reference` (name → values, e.g. ImageNet).
  public func drift(from reference: [String: [Float]]) -> [StageDrift] {
    var sums = [Double](repeating: 0, count: stages.count + 1)
    var norms = [Double](repeating: 0, count: stages.count + 1)
    for (name, p) in allParameters {
      guard let w0 = reference[name], w0.count == p.value.count else { continue }
      let index = stage(of: name) ?? stages.count
      let w = p.value.data
      for i in 0..<w0.count {
        let d = Double(w[i] - w0[i])
        sums[index] += d * d
        norms[index] += Double(w0[i]) * Double(w0[i])
      }
    }
    return (0...stages.count).map { i in
      StageDrift(
        stage: i == stages.count ? -1 : i,
        name: i == stages.count ? "head" : stages[i].name,
        distance: sums[i].squareRoot(), initialNorm: norms[i].squareRoot())
    }
  }

  /// A name → values snapshot of every parameter (the anchor for drift and L2-SP).
  public func snapshot() -> [String: [Float]] {
    Dictionary(
      allParameters.map { ($0.name, $0.parameter.value.array) },
      uniquingKeysWith: { a, _ in a })
  }
}
