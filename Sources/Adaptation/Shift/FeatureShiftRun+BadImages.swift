import Datasets
import Foundation

extension FeatureShiftRun {
  /// `run(_:log:)` with a policy for images that fail to decode.
  ///
  /// Under `.fail` the first such image stops the analysis with a bad-row error naming its row
  /// and the fix. Under `.skip` the first failure has every image of both samples decoded once
  /// (in parallel), the undecodable ones are left out (listed in `skipped`, by dataset source),
  /// and the analysis runs again on the rest; samples whose images all decode cost nothing extra.
  public static func run(
    _ request: Request, onBad: OnBad, log: (String) -> Void = { _ in }
  ) throws -> (document: ShiftDocument, skipped: [String: [BadRow]]) {
    do {
      return (try run(request, log: log), [:])
    } catch DatasetsError.decode(let path, let cause) {
      let sides = [request.source, request.target]
      guard onBad == .skip else {
        for side in sides {
          guard let i = side.indices.first(where: { side.dataset.entries[$0].path == path })
          else { continue }
          let e = side.dataset.entries[i]
          throw DatasetsError.badRows(
            path: side.dataset.source,
            rows: [BadRow(undecodable: e, error: DatasetsError.decode(path: path, cause: cause))])
        }
        throw DatasetsError.decode(path: path, cause: cause)
      }
      log(
        "an image failed to decode; decoding every image of both samples to leave out the bad ones")
      var request = request
      var skipped: [String: [BadRow]] = [:]
      for side in [\Request.source, \Request.target] {
        var sample = request[keyPath: side]
        let bad = DatasetLoader.undecodable(sample.dataset, at: sample.indices)
        sample.indices.removeAll { bad[$0] != nil }
        skipped[sample.dataset.source, default: []] += bad.values
        guard sample.indices.count >= 2 else {
          throw AdaptationError.badInput(
            path: sample.dataset.source, row: nil,
            reason: "\(sample.name): \(sample.indices.count) decodable image(s) left; the "
              + "analysis needs at least 2 per side")
        }
        request[keyPath: side] = sample
      }
      for key in skipped.keys { skipped[key]!.sort { $0.row < $1.row } }
      return (try run(request, log: log), skipped.filter { !$0.value.isEmpty })
    }
  }
}
