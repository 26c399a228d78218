import Foundation

/// The one JSON coder of MedTransfer: study stores, run folders (`config.json`,
/// `summary.json`, `metrics.jsonl`), reports, caches and every `--json` output.
///
/// Keys are sorted and slashes are not escaped, so equal values encode to equal bytes (run
/// hashes are SHA-256s of `.canonical` output and must not change). Non-finite numbers, which
/// a diverged run or an empty subgroup can produce, are written as the strings "nan", "inf"
/// and "-inf" instead of failing.
public enum JSONCoding {
  /// How the output is laid out.
  public enum Style: Sendable {
    /// No whitespace: for hashing and for JSON Lines.
    case canonical
    /// Indented: for files people read.
    case pretty
  }

  /// An encoder of the given style.
  public static func encoder(_ style: Style = .pretty) -> JSONEncoder {
    let e = JSONEncoder()
    e.outputFormatting =
      style == .pretty
      ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
      : [.sortedKeys, .withoutEscapingSlashes]
    e.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return e
  }

  /// The matching decoder.
  public static func decoder() -> JSONDecoder {
    let d = JSONDecoder()
    d.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return d
  }

  /// `value` encoded in `style`.
  public static func encode<T: Encodable>(_ value: T, _ style: Style = .pretty) throws -> Data {
    try encoder(style).encode(value)
  }

  /// `value` as canonical JSON text.
  public static func canonicalString<T: Encodable>(_ value: T) throws -> String {
    String(decoding: try encode(value, .canonical), as: UTF8.self)
  }
}
