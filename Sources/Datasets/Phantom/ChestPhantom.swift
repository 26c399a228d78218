import Randomness

/// Renders CT-like axial chest slices in Hounsfield units.
///
/// The anatomy is analytic (ellipses with harmonic deformation) so rendering costs a few
/// operations per pixel: body outline with subcutaneous fat and chest-wall muscle, two lungs
/// with smooth parenchymal texture and a branching vessel tree plus end-on vessel dots (nodule
/// mimics), a mediastinum with heart and descending aorta, spine, ribs, sternum and the table.
/// All sizes are in millimetres; the site's field of view maps them onto pixels.
struct ChestPhantom {
  // MARK: - Patient and slice parameters

  /// Per-patient anatomy, drawn once from the patient's stream and shared by its slices.
  struct Patient {
    var female: Bool
    var age: Int
    var halfWidth: Double
    var halfDepth: Double
    var fat: Double
    var muscle: Double
    var offsetX: Double
    var offsetY: Double
    var lungHU: Double
    var muscleHU: Double
    var fatHU: Double
    var boneHU: Double
    var lungHarmonics: [(amp: Double, phase: Double)]
    var heartScale: Double
    var lesion: Lesion?
    var seed: UInt64
  }

  /// A lesion in patient coordinates (mm from the cavity centre).
  struct Lesion {
    var kind: PhantomLesion
    var x: Double
    var y: Double
    var radius: Double
    var contrast: Double
    var edge: Double
    var spikes: [(angle: Double, width: Double, length: Double)]
    var lobulation: Double
    var lobePhase: Double
  }

  /// Draws a patient from `spec` with `rng`.
  static func makePatient(
    spec: PhantomSpec, lesion kind: PhantomLesion, rng: inout SeededGenerator
  ) -> Patient {
    let a = spec.anatomy
    let female = rng.bernoulli(a.femaleFraction)
    let age = rng.integer(a.ageYears[0]...a.ageYears[1])
    var halfWidth = rng.uniform(a.bodyHalfWidthMM[0], a.bodyHalfWidthMM[1])
    if female { halfWidth *= 0.93 }
    let halfDepth = halfWidth * rng.uniform(a.bodyAspect[0], a.bodyAspect[1])
    var p = Patient(
      female: female, age: age, halfWidth: halfWidth, halfDepth: halfDepth,
      fat: rng.uniform(a.fatMM[0], a.fatMM[1]) * (female ? 1.25 : 1),
      muscle: rng.uniform(a.muscleMM[0], a.muscleMM[1]) * (female ? 0.85 : 1),
      offsetX: rng.uniform(-12, 12), offsetY: rng.uniform(-10, 10),
      lungHU: rng.uniform(a.lungHU[0], a.lungHU[1]) + a.lungHUPerYear * Double(age - 50),
      muscleHU: rng.uniform(a.muscleHU[0], a.muscleHU[1]),
      fatHU: rng.uniform(a.fatHU[0], a.fatHU[1]),
      boneHU: rng.uniform(a.boneHU[0], a.boneHU[1]),
      lungHarmonics: (0..<4).map { k in
        (amp: rng.uniform(0, 0.05 / Double(k + 1)), phase: rng.uniform(0, 2 * .pi))
      },
      heartScale: rng.uniform(0.85, 1.15), lesion: nil, seed: rng.next())
    if kind != .normal {
      let l: PhantomSpec.Lesion
      switch kind {
      case .solidNodule: l = spec.lesions.solidNodule
      case .spiculatedNodule: l = spec.lesions.spiculatedNodule
      default: l = spec.lesions.groundGlass
      }
      let radius = rng.uniform(l.radiusMM[0], l.radiusMM[1])
      var spikes: [(angle: Double, width: Double, length: Double)] = []
      if let s = l.spikes, let len = l.spikeLength {
        let n = rng.integer(s[0]...s[1])
        for _ in 0..<n {
          spikes.append(
            (
              angle: rng.uniform(0, 2 * .pi), width: rng.uniform(0.07, 0.16),
              length: rng.uniform(len[0], len[1])
            ))
        }
      }
      let lob = l.lobulation.map { rng.uniform($0[0], $0[1]) } ?? 0
      // Place the lesion inside a lung, away from the pleura and the heart.
      let geometry = Geometry(patient: p, sliceScale: 1, sliceIndex: 0)
      var x = 0.0
      var y = 0.0
      for _ in 0..<200 {
        let side: Double = rng.bernoulli(0.5) ? -1 : 1
        let lung = side < 0 ? geometry.rightLung : geometry.leftLung
        let t = rng.uniform(0, 2 * .pi)
        let r = rng.uniform(0, 0.72).squareRoot() * 0.95
        x = lung.cx + lung.a * r * _cos(t)
        y = lung.cy + lung.b * r * _sin(t)
        if geometry.lungCoverage(x, y) > 0.99 && geometry.distanceToLungEdge(x, y) > radius * 0.8 {
          break
        }
      }
      p.lesion = Lesion(
        kind: kind, x: x, y: y, radius: radius,
        contrast: rng.uniform(l.contrastHU[0], l.contrastHU[1]),
        edge: rng.uniform(l.edgeMM[0], l.edgeMM[1]), spikes: spikes, lobulation: lob,
        lobePhase: rng.uniform(0, 2 * .pi))
    }
    return p
  }

  // MARK: - Geometry of one slice

  struct Ellipse {
    var cx: Double, cy: Double, a: Double, b: Double
    @inline(__always) func r2(_ x: Double, _ y: Double) -> Double {
      let dx = (x - cx) / a
      let dy = (y - cy) / b
      return dx * dx + dy * dy
    }
  }

  /// The organs of one slice in mm, cavity-centred (x to the patient's left = image right).
  struct Geometry {
    var body: Ellipse
    var muscleOuter: Ellipse
    var cavity: Ellipse
    var rightLung: Ellipse
    var leftLung: Ellipse
    var heart: Ellipse
    var aorta: Ellipse
    var vertebra: Ellipse
    var canal: Ellipse
    var spinous: Ellipse
    var sternum: Ellipse
    var breasts: [Ellipse]
    var harmonics: [(amp: Double, phase: Double)]

    init(patient p: Patient, sliceScale s: Double, sliceIndex: Int) {
      body = Ellipse(cx: 0, cy: 0, a: p.halfWidth, b: p.halfDepth)
      muscleOuter = Ellipse(cx: 0, cy: 0, a: p.halfWidth - p.fat, b: p.halfDepth - p.fat)
      let ca = p.halfWidth - p.fat - p.muscle
      let cb = p.halfDepth - p.fat - p.muscle
      cavity = Ellipse(cx: 0, cy: 0, a: ca, b: cb)
      rightLung = Ellipse(cx: -0.47 * ca, cy: -0.02 * cb, a: 0.44 * ca * s, b: 0.80 * cb * s)
      leftLung = Ellipse(cx: 0.49 * ca, cy: -0.02 * cb, a: 0.42 * ca * s, b: 0.78 * cb * s)
      heart = Ellipse(
        cx: 0.10 * ca, cy: -0.18 * cb, a: 0.30 * ca * p.heartScale, b: 0.42 * cb * p.heartScale)
      aorta = Ellipse(cx: 0.10 * ca, cy: 0.52 * cb, a: 12, b: 12)
      vertebra = Ellipse(cx: 0, cy: 0.70 * cb, a: 17, b: 15)
      canal = Ellipse(cx: 0, cy: 0.70 * cb + 22, a: 7, b: 7)
      spinous = Ellipse(cx: 0, cy: 0.70 * cb + 36, a: 5, b: 12)
      sternum = Ellipse(cx: 0, cy: -cb + 6, a: 14, b: 6)
      breasts =
        p.female
        ? [
          Ellipse(
            cx: -0.45 * p.halfWidth, cy: -0.78 * p.halfDepth, a: 0.28 * p.halfWidth,
            b: 0.22 * p.halfDepth),
          Ellipse(
            cx: 0.45 * p.halfWidth, cy: -0.78 * p.halfDepth, a: 0.28 * p.halfWidth,
            b: 0.22 * p.halfDepth),
        ] : []
      harmonics = p.lungHarmonics
      _ = sliceIndex
    }

    /// Fraction in [0, 1] of lung at (x, y): 1 deep inside, soft at the pleura.
    @inline(__always) func lungCoverage(_ x: Double, _ y: Double) -> Double {
      if heart.r2(x, y) < 1 || aorta.r2(x, y) < 1.6 || vertebra.r2(x, y) < 2.2 { return 0 }
      let lung = x < 0 ? rightLung : leftLung
      let r2 = lung.r2(x, y)
      if r2 > 1.44 { return 0 }
      var limit = 1.0
      if r2 > 0.64 {
        let t = _atan2(y - lung.cy, x - lung.cx)
        for (k, h) in harmonics.enumerated() { limit += h.amp * _cos(Double(k + 2) * t + h.phase) }
      }
      let r = r2.squareRoot()
      return min(max((limit - r) * 25, 0), 1)
    }

    /// Approximate distance (mm) from (x, y) to the lung boundary (positive inside).
    func distanceToLungEdge(_ x: Double, _ y: Double) -> Double {
      let lung = x < 0 ? rightLung : leftLung
      let r = lung.r2(x, y).squareRoot()
      var d = (1 - r) * min(lung.a, lung.b)
      d = min(d, (heart.r2(x, y).squareRoot() - 1) * min(heart.a, heart.b))
      return d
    }
  }

  // MARK: - Rendering

  /// Renders slice `sliceIndex` of `patient` into `hu` (size × size, row-major), true HU.
  static func render(
    patient p: Patient, sliceIndex: Int, size: Int, spacing: Double, spec: PhantomSpec,
    into hu: UnsafeMutableBufferPointer<Float>
  ) {
    var rng = SeededGenerator(seed: p.seed, stream: [UInt64(sliceIndex), 1])
    let scale = rng.uniform(0.94, 1.06)
    let g = Geometry(patient: p, sliceScale: scale, sliceIndex: sliceIndex)
    let half = Double(size) / 2
    let ox = p.offsetX + rng.uniform(-2, 2)
    let oy = p.offsetY + rng.uniform(-2, 2)
    // Coarse value-noise grid for parenchymal texture (bilinear, 12 × 12 cells over the FOV).
    let cells = 12
    var grid = [Double](repeating: 0, count: (cells + 1) * (cells + 1))
    for i in grid.indices { grid[i] = rng.uniform(-1, 1) }
    let textureHU = spec.anatomy.textureHU
    let fov = spacing * Double(size)
    let tableY = p.halfDepth + 18
    // Ribs: pairs of bone ellipses around the chest wall.
    var ribs: [Ellipse] = []
    let ribCount = rng.integer(7...9)
    for k in 0..<ribCount {
      for side in [-1.0, 1.0] {
        let t =
          0.25 * .pi + Double(k) / Double(ribCount - 1) * 0.95 * .pi + rng.uniform(-0.05, 0.05)
        let ra = g.cavity.a + p.muscle * 0.45
        let rb = g.cavity.b + p.muscle * 0.45
        // t measured from posterior (+y) around to anterior.
        let x = side * ra * _sin(t)
        let y = rb * _cos(t)
        ribs.append(Ellipse(cx: x, cy: y, a: 5.5, b: 4.0))
      }
    }

    // Pass 1: tissues.
    for i in 0..<size {
      let y = (Double(i) + 0.5 - half) * spacing - oy
      for j in 0..<size {
        let x = (Double(j) + 0.5 - half) * spacing - ox
        var v = -1000.0
        // Table below the patient.
        if y > tableY && y < tableY + 7 && abs(x) < 0.45 * fov { v = 150 }
        let rb = g.body.r2(x, y)
        var inBody = rb < 1
        if !inBody { for e in g.breasts where e.r2(x, y) < 1 { inBody = true } }
        if inBody {
          v = p.fatHU
          if g.breasts.contains(where: { $0.r2(x, y) < 0.45 }) { v = p.muscleHU - 15 }
          if g.muscleOuter.r2(x, y) < 1 {
            v = p.muscleHU
            if g.cavity.r2(x, y) < 1 {
              v = p.muscleHU - 8  // mediastinal soft tissue
              let lc = g.lungCoverage(x, y)
              if lc > 0 {
                let u = (x + fov / 2) / fov * Double(cells)
                let w = (y + fov / 2) / fov * Double(cells)
                let ui = min(max(Int(u), 0), cells - 1)
                let wi = min(max(Int(w), 0), cells - 1)
                let fu = min(max(u - Double(ui), 0), 1)
                let fw = min(max(w - Double(wi), 0), 1)
                let n00 = grid[wi * (cells + 1) + ui]
                let n01 = grid[wi * (cells + 1) + ui + 1]
                let n10 = grid[(wi + 1) * (cells + 1) + ui]
                let n11 = grid[(wi + 1) * (cells + 1) + ui + 1]
                let n = (n00 * (1 - fu) + n01 * fu) * (1 - fw) + (n10 * (1 - fu) + n11 * fu) * fw
                let lungV = p.lungHU + textureHU * n + 25 * (y / g.cavity.b)  // dependent density
                v = v * (1 - lc) + lungV * lc
              }
              if g.heart.r2(x, y) < 1 { v = p.muscleHU }
              if g.aorta.r2(x, y) < 1 { v = p.muscleHU + 5 }
              if g.sternum.r2(x, y) < 1 { v = g.sternum.r2(x, y) > 0.5 ? p.boneHU : 220 }
            }
          }
          let vr = g.vertebra.r2(x, y)
          if vr < 1 { v = vr > 0.6 ? p.boneHU : 230 }
          let cr = g.canal.r2(x, y)
          if cr < 1 { v = 15 } else if cr < 1.8 && y > g.canal.cy - 4 { v = p.boneHU }
          if g.spinous.r2(x, y) < 1 { v = p.boneHU * 0.9 }
        }
        hu[i * size + j] = Float(v)
      }
    }
    // Ribs: stamp in their bounding boxes.
    for e in ribs {
      stamp(hu, size: size, spacing: spacing, ox: ox, oy: oy, cx: e.cx, cy: e.cy, radius: e.a + 1) {
        x, y, _ in
        let r = e.r2(x, y)
        return r < 1 ? Float(r > 0.45 ? p.boneHU : 200) : nil
      }
    }

    // Pass 2: vessels (branching trees from each hilum, plus end-on dots), only inside lung.
    let vesselHU = 40.0
    var segments: [(x0: Double, y0: Double, x1: Double, y1: Double, r: Double, w: Double)] = []
    for side in [-1.0, 1.0] {
      let lung = side < 0 ? g.rightLung : g.leftLung
      let hx = lung.cx - side * 0.55 * lung.a
      let hy = lung.cy - 0.05 * lung.b
      let trunks = rng.integer(3...4)
      for k in 0..<trunks {
        let base = side < 0 ? Double.pi : 0
        let angle =
          base + side * (-0.9 + 1.8 * Double(k) / Double(max(trunks - 1, 1)))
          + rng.uniform(-0.2, 0.2)
        grow(
          &segments, &rng, x: hx, y: hy, angle: angle, length: 0.30 * lung.a * 1.6,
          radius: 2.6, depth: spec.anatomy.vesselDepth)
      }
    }
    for s in segments {
      let cx = (s.x0 + s.x1) / 2
      let cy = (s.y0 + s.y1) / 2
      let reach =
        ((s.x1 - s.x0) * (s.x1 - s.x0) + (s.y1 - s.y0) * (s.y1 - s.y0)).squareRoot() / 2
        + s.r + spacing
      stamp(hu, size: size, spacing: spacing, ox: ox, oy: oy, cx: cx, cy: cy, radius: reach) {
        x, y, old in
        let d = distanceToSegment(x, y, s.x0, s.y0, s.x1, s.y1)
        let cover = min(max((s.r - d) / spacing + 0.5, 0), 1)
        guard cover > 0 else { return nil }
        let lc = g.lungCoverage(x, y)
        guard lc > 0 else { return nil }
        return old + (Float(vesselHU) - old) * Float(cover * lc * s.w)
      }
    }
    let dots = rng.integer(spec.anatomy.vesselDots[0]...spec.anatomy.vesselDots[1])
    for side in [-1.0, 1.0] {
      let lung = side < 0 ? g.rightLung : g.leftLung
      for _ in 0..<dots {
        let t = rng.uniform(0, 2 * .pi)
        let rr = rng.uniform(0, 0.8).squareRoot()
        let cx = lung.cx + lung.a * rr * _cos(t)
        let cy = lung.cy + lung.b * rr * _sin(t)
        let r = rng.uniform(1.0, 2.6)
        stamp(hu, size: size, spacing: spacing, ox: ox, oy: oy, cx: cx, cy: cy, radius: r + spacing)
        {
          x, y, old in
          let d = ((x - cx) * (x - cx) + (y - cy) * (y - cy)).squareRoot()
          let cover = min(max((r - d) / spacing + 0.5, 0), 1)
          guard cover > 0 else { return nil }
          let lc = g.lungCoverage(x, y)
          return lc > 0 ? old + (Float(vesselHU) - old) * Float(cover * lc) : nil
        }
      }
    }

    // Pass 3: the lesion (its cross-section varies from slice to slice).
    if let l = p.lesion {
      let section = rng.uniform(0.65, 1.0)
      let r0 = l.radius * section
      let cx = l.x + rng.uniform(-1.5, 1.5)
      let cy = l.y + rng.uniform(-1.5, 1.5)
      let maxSpike = l.spikes.map(\.length).max() ?? 0
      let reach = r0 * (1 + l.lobulation + maxSpike) + 4 * l.edge + 2 * spacing
      let lesionHU = l.contrast
      stamp(hu, size: size, spacing: spacing, ox: ox, oy: oy, cx: cx, cy: cy, radius: reach) {
        x, y, old in
        let dx = x - cx
        let dy = y - cy
        let d = (dx * dx + dy * dy).squareRoot()
        var radius = r0
        if l.lobulation > 0 || !l.spikes.isEmpty {
          let t = _atan2(dy, dx)
          radius *= 1 + l.lobulation * _cos(3 * t + l.lobePhase)
          for s in l.spikes {
            var dt = abs(t - s.angle).truncatingRemainder(dividingBy: 2 * .pi)
            if dt > .pi { dt = 2 * .pi - dt }
            if dt < s.width { radius += r0 * s.length * (1 - dt / s.width) }
          }
        }
        var profile = 1 / (1 + _exp((d - radius) / l.edge))
        if l.kind == .groundGlass {
          profile *= 0.75 + 0.25 * _cos(dx * 0.9 + l.lobePhase) * _cos(dy * 0.7)
        }
        guard profile > 0.002 else { return nil }
        // Lesions live in the lung; where they touch soft tissue they do not add density.
        let lc = g.lungCoverage(x, y)
        return old + Float(lesionHU * profile * max(lc, 0.2))
      }
    }
  }

  /// Adds a vessel tree: a segment then two children, recursively.
  static func grow(
    _ segments: inout [(x0: Double, y0: Double, x1: Double, y1: Double, r: Double, w: Double)],
    _ rng: inout SeededGenerator, x: Double, y: Double, angle: Double, length: Double,
    radius: Double, depth: Int
  ) {
    let len = length * rng.uniform(0.75, 1.2)
    let x1 = x + len * _cos(angle)
    let y1 = y + len * _sin(angle)
    // Oblique vessels cross the slice only partly (partial volume): a per-segment weight.
    segments.append((x0: x, y0: y, x1: x1, y1: y1, r: radius, w: rng.uniform(0.35, 1)))
    guard depth > 0, radius * 0.68 >= 0.6 else { return }
    let spread = rng.uniform(0.3, 0.7)
    for sign in [-1.0, 1.0] {
      grow(
        &segments, &rng, x: x1, y: y1, angle: angle + sign * spread + rng.uniform(-0.15, 0.15),
        length: length * 0.72, radius: radius * 0.68, depth: depth - 1)
    }
  }

  @inline(__always)
  static func distanceToSegment(
    _ x: Double, _ y: Double, _ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double
  ) -> Double {
    let vx = x1 - x0
    let vy = y1 - y0
    let wx = x - x0
    let wy = y - y0
    let len2 = vx * vx + vy * vy
    let t = len2 > 0 ? min(max((wx * vx + wy * vy) / len2, 0), 1) : 0
    let dx = wx - t * vx
    let dy = wy - t * vy
    return (dx * dx + dy * dy).squareRoot()
  }

  /// Calls `body(x, y, old)` for every pixel within `radius` mm of (cx, cy); a non-nil result
  /// replaces the pixel.
  @inline(__always)
  static func stamp(
    _ hu: UnsafeMutableBufferPointer<Float>, size: Int, spacing: Double, ox: Double, oy: Double,
    cx: Double, cy: Double, radius: Double, _ body: (Double, Double, Float) -> Float?
  ) {
    let half = Double(size) / 2
    let j0 = max(Int(((cx + ox - radius) / spacing + half).rounded(.down)), 0)
    let j1 = min(Int(((cx + ox + radius) / spacing + half).rounded(.up)), size - 1)
    let i0 = max(Int(((cy + oy - radius) / spacing + half).rounded(.down)), 0)
    let i1 = min(Int(((cy + oy + radius) / spacing + half).rounded(.up)), size - 1)
    guard j0 <= j1, i0 <= i1 else { return }
    for i in i0...i1 {
      let y = (Double(i) + 0.5 - half) * spacing - oy
      for j in j0...j1 {
        let x = (Double(j) + 0.5 - half) * spacing - ox
        if let v = body(x, y, hu[i * size + j]) { hu[i * size + j] = v }
      }
    }
  }
}

#if canImport(Glibc)
  import Glibc
  @inline(__always) func _atan2(_ y: Double, _ x: Double) -> Double { Glibc.atan2(y, x) }
  @inline(__always) func _exp(_ x: Double) -> Double { Glibc.exp(x) }
#else
  import Darwin
  @inline(__always) func _atan2(_ y: Double, _ x: Double) -> Double { Darwin.atan2(y, x) }
  @inline(__always) func _exp(_ x: Double) -> Double { Darwin.exp(x) }
#endif
