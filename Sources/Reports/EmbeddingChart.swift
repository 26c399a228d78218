import Foundation
import Metrics

/// A standalone SVG scatter of a source-vs-target 2-D embedding (what `medtransfer shift
/// --plot` writes), drawn with the report's chart code.
public enum EmbeddingChart {
  /// The SVG document: source and target points in two colours, a legend, axis labels naming
  /// the method (and the explained variance for PCA).
  public static func svg(
    _ embedding: Projection2D, sourceName: String, targetName: String, title: String
  ) -> String {
    func axis(_ k: Int) -> String {
      let method = embedding.method == "pca" ? "PC" : embedding.method + " "
      if embedding.method == "pca", k < embedding.explainedVarianceRatio.count {
        return
          "\(method)\(k + 1) (\(String(format: "%.1f", 100 * embedding.explainedVarianceRatio[k])) % of variance)"
      }
      return "\(method)\(k + 1)"
    }
    let chart = SVGChart(
      title: title, xLabel: axis(0), yLabel: axis(1),
      series: [
        SVGChart.Series(
          name: "\(sourceName) (n = \(embedding.source.count))",
          points: embedding.source.map { ($0.x, $0.y) }, line: false, markerRadius: 2.4,
          opacity: 0.6),
        SVGChart.Series(
          name: "\(targetName) (n = \(embedding.target.count))",
          points: embedding.target.map { ($0.x, $0.y) }, line: false, markerRadius: 2.4,
          opacity: 0.6),
      ], width: 640, height: 420)
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + chart.render() + "\n"
  }
}
