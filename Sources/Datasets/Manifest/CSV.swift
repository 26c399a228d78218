import Foundation

/// Minimal RFC 4180 CSV reading and writing (quoted fields, doubled quotes, CRLF or LF).
public enum CSV {
  /// Parses `text` into records; each record carries its 1-based line number (where it starts).
  public static func parse(_ text: String) -> [(line: Int, fields: [String])] {
    var records: [(line: Int, fields: [String])] = []
    var fields: [String] = []
    var field = ""
    var inQuotes = false
    var line = 1
    var recordLine = 1
    var iterator = text.unicodeScalars.makeIterator()
    var pending: Unicode.Scalar? = nil
    var sawAny = false
    func next() -> Unicode.Scalar? {
      if let p = pending {
        pending = nil
        return p
      }
      return iterator.next()
    }
    while let c = next() {
      if inQuotes {
        if c == "\"" {
          if let n = next() {
            if n == "\"" {
              field.unicodeScalars.append("\"")
            } else {
              inQuotes = false
              pending = n
            }
          } else {
            inQuotes = false
          }
        } else {
          if c == "\n" { line += 1 }
          field.unicodeScalars.append(c)
        }
        continue
      }
      switch c {
      case "\"":
        inQuotes = true
        sawAny = true
      case ",":
        fields.append(field)
        field = ""
        sawAny = true
      case "\r":
        continue
      case "\n":
        if sawAny || !field.isEmpty || !fields.isEmpty {
          fields.append(field)
          records.append((recordLine, fields))
        }
        fields = []
        field = ""
        sawAny = false
        line += 1
        recordLine = line
      default:
        field.unicodeScalars.append(c)
        sawAny = true
      }
    }
    if sawAny || !field.isEmpty || !fields.isEmpty {
      fields.append(field)
      records.append((recordLine, fields))
    }
    return records
  }

  /// Formats one record, quoting fields that need it.
  public static func line(_ fields: [String]) -> String {
    fields.map { f in
      if f.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
        return "\"" + f.replacingOccurrences(of: "\"", with: "\"\"") + "\""
      }
      return f
    }.joined(separator: ",")
  }
}
