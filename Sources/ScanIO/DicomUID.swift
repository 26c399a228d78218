import Interchange

/// Deterministic DICOM UIDs.
public enum DicomUID {
  /// A valid UID under the "2.25" (UUID-derived) root computed from `seed`: the same seed
  /// always gives the same UID, different seeds practically never collide.
  public static func derived(from seed: String) -> String {
    let d = sha256Digest(Array(seed.utf8))
    // 2.25.<decimal of a 120-bit integer>: at most 39 digits, within the 64-char UID limit.
    var words = (0..<15).map { UInt32(d[$0]) }  // base-256 digits, most significant first
    var digits: [UInt8] = []
    while words.contains(where: { $0 != 0 }) {
      var remainder: UInt32 = 0
      for i in 0..<words.count {
        let value = remainder << 8 | words[i]
        words[i] = value / 10
        remainder = value % 10
      }
      digits.append(UInt8(remainder))
    }
    let decimal = digits.isEmpty ? "0" : String(digits.reversed().map { Character(String($0)) })
    return "2.25." + decimal
  }
}
