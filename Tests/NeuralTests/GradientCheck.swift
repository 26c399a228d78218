// Test helpers of the layer tests (the finite-difference check itself is in TestSupport).

import Neural
import TestSupport

/// Random γ, β, running mean and running variance (variance in [varianceLow, 2]).
func randomizeBatchNorm(_ bn: BatchNorm2d, seed: UInt64, varianceLow: Float) {
  bn.weight.value.copy(from: randomTensor([bn.channels], seed: seed, low: 0.5, high: 1.5))
  bn.bias.value.copy(from: randomTensor([bn.channels], seed: seed + 1, low: -0.5, high: 0.5))
  bn.runningMean.copy(from: randomTensor([bn.channels], seed: seed + 2, low: -0.3, high: 0.3))
  bn.runningVar.copy(from: randomTensor([bn.channels], seed: seed + 3, low: varianceLow, high: 2))
}
