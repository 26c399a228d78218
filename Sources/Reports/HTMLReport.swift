import Foundation
import Studies

/// Renders a `StudyReport` as one self-contained HTML page (inline CSS and SVG, no script, no
/// network), sections 1–7.
struct HTMLReport {
  let report: StudyReport
  private var chartCounter = 0

  init(report: StudyReport) { self.report = report }

  mutating func render() -> String {
    let r = report
    var body = ""
    body += "<header><h1>\(escape(r.study.name))</h1>"
    if !r.study.description.isEmpty {
      body += "<p class=\"lead\">\(escape(r.study.description))</p>"
    }
    let finished = r.runs.filter { $0.status == "finished" }.count
    body +=
      "<p class=\"meta\">Source <b>\(escape(r.study.source))</b> → target(s) <b>\(escape(r.study.targets.joined(separator: ", ")))</b> · backbone \(escape(r.study.backbone)) at \(r.study.inputSize)×\(r.study.inputSize) · \(r.study.arms.count) arms × \(r.study.budgets.count) label budgets × \(r.study.seeds.count) seeds · \(finished)/\(r.runs.count) runs finished\(r.failedRuns.isEmpty ? "" : ", <span class=\"bad\">\(r.failedRuns.count) failed</span>") · headline metric: target-test \(escape(r.metric.title)) · intervals: \(pct(r.confidence)) · generated \(escape(r.generatedAt))</p>"
    if let window = r.study.window {
      let used = (r.study.windowsUsed ?? [:]).sorted { $0.key < $1.key }
        .map { "\(escape($0.key)): \(escape($0.value))" }.joined(separator: " · ")
      body +=
        "<p class=\"meta\">Input window <b>\(escape(window))</b>"
        + (window == "auto"
          ? " (the file's own VOI window, else a CT preset by body part, else the image's "
            + "0.5–99.5 percentiles; MONOCHROME1 radiographs inverted)"
          : used.isEmpty && finished > 0
            ? " (every image: these runs were recorded before per-dataset windows)" : "")
        + (used.isEmpty ? "" : " — used: \(used)") + "</p>"
    }
    body +=
      "<nav>"
      + [
        "Headline", "Learning curves", "Training curves", "Domain shift",
        "Adaptation &amp; forgetting", "Calibration &amp; subgroups", "Reproducibility",
      ].enumerated().map { "<a href=\"#s\($0.offset + 1)\">\($0.offset + 1). \($0.element)</a>" }
      .joined(separator: " ") + "</nav></header>"
    body += section(1, "Headline: does transfer beat scratch?", headline())
    body += section(2, "Learning curves", learningCurves())
    body += section(3, "Training curves", trainingCurves())
    body += section(4, "Domain shift", domainShift())
    body += section(5, "Adaptation and forgetting", forgetting())
    body += section(6, "Calibration and subgroups", calibration())
    body += section(7, "Reproducibility", reproducibility())
    return """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <title>\(escape(r.study.name)) — MedTransfer report</title>
      <style>\(Self.css)</style></head>
      <body>\(body)
      <footer>Written by medtransfer from <code>study.sqlite</code> alone; regenerate with <code>medtransfer report STUDY_DIR</code>. Tables: <code>csv/</code>; all numbers: <code>report.json</code>.</footer>
      </body></html>

      """
  }

  static let css = """
    body{font-family:Helvetica,Arial,sans-serif;max-width:1240px;margin:0 auto;padding:16px 24px;color:#222;line-height:1.4}
    h1{margin:0 0 4px}h2{border-bottom:2px solid #0072B2;padding-bottom:4px;margin-top:36px}h3{margin:22px 0 6px}
    .lead{font-size:15px;margin:4px 0}.meta{color:#555;font-size:13px}nav{font-size:13px;margin:8px 0}nav a{margin-right:10px;color:#0072B2}
    table{border-collapse:collapse;margin:8px 0 14px;font-size:13px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right;vertical-align:top}
    th{background:#f3f6f9;text-align:center}td.l,th.l{text-align:left}
    .good{color:#007a4d;font-weight:bold}.bad{color:#b3261e;font-weight:bold}.muted{color:#777}.warn{color:#9a5b00}.small{font-size:12px}
    .charts{display:flex;flex-wrap:wrap;gap:14px}.charts figure{margin:0}figcaption{font-size:12px;color:#555;max-width:590px}
    pre{background:#f6f6f6;padding:10px;overflow-x:auto;font-size:12px;max-height:420px}
    .note{background:#fff8e1;border-left:4px solid #E69F00;padding:6px 10px;font-size:13px}
    footer{margin-top:40px;color:#777;font-size:12px;border-top:1px solid #ddd;padding-top:8px}
    """

  // MARK: - Sections

  private func section(_ n: Int, _ title: String, _ content: String) -> String {
    "<section id=\"s\(n)\"><h2>\(n). \(escape(title))</h2>\(content)</section>\n"
  }

  private func headline() -> String {
    let r = report
    var html = ""
    guard !r.headline.isEmpty else {
      return
        "<p class=\"note\">No transfer-vs-scratch comparison: the study needs a <code>scratch</code> arm and at least one transfer arm with finished runs.</p>"
        + baselineTable()
    }
    html +=
      "<p>Each cell: mean over seeds of (transfer − scratch) on the target-test \(escape(r.metric.title)), with its \(pct(r.confidence)) CI and the two-sided paired t-test p-value (pairs = seeds where both runs finished; same seed ⇒ same label subset). <span class=\"good\">Green</span>: CI above 0; <span class=\"bad\">red</span>: CI below 0.</p>"
    for target in r.study.targets {
      let rows = r.headline.filter { $0.target == target }
      guard !rows.isEmpty else { continue }
      let arms = unique(rows.map(\.arm))
      let budgets = unique(rows.map(\.budget))
      html +=
        "<h3>Target \(escape(target))</h3><table><tr><th class=\"l\">labels / class</th><th>scratch</th>"
      html += arms.map { "<th>\(escape($0))</th>" }.joined() + "</tr>"
      for b in budgets {
        let scratch = rows.first { $0.budget == b }?.scratch
        html += "<tr><td class=\"l\">\(escape(b))</td><td>\(interval(scratch))</td>"
        for arm in arms {
          guard let row = rows.first(where: { $0.arm == arm && $0.budget == b }) else {
            html += "<td class=\"muted\">—</td>"
            continue
          }
          html +=
            "<td>\(difference(row.difference))<br><span class=\"muted small\">arm \(interval(row.transfer, ci: false))</span></td>"
        }
        html += "</tr>"
      }
      html += "</table>"
      let match = r.labelsToMatch.filter { $0.target == target }
      if !match.isEmpty {
        html +=
          "<p><b>Labels scratch needs to match transfer</b> (log-linear interpolation on scratch's mean learning curve; n.s.: transfer's gain over scratch at that budget is not significant, so no number):</p><table><tr><th class=\"l\">arm</th>"
          + unique(match.map(\.budget)).map { "<th>at \(escape($0)) labels/class</th>" }.joined()
          + "</tr>"
        for arm in unique(match.map(\.arm)) {
          html += "<tr><td class=\"l\">\(escape(arm))</td>"
          for b in unique(match.map(\.budget)) {
            guard let m = match.first(where: { $0.arm == arm && $0.budget == b }) else {
              html += "<td>—</td>"
              continue
            }
            if let n = m.scratchLabelsNeeded, m.note == "reached" {
              html +=
                "<td>\(fmt(n, 0)) <span class=\"muted small\">(\(fmt(n / Double(b)!, 1))×)</span></td>"
            } else if m.note == StudyReport.notSignificant {
              html += "<td class=\"muted\">n.s.</td>"
            } else if m.note == "at or below the smallest budget" {
              html += "<td class=\"muted\">≤ \(fmt(m.scratchLabelsNeeded ?? 0, 0))</td>"
            } else {
              html += "<td class=\"good\">&gt; largest budget</td>"
            }
          }
          html += "</tr>"
        }
        html += "</table>"
      }
      let ttt = r.timeToTarget.filter { $0.target == target }
      if let first = ttt.first {
        html +=
          "<p><b>Time to reach validation \(escape(r.metric.title == "balanced accuracy" ? "metric" : r.metric.title)) ≥ \(fmt(first.targetValue, 3))</b> at \(escape(first.budget)) labels/class (median wall-clock over runs that reached it):</p><table><tr><th class=\"l\">arm</th><th>median time</th><th>runs reaching it</th></tr>"
        for row in ttt {
          let time =
            row.medianSeconds.map { ProgressPrinter.duration($0) }
            ?? (row.runs == 0 ? "<span class=\"muted\">no training epochs</span>" : "not reached")
          html +=
            "<tr><td class=\"l\">\(escape(row.arm))</td><td>\(time)</td><td>\(row.runs == 0 ? "—" : "\(row.reached)/\(row.runs)")</td></tr>"
        }
        html += "</table>"
      }
    }
    return html + baselineTable()
  }

  /// Final target metric of every arm × budget (mean and CI), the table under the headline.
  private func baselineTable() -> String {
    var html = ""
    for target in report.study.targets {
      let curves = report.learningCurves.filter { $0.target == target }
      guard !curves.isEmpty else { continue }
      let budgets = unique(curves.flatMap { $0.points.map(\.budget) })
      html +=
        "<h3>All arms on target \(escape(target)): \(escape(report.metric.title)) (mean [\(pct(report.confidence)) CI], n seeds)</h3><table><tr><th class=\"l\">arm</th>"
        + budgets.map { "<th>\(escape($0))</th>" }.joined() + "</tr>"
      for c in curves {
        html +=
          "<tr><td class=\"l\">\(escape(c.arm))</td>"
          + budgets.map { b in
            c.points.first { $0.budget == b }.map { "<td>\(interval($0.value))</td>" }
              ?? "<td>—</td>"
          }.joined() + "</tr>"
      }
      html += "</table>"
    }
    return html
  }

  private mutating func learningCurves() -> String {
    var figures: [String] = []
    for target in report.study.targets {
      let curves = report.learningCurves.filter { $0.target == target }
      guard !curves.isEmpty else { continue }
      var ticks: [(Double, String)] = []
      for c in curves {
        for p in c.points
        where !ticks.contains(where: { $0.1 == p.budget || abs($0.0 - p.labelsPerClass) < 1e-9 }) {
          ticks.append(
            (p.labelsPerClass, p.budget == "all" ? "all (\(fmt(p.labelsPerClass, 0)))" : p.budget))
        }
      }
      let chart = SVGChart(
        title: "Target \(target): \(report.metric.title) vs labels per class",
        xLabel: "labelled target images per class (log scale)",
        yLabel: "target-test \(report.metric.title)",
        xScale: .log, xTicks: ticks.sorted { $0.0 < $1.0 },
        series: curves.map { c in
          SVGChart.Series(
            name: c.arm, points: c.points.map { ($0.labelsPerClass, $0.value.mean) },
            band: c.points.compactMap { p in
              guard let lo = p.value.lower, let hi = p.value.upper else { return nil }
              return (p.labelsPerClass, lo, hi)
            })
        }, id: nextID())
      figures.append(
        figure(
          chart.render(),
          "Mean over seeds; band: \(pct(report.confidence)) t-interval over seeds. \"all\" sits at the mean number of labelled images per class actually used."
        ))
    }
    return figures.isEmpty
      ? empty("No finished runs yet.") : "<div class=\"charts\">\(figures.joined())</div>"
  }

  private mutating func trainingCurves() -> String {
    var figures: [String] = []
    for target in report.study.targets {
      let series = report.trainingCurves.filter { $0.target == target && !$0.points.isEmpty }
      guard let budget = series.first?.budget else { continue }
      let valSeries = series.map { s in
        SVGChart.Series(
          name: s.arm,
          points: s.points.compactMap { p in p.valMetric.map { (Double(p.epoch), $0) } },
          markerRadius: 2.2)
      }
      let monitor = "validation metric"
      figures.append(
        figure(
          SVGChart(
            title: "Target \(target), \(budget) labels/class: validation vs epoch", xLabel: "epoch",
            yLabel: monitor, series: valSeries, id: nextID()
          ).render(),
          "Mean over seeds of the monitored validation metric (early stopping ends a run's curve).")
      )
      let wallSeries = series.map { s in
        SVGChart.Series(
          name: s.arm, points: s.points.compactMap { p in p.valMetric.map { (p.wallSeconds, $0) } },
          markerRadius: 2.2)
      }
      figures.append(
        figure(
          SVGChart(
            title: "Target \(target), \(budget) labels/class: validation vs wall-clock",
            xLabel: "wall-clock seconds of target training", yLabel: monitor, series: wallSeries,
            id: nextID()
          ).render(), "Same runs against wall-clock time on this machine (see Reproducibility)."))
      let lossSeries = series.map { s in
        SVGChart.Series(
          name: s.arm,
          points: s.points.compactMap { p in p.trainLoss.map { (Double(p.epoch), $0) } },
          markerRadius: 2.2)
      }
      if lossSeries.contains(where: { !$0.points.isEmpty }) {
        figures.append(
          figure(
            SVGChart(
              title: "Target \(target), \(budget) labels/class: training cross-entropy",
              xLabel: "epoch", yLabel: "training cross-entropy", series: lossSeries, id: nextID()
            ).render(),
            "Mean training cross-entropy per epoch (without the weight penalty, so arms compare)."))
      }
    }
    return figures.isEmpty
      ? empty(
        "No per-epoch curves: no arm in this study trains by epochs (baselines and features+logreg have none)."
      ) : "<div class=\"charts\">\(figures.joined())</div>"
  }

  private mutating func domainShift() -> String {
    guard !report.shift.isEmpty else {
      return empty(
        "No shift analysis in the database: the spec's <code>shift.analyses</code> is empty, or this build has no shift analyzer (Metrics integration)."
      )
    }
    var html = ""
    for rec in report.shift {
      html += "<h3>\(escape(rec.source)) → \(escape(rec.target))</h3>"
      if !rec.metrics.isEmpty {
        html +=
          "<table><tr><th class=\"l\">statistic</th><th>value</th><th>\(pct(report.confidence)) CI</th><th>p-value</th><th class=\"l\">how</th></tr>"
        for m in rec.metrics {
          let ci = m.lower.flatMap { lo in m.upper.map { "[\(fmt(lo, 4)), \(fmt($0, 4))]" } } ?? "—"
          html +=
            "<tr><td class=\"l\">\(escape(m.name))</td><td>\(fmt(m.value, 4))</td><td>\(ci)</td><td>\(m.pValue.map(pValue) ?? "—")</td><td class=\"l small\">\(escape(m.note ?? ""))</td></tr>"
        }
        html += "</table>"
      }
      if !rec.imagesPerDomain.isEmpty {
        html +=
          "<p class=\"small muted\">Images per domain: "
          + rec.imagesPerDomain.sorted { $0.key < $1.key }.map { "\(escape($0.key)) \($0.value)" }
          .joined(separator: ", ") + "</p>"
      }
      var figures: [String] = []
      if !rec.histograms.isEmpty {
        let chart = SVGChart(
          title: "Intensity histograms", xLabel: "intensity (\(rec.histograms[0].unit))",
          yLabel: "density",
          series: rec.histograms.map { h in
            let centres = zip(h.edges, h.edges.dropFirst()).map { ($0 + $1) / 2 }
            return SVGChart.Series(
              name: h.domain, points: Array(zip(centres, h.density)).map { ($0.0, $0.1) },
              line: false, markers: false, stepEdges: h.edges)
          }, id: nextID())
        figures.append(
          figure(chart.render(), "Normalised intensity histograms per domain on shared bins."))
      }
      if !rec.embedding.isEmpty {
        let domains = unique(rec.embedding.map(\.domain))
        let chart = SVGChart(
          title: "Feature embedding", xLabel: "component 1", yLabel: "component 2",
          series: domains.map { d in
            SVGChart.Series(
              name: d, points: rec.embedding.filter { $0.domain == d }.map { ($0.x, $0.y) },
              line: false, markerRadius: 2.4, opacity: 0.6)
          }, id: nextID())
        figures.append(
          figure(
            chart.render(), escape(rec.embeddingMethod ?? "2-D embedding of backbone features.")))
      }
      if !figures.isEmpty { html += "<div class=\"charts\">\(figures.joined())</div>" }
      if let headers = rec.headers, !headers.rows.isEmpty {
        html +=
          "<p><b>Acquisition headers</b></p><table><tr><th class=\"l\">attribute</th>"
          + headers.domains.map { "<th>\(escape($0))</th>" }.joined() + "</tr>"
        for row in headers.rows {
          html +=
            "<tr><td class=\"l\">\(escape(row.attribute))</td>"
            + row.values.map { "<td class=\"l\">\(escape($0))</td>" }.joined() + "</tr>"
        }
        html += "</table>"
      }
    }
    // The first distance (ImageNet features) and the source model's own view against its drop.
    let pairs = report.shift.filter { $0.accuracyDrop != nil }
    var names = pairs.first.flatMap { $0.metrics.first.map { [$0.name] } } ?? []
    names.append(StudyReport.sourceModelMMDName)
    var charts: [String] = []
    for name in names where pairs.count >= 2 {
      let measured = pairs.filter { rec in rec.metrics.contains { $0.name == name } }
      guard measured.count >= 2 else { continue }
      let points = measured.map { rec in
        (rec.metrics.first { $0.name == name }!.value, rec.accuracyDrop!)
      }
      let chart = SVGChart(
        title: "Shift distance vs the source model's drop",
        xLabel: name == names.last ? name : "\(name), \(report.study.backbone) ImageNet features",
        yLabel: "\(report.metric.title) drop (source − target)",
        series: [
          SVGChart.Series(
            name: "", points: points, line: false,
            pointLabels: measured.map { "\($0.source)→\($0.target)" })
        ], id: nextID())
      charts.append(
        figure(
          chart.render(),
          "One point per site pair; the drop is the source model's, before adaptation."))
    }
    if !charts.isEmpty { html += "<div class=\"charts\">\(charts.joined())</div>" }
    return html
  }

  private mutating func forgetting() -> String {
    let r = report
    var html = ""
    let rows = r.forgetting
    if rows.isEmpty {
      html += empty(
        "No forgetting measurements: no arm in this study recorded the source metric before and after target adaptation."
      )
    } else {
      html +=
        "<p>Source-test \(escape(r.metric.title)) of the source model before target adaptation and after it; forgetting = before − after (positive: forgotten). Target gain = target-test metric after − before adaptation. <i>With source BN statistics</i>: the source model and the adapted model both scored on the source with BatchNorm statistics re-estimated on source images (each site keeps its own statistics, as AdaBN does); the forgetting left there is what the weights forgot, the rest is the statistics fine-tuning moved to the target. Mean [\(pct(r.confidence)) CI] over seeds.</p>"
      html +=
        "<table><tr><th class=\"l\">target</th><th class=\"l\">arm</th><th>labels/class</th><th>source before</th><th>source after</th><th>forgetting</th><th>source before → after, with source BN statistics</th><th>forgetting, with source BN statistics</th><th>target before</th><th>target after</th><th>target gain</th></tr>"
      for row in rows {
        html +=
          "<tr><td class=\"l\">\(escape(row.target))</td><td class=\"l\">\(escape(row.arm))</td><td>\(escape(row.budget))</td><td>\(interval(row.sourceBefore, ci: false))</td><td>\(interval(row.sourceAfter, ci: false))</td><td>\(interval(row.forgetting))</td><td>\(arrow(row.sourceBeforeOwnStatistics, row.sourceAfterOwnStatistics))</td><td>\(interval(row.forgettingOwnStatistics))</td><td>\(interval(row.targetBefore, ci: false))</td><td>\(interval(row.targetAfter, ci: false))</td><td>\(interval(row.targetGain))</td></tr>"
      }
      html += "</table>"
      var figures: [String] = []
      for target in r.study.targets {
        let candidates = rows.filter {
          $0.target == target && $0.l2spAlpha != nil && $0.forgetting != nil && $0.targetGain != nil
        }
        // The budget with the most α values (the sweep), the largest on ties.
        let budgets = unique(candidates.map(\.budget))
        guard
          let budget = budgets.reversed().max(by: { a, b in
            candidates.filter { $0.budget == a }.count < candidates.filter { $0.budget == b }.count
          })
        else { continue }
        let pts = candidates.filter { $0.budget == budget }.sorted {
          ($0.l2spAlpha ?? 0) < ($1.l2spAlpha ?? 0)
        }
        guard pts.count >= 2 else { continue }
        var series = [
          SVGChart.Series(
            name: "as deployed", points: pts.map { ($0.forgetting!.mean, $0.targetGain!.mean) },
            pointLabels: pts.map { "α=\(compact($0.l2spAlpha!))" },
            errorBars: pts.compactMap { p in
              p.targetGain!.lower.map { (p.forgetting!.mean, $0, p.targetGain!.upper!) }
            })
        ]
        // The same runs with forgetting measured on source BN statistics: the weights' share.
        let own = pts.filter { $0.forgettingOwnStatistics != nil }
        if own.count == pts.count {
          series.append(
            SVGChart.Series(
              name: "source BN statistics",
              points: own.map { ($0.forgettingOwnStatistics!.mean, $0.targetGain!.mean) },
              pointLabels: own.map { "α=\(compact($0.l2spAlpha!))" }))
        }
        let chart = SVGChart(
          title: "Target \(target), \(budget) labels/class: L2-SP trade-off",
          xLabel: "source forgetting (before − after)", yLabel: "target gain (after − before)",
          series: series, id: nextID())
        figures.append(
          figure(
            chart.render(),
            "Each point: full fine-tuning with L2-SP strength α (α = 0: plain full fine-tuning), its source forgetting as deployed and, where measured, with source BatchNorm statistics (what the weights forgot); bars: \(pct(r.confidence)) CI of the target gain. Up and to the left is better."
          ))
      }
      if !figures.isEmpty { html += "<div class=\"charts\">\(figures.joined())</div>" }
    }
    html += "<h3>AdaBN</h3>"
    if r.adaBN.isEmpty {
      html += empty("No AdaBN arm in this study.")
    } else {
      html +=
        "<table><tr><th class=\"l\">target</th><th>labels/class</th><th class=\"l\">arm</th><th class=\"l\">compared with</th><th>with AdaBN</th><th>without</th><th>difference</th></tr>"
      for row in r.adaBN {
        html +=
          "<tr><td class=\"l\">\(escape(row.target))</td><td>\(escape(row.budget))</td><td class=\"l\">\(escape(row.arm))</td><td class=\"l\">\(escape(row.baseline))</td><td>\(interval(row.withAdaBN, ci: false))</td><td>\(interval(row.without, ci: false))</td><td>\(difference(row.difference))</td></tr>"
      }
      html += "</table>"
    }
    if !r.weightDistances.isEmpty {
      html += "<h3>Weight drift ‖w − w⁰‖ per stage</h3>"
      let stages = unique(r.weightDistances.map(\.stage))
      html +=
        "<table><tr><th class=\"l\">target</th><th class=\"l\">arm</th><th>labels/class</th>"
        + stages.map { "<th>\(escape($0))</th>" }.joined() + "</tr>"
      for key in unique(r.weightDistances.map { "\($0.target)\u{1}\($0.arm)\u{1}\($0.budget)" }) {
        let parts = key.split(separator: "\u{1}").map(String.init)
        html +=
          "<tr><td class=\"l\">\(escape(parts[0]))</td><td class=\"l\">\(escape(parts[1]))</td><td>\(escape(parts[2]))</td>"
        for stage in stages {
          let v = r.weightDistances.first {
            $0.target == parts[0] && $0.arm == parts[1] && $0.budget == parts[2]
              && $0.stage == stage
          }
          html += "<td>\(v.map { fmt($0.distance.mean, 3) } ?? "—")</td>"
        }
        html += "</tr>"
      }
      html += "</table>"
    }
    return html
  }

  private mutating func calibration() -> String {
    let r = report
    var html = ""
    guard !r.calibration.isEmpty else { return empty("No finished runs yet.") }
    html +=
      "<p>Each arm at its largest label budget with results. ECE: expected calibration error of the top-label confidence (lower is better).</p>"
    html +=
      "<table><tr><th class=\"l\">target</th><th class=\"l\">arm</th><th>labels/class</th><th>ECE</th></tr>"
    for row in r.calibration {
      html +=
        "<tr><td class=\"l\">\(escape(row.target))</td><td class=\"l\">\(escape(row.arm))</td><td>\(escape(row.budget))</td><td>\(interval(row.ece))</td></tr>"
    }
    html += "</table>"
    var figures: [String] = []
    for target in r.study.targets {
      let rows = r.calibration.filter { $0.target == target && !$0.bins.isEmpty }
      guard !rows.isEmpty else { continue }
      let chart = SVGChart(
        title: "Target \(target): reliability (each arm at its largest budget)",
        xLabel: "mean predicted confidence", yLabel: "observed accuracy",
        xDomain: 0...1, yDomain: 0...1,
        series: rows.map { row in
          SVGChart.Series(name: row.arm, points: row.bins.map { ($0.meanConfidence, $0.accuracy) })
        }, diagonal: true, id: nextID())
      figures.append(
        figure(
          chart.render(), "Bins pooled over seeds (count-weighted); dashed: perfect calibration."))
    }
    if !figures.isEmpty { html += "<div class=\"charts\">\(figures.joined())</div>" }
    html += "<h3>Subgroups</h3>"
    if r.subgroups.isEmpty {
      html += empty("No subgroup attributes (domain, sex, age band) in the evaluated data.")
    } else {
      let groups = unique(r.subgroups.map { "\($0.attribute)=\($0.value)" })
      html +=
        "<p>Target-test accuracy per subgroup, mean over seeds (n = images in the subgroup).</p><table><tr><th class=\"l\">target</th><th class=\"l\">arm</th>"
        + groups.map { g in
          let n = r.subgroups.first { "\($0.attribute)=\($0.value)" == g }?.count ?? 0
          return "<th>\(escape(g))<br><span class=\"muted small\">n=\(n)</span></th>"
        }.joined() + "</tr>"
      for key in unique(r.subgroups.map { "\($0.target)\u{1}\($0.arm)" }) {
        let parts = key.split(separator: "\u{1}").map(String.init)
        html +=
          "<tr><td class=\"l\">\(escape(parts[0]))</td><td class=\"l\">\(escape(parts[1]))</td>"
        for g in groups {
          let v = r.subgroups.first {
            $0.target == parts[0] && $0.arm == parts[1] && "\($0.attribute)=\($0.value)" == g
          }
          html += "<td>\(v.map { interval($0.accuracy, ci: false) } ?? "—")</td>"
        }
        html += "</tr>"
      }
      html += "</table>"
    }
    return html
  }

  private func reproducibility() -> String {
    let r = report
    var html = "<table>"
    func row(_ k: String, _ v: String) {
      html += "<tr><th class=\"l\">\(escape(k))</th><td class=\"l\">\(v)</td></tr>"
    }
    row("spec file", "<code>\(escape(r.study.specFile))</code>")
    row("seeds", r.study.seeds.map(String.init).joined(separator: ", "))
    if let augmentation = r.study.augmentation { row("augmentation", escape(augmentation)) }
    row(
      "runs",
      "\(r.runs.count) current (\(r.runs.filter { $0.status == "finished" }.count) finished, \(r.failedRuns.count) failed, \(r.runs.filter { $0.status == "pending" || $0.status == "running" }.count) not run yet)"
        + (r.staleRuns > 0
          ? "; \(r.staleRuns) runs of earlier specs kept in the database, not shown" : ""))
    row(
      "total compute", "\(ProgressPrinter.duration(r.totalComputeSeconds)) of run wall-clock time")
    row("study created / updated", "\(escape(r.study.createdAt)) / \(escape(r.study.updatedAt))")
    for (k, v) in r.environment.sorted(by: { $0.key < $1.key }) {
      row(k, "<code>\(escape(v))</code>")
    }
    html += "</table>"
    if !r.commands.isEmpty {
      html +=
        "<h3>Commands</h3><pre>"
        + r.commands.map { "\(escape($0.at))  \(escape($0.command))" }.joined(separator: "\n")
        + "</pre>"
    }
    html += "<h3>Failed runs</h3>"
    if r.failedRuns.isEmpty {
      html += "<p>None.</p>"
    } else {
      html +=
        "<table><tr><th class=\"l\">arm</th><th>target</th><th>labels/class</th><th>seed</th><th>attempts</th><th class=\"l\">error</th></tr>"
      for f in r.failedRuns {
        html +=
          "<tr><td class=\"l\">\(escape(f.arm))</td><td>\(escape(f.target))</td><td>\(escape(f.budget))</td><td>\(f.seed)</td><td>\(f.attempts)</td><td class=\"l\">\(escape(f.error ?? "—"))</td></tr>"
      }
      html += "</table>"
    }
    html += "<h3>Spec</h3><pre>\(escape(r.study.specYAML))</pre>"
    return html
  }

  // MARK: - Formatting

  private mutating func nextID() -> Int {
    chartCounter += 1
    return chartCounter
  }

  private func figure(_ svg: String, _ caption: String) -> String {
    "<figure>\(svg)<figcaption>\(caption)</figcaption></figure>"
  }

  private func empty(_ text: String) -> String { "<p class=\"note\">\(text)</p>" }

  private func unique(_ values: [String]) -> [String] {
    var seen = Set<String>()
    return values.filter { seen.insert($0).inserted }
  }

  private func pct(_ c: Double) -> String { "\(fmt(c * 100, 0)) %" }

  /// "before → after" means of two intervals, with the seed count.
  private func arrow(_ before: Interval?, _ after: Interval?) -> String {
    guard let before, let after else { return "<span class=\"muted\">—</span>" }
    return
      "\(fmt(before.mean, 3)) → \(fmt(after.mean, 3)) <span class=\"muted small\">n=\(after.n)</span>"
  }

  private func interval(_ i: Interval?, ci: Bool = true) -> String {
    guard let i else { return "<span class=\"muted\">—</span>" }
    var s = fmt(i.mean, 3)
    if ci, let lo = i.lower, let hi = i.upper {
      s += " <span class=\"muted small\">[\(fmt(lo, 3)), \(fmt(hi, 3))]</span>"
    }
    return s + " <span class=\"muted small\">n=\(i.n)</span>"
  }

  private func difference(_ d: PairedTest?) -> String {
    guard let d else { return "<span class=\"muted\">no paired seeds</span>" }
    let sign = d.difference >= 0 ? "+" : "−"
    var cls = ""
    // Colour only from 3 paired seeds up: with 2 the t interval rests on one degree of freedom.
    if let lo = d.lower, let hi = d.upper, d.n >= 3 {
      cls = lo > 0 ? "good" : (hi < 0 ? "bad" : "")
    }
    var s = "<span class=\"\(cls)\">\(sign)\(fmt(abs(d.difference), 3))</span>"
    if let lo = d.lower, let hi = d.upper {
      s += " <span class=\"small\">[\(fmt(lo, 3)), \(fmt(hi, 3))]</span>"
    }
    if let p = d.pValue, d.n < 3 {
      s +=
        "<br><span class=\"small warn\">\(pValue(p)), n=\(d.n): too few seeds to trust "
        + "(1 degree of freedom); run 3 or more</span>"
    } else if let p = d.pValue {
      s += "<br><span class=\"small\">\(pValue(p)), n=\(d.n)</span>"
    } else {
      s +=
        "<br><span class=\"muted small\">\(d.n < 2 ? "n=\(d.n): no test" : "no variance across seeds, n=\(d.n)")</span>"
    }
    return s
  }

  private func pValue(_ p: Double) -> String { p < 0.001 ? "p &lt; 0.001" : "p = \(fmt(p, 3))" }
}

/// Shortest decimal spelling of a setting (0.1, 1, 0.01).
func compact(_ v: Double) -> String {
  v == v.rounded() ? String(Int(v)) : String(v)
}

/// Fixed-decimal formatting; "—" for non-finite values.
func fmt(_ v: Double, _ decimals: Int) -> String {
  guard v.isFinite else { return "—" }
  return String(format: "%.\(decimals)f", v)
}
