/// A lookup table (Modality LUT Sequence, VOI LUT Sequence, palette channel): input values
/// below `firstMapped` map to the first entry, above the last input to the last entry.
public struct LookupTable: Sendable, Equatable {
  /// The first input value mapped (LUT Descriptor value 2; may be negative).
  public let firstMapped: Int
  /// Bits per entry (LUT Descriptor value 3).
  public let bitsPerEntry: Int
  /// The table entries, as numbers.
  public let entries: [Float]

  /// A table from its descriptor values and entries.
  public init(firstMapped: Int, bitsPerEntry: Int, entries: [Float]) {
    precondition(!entries.isEmpty, "LookupTable needs at least one entry.")
    self.firstMapped = firstMapped
    self.bitsPerEntry = bitsPerEntry
    self.entries = entries
  }

  /// The entry for input `value` (clamped to the table).
  @inline(__always)
  public func callAsFunction(_ value: Int) -> Float {
    let index = value - firstMapped
    if index <= 0 { return entries[0] }
    if index >= entries.count { return entries[entries.count - 1] }
    return entries[index]
  }
}

/// The Modality LUT: how stored values become modality values (e.g. Hounsfield units).
public enum ModalityLUT: Sendable, Equatable {
  /// No transform (no Rescale attributes, or a colour image).
  case identity
  /// `stored * slope + intercept`, computed in double precision, rounded once to Float32.
  case rescale(slope: Double, intercept: Double)
  /// The Modality LUT Sequence's first table.
  case table(LookupTable)

  /// Applies the transform to one stored value.
  public func callAsFunction(_ stored: Int) -> Float {
    switch self {
    case .identity: return Float(stored)
    case .rescale(let slope, let intercept): return Float(Double(stored) * slope + intercept)
    case .table(let table): return table(stored)
    }
  }
}
