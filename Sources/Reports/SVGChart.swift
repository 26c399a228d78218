import Foundation

/// A small, dependency-free SVG chart: axes with ticks and labels, lines with CI bands, markers,
/// step histograms, an optional y = x diagonal, and a legend. Paper-ready (vector, no script).
struct SVGChart {
  enum Scale { case linear, log }

  struct Series {
    var name: String
    var points: [(x: Double, y: Double)]
    /// Optional band (x, lower, upper), drawn translucent under the line.
    var band: [(x: Double, lower: Double, upper: Double)] = []
    var line = true
    var markers = true
    /// Draw as a step histogram over `edges` (points are bin centres; x of the edges given here).
    var stepEdges: [Double]? = nil
    /// Text next to each point (e.g. α values), same order as `points`.
    var pointLabels: [String]? = nil
    /// Vertical error bars (x, lower, upper).
    var errorBars: [(x: Double, lower: Double, upper: Double)] = []
    var markerRadius = 3.2
    var opacity = 1.0
  }

  var title: String
  var xLabel: String
  var yLabel: String
  var xScale = Scale.linear
  var xDomain: ClosedRange<Double>? = nil
  var yDomain: ClosedRange<Double>? = nil
  /// Custom x tick positions and labels (default: nice ticks).
  var xTicks: [(Double, String)]? = nil
  var series: [Series] = []
  var diagonal = false
  /// A horizontal reference line (value, label).
  var horizontalLine: (Double, String)? = nil
  var width = 590.0
  var height = 360.0

  static let palette = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8C564B",
    "#7F7F7F", "#BCBD22",
  ]
  static let dashes = ["", "6 3", "2 2", "8 3 2 3", "", "6 3", "2 2", "8 3 2 3", "", "4 4"]

  func render() -> String {
    let longest = series.map { min($0.name.count, 24) }.max() ?? 0
    let legendWidth =
      series.count > 1 || !(series.first?.name.isEmpty ?? true)
      ? Double(longest) * 6.6 + 40 : 0
    let left = 62.0
    let right = 16.0 + legendWidth
    let top = 34.0
    let bottom = 50.0
    let plotW = width - left - right
    let plotH = height - top - bottom

    var xs = series.flatMap { s in s.points.map(\.x) + s.band.map(\.x) + (s.stepEdges ?? []) }
    var ys = series.flatMap { s in
      s.points.map(\.y) + s.band.flatMap { [$0.lower, $0.upper] }
        + s.errorBars.flatMap { [$0.lower, $0.upper] }
    }
    if let h = horizontalLine { ys.append(h.0) }
    xs = xs.filter { $0.isFinite && (xScale == .linear || $0 > 0) }
    ys = ys.filter(\.isFinite)
    var xd = xDomain ?? Self.padded(xs, log: xScale == .log)
    var yd = yDomain ?? Self.padded(ys, log: false)
    if xd.lowerBound == xd.upperBound { xd = (xd.lowerBound - 1)...(xd.upperBound + 1) }
    if yd.lowerBound == yd.upperBound { yd = (yd.lowerBound - 0.5)...(yd.upperBound + 0.5) }
    if xScale == .log && xd.lowerBound <= 0 { xd = 1...max(10, xd.upperBound) }

    func px(_ x: Double) -> Double {
      let t =
        xScale == .log
        ? (log10(x) - log10(xd.lowerBound)) / (log10(xd.upperBound) - log10(xd.lowerBound))
        : (x - xd.lowerBound) / (xd.upperBound - xd.lowerBound)
      return left + t * plotW
    }
    func py(_ y: Double) -> Double {
      top + plotH - (y - yd.lowerBound) / (yd.upperBound - yd.lowerBound) * plotH
    }
    func f(_ v: Double) -> String { String(format: "%.1f", v) }

    var svg = """
      <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Int(width)) \(Int(height))" \
      width="\(Int(width))" height="\(Int(height))" role="img" aria-label="\(escape(title))" \
      font-family="Helvetica, Arial, sans-serif" font-size="12">
      <rect x="0" y="0" width="\(Int(width))" height="\(Int(height))" fill="#fff"/>
      <text x="\(f(left))" y="20" font-size="13" font-weight="bold">\(escape(title))</text>

      """
    svg +=
      "<clipPath id=\"c\(clipID)\"><rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\"/></clipPath>\n"
    // Grid and ticks.
    let yTicks = Self.niceTicks(yd)
    for t in yTicks {
      svg +=
        "<line x1=\"\(f(left))\" x2=\"\(f(left + plotW))\" y1=\"\(f(py(t)))\" y2=\"\(f(py(t)))\" stroke=\"#e6e6e6\"/>"
      svg +=
        "<line x1=\"\(f(left - 4))\" x2=\"\(f(left))\" y1=\"\(f(py(t)))\" y2=\"\(f(py(t)))\" stroke=\"#333\"/>"
      svg +=
        "<text x=\"\(f(left - 7))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(Self.tickLabel(t, step: Self.step(yTicks)))</text>\n"
    }
    let xt =
      xTicks
      ?? (xScale == .log
        ? Self.logTicks(xd)
        : Self.niceTicks(xd).map { ($0, Self.tickLabel($0, step: Self.step(Self.niceTicks(xd)))) })
    for (t, label) in xt where t >= xd.lowerBound - 1e-9 && t <= xd.upperBound + 1e-9 {
      svg +=
        "<line x1=\"\(f(px(t)))\" x2=\"\(f(px(t)))\" y1=\"\(f(top))\" y2=\"\(f(top + plotH))\" stroke=\"#f0f0f0\"/>"
      svg +=
        "<line x1=\"\(f(px(t)))\" x2=\"\(f(px(t)))\" y1=\"\(f(top + plotH))\" y2=\"\(f(top + plotH + 4))\" stroke=\"#333\"/>"
      svg +=
        "<text x=\"\(f(px(t)))\" y=\"\(f(top + plotH + 17))\" text-anchor=\"middle\">\(escape(label))</text>\n"
    }
    // Axes and labels.
    svg +=
      "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#333\"/>\n"
    svg +=
      "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 10))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
    svg +=
      "<text transform=\"translate(16 \(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"

    svg += "<g clip-path=\"url(#c\(clipID))\">\n"
    if diagonal {
      let lo = max(xd.lowerBound, yd.lowerBound)
      let hi = min(xd.upperBound, yd.upperBound)
      svg +=
        "<line x1=\"\(f(px(lo)))\" y1=\"\(f(py(lo)))\" x2=\"\(f(px(hi)))\" y2=\"\(f(py(hi)))\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>\n"
    }
    if let (value, _) = horizontalLine {
      svg +=
        "<line x1=\"\(f(left))\" x2=\"\(f(left + plotW))\" y1=\"\(f(py(value)))\" y2=\"\(f(py(value)))\" stroke=\"#777\" stroke-dasharray=\"3 3\"/>\n"
    }
    for (i, s) in series.enumerated() {
      let color = Self.palette[i % Self.palette.count]
      let dash = Self.dashes[i % Self.dashes.count]
      let band = s.band.filter {
        $0.x.isFinite && $0.lower.isFinite && $0.upper.isFinite && (xScale == .linear || $0.x > 0)
      }
      if band.count >= 2 {
        let upper = band.map { "\(f(px($0.x))),\(f(py($0.upper)))" }
        let lower = band.reversed().map { "\(f(px($0.x))),\(f(py($0.lower)))" }
        svg +=
          "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(color)\" fill-opacity=\"0.15\" stroke=\"none\"/>\n"
      }
      for e in s.errorBars where e.lower.isFinite && e.upper.isFinite {
        svg +=
          "<line x1=\"\(f(px(e.x)))\" x2=\"\(f(px(e.x)))\" y1=\"\(f(py(e.lower)))\" y2=\"\(f(py(e.upper)))\" stroke=\"\(color)\" stroke-width=\"1.2\"/>"
      }
      let pts = s.points.filter {
        $0.x.isFinite && $0.y.isFinite && (xScale == .linear || $0.x > 0)
      }
      if let edges = s.stepEdges, edges.count == s.points.count + 1 {
        var path = "M\(f(px(edges[0]))),\(f(py(yd.lowerBound)))"
        for (j, p) in s.points.enumerated() {
          path += " L\(f(px(edges[j]))),\(f(py(p.y))) L\(f(px(edges[j + 1]))),\(f(py(p.y)))"
        }
        path += " L\(f(px(edges.last!))),\(f(py(yd.lowerBound)))"
        svg +=
          "<path d=\"\(path)\" fill=\"\(color)\" fill-opacity=\"0.12\" stroke=\"\(color)\" stroke-width=\"1.5\"/>\n"
        continue
      }
      if s.line && pts.count >= 2 {
        let d = pts.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
        svg +=
          "<polyline points=\"\(d)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\"\(dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"")/>\n"
      }
      if s.markers {
        for p in pts {
          svg +=
            "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"\(s.markerRadius)\" fill=\"\(color)\" fill-opacity=\"\(s.opacity)\"/>"
        }
        svg += "\n"
      }
    }
    svg += "</g>\n"
    // Point labels outside the clip, turned inwards near the right edge.
    for (i, s) in series.enumerated() {
      guard let labels = s.pointLabels else { continue }
      let color = Self.palette[i % Self.palette.count]
      for (p, label) in zip(s.points, labels) where p.x.isFinite && p.y.isFinite {
        let nearRight = px(p.x) > left + plotW * 0.75
        svg +=
          "<text x=\"\(f(px(p.x) + (nearRight ? -6 : 6)))\" y=\"\(f(py(p.y) - 6))\" font-size=\"11\" fill=\"\(color)\"\(nearRight ? " text-anchor=\"end\"" : "")>\(escape(label))</text>"
      }
      svg += "\n"
    }
    if let (value, label) = horizontalLine, yd.contains(value) {
      svg +=
        "<text x=\"\(f(left + plotW - 4))\" y=\"\(f(py(value) - 4))\" text-anchor=\"end\" font-size=\"11\" fill=\"#555\">\(escape(label))</text>\n"
    }
    // Legend.
    if legendWidth > 0 {
      let lx = width - legendWidth + 4
      for (i, s) in series.enumerated() {
        let y = top + 8 + Double(i) * 18
        let color = Self.palette[i % Self.palette.count]
        let dash = Self.dashes[i % Self.dashes.count]
        if s.line || s.stepEdges != nil {
          svg +=
            "<line x1=\"\(f(lx))\" x2=\"\(f(lx + 22))\" y1=\"\(f(y))\" y2=\"\(f(y))\" stroke=\"\(color)\" stroke-width=\"2\"\(dash.isEmpty || s.stepEdges != nil ? "" : " stroke-dasharray=\"\(dash)\"")/>"
        }
        if s.markers {
          svg += "<circle cx=\"\(f(lx + 11))\" cy=\"\(f(y))\" r=\"3.2\" fill=\"\(color)\"/>"
        }
        svg +=
          "<text x=\"\(f(lx + 28))\" y=\"\(f(y + 4))\">\(escape(Self.truncate(s.name, 24)))</text>\n"
      }
    }
    svg += "</svg>"
    return svg
  }

  /// Unique per chart on a page (names the clip path).
  var id = 0
  private var clipID: Int { id }

  static func truncate(_ s: String, _ n: Int) -> String {
    s.count <= n ? s : String(s.prefix(n - 1)) + "…"
  }

  static func padded(_ values: [Double], log: Bool) -> ClosedRange<Double> {
    guard let lo = values.min(), let hi = values.max() else { return 0...1 }
    if log { return (lo / 1.25)...(hi * 1.25) }
    let pad = (hi - lo) * 0.06
    return pad == 0
      ? (lo - abs(lo) * 0.1 - 0.05)...(hi + abs(hi) * 0.1 + 0.05) : (lo - pad)...(hi + pad)
  }

  static func step(_ ticks: [Double]) -> Double { ticks.count > 1 ? ticks[1] - ticks[0] : 1 }

  /// 4–8 ticks at 1, 2 or 5 × 10^k.
  static func niceTicks(_ range: ClosedRange<Double>) -> [Double] {
    let span = range.upperBound - range.lowerBound
    guard span > 0, span.isFinite else { return [range.lowerBound] }
    let raw = span / 5
    let magnitude = pow(10, floor(log10(raw)))
    let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
    var t = ceil(range.lowerBound / step) * step
    var ticks: [Double] = []
    while t <= range.upperBound + step * 1e-9 {
      ticks.append(abs(t) < step * 1e-9 ? 0 : t)
      t += step
    }
    return ticks
  }

  /// Ticks at 1, 2, 5 × 10^k inside the range (with labels).
  static func logTicks(_ range: ClosedRange<Double>) -> [(Double, String)] {
    var ticks: [(Double, String)] = []
    var k = floor(log10(range.lowerBound))
    while pow(10, k) <= range.upperBound * 1.0001 {
      for m in [1.0, 2, 5] {
        let v = m * pow(10, k)
        if v >= range.lowerBound && v <= range.upperBound {
          ticks.append((v, tickLabel(v, step: v)))
        }
      }
      k += 1
    }
    return ticks
  }

  static func tickLabel(_ v: Double, step: Double) -> String {
    if abs(v) >= 10_000 || (abs(v) < 0.001 && v != 0) { return String(format: "%.0e", v) }
    let decimals = max(0, min(4, Int(-floor(log10(abs(step) + 1e-12)))))
    return String(format: "%.\(decimals)f", v)
  }
}

/// Escapes text for HTML/SVG.
func escape(_ s: String) -> String {
  var out = ""
  out.reserveCapacity(s.count)
  for c in s {
    switch c {
    case "&": out += "&amp;"
    case "<": out += "&lt;"
    case ">": out += "&gt;"
    case "\"": out += "&quot;"
    default: out.append(c)
    }
  }
  return out
}
