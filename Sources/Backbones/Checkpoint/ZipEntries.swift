// A reader for the stored (uncompressed) members of a zip archive, which is how
// torch ≥ 1.6 writes `.pth` files (PyTorchStreamWriter never deflates). Parsing the
// central directory ourselves keeps Backbones free of a zip dependency.

/// The members of a zip archive held in memory, by name.
struct ZipEntries {
  /// Member name → byte range of its (stored) data inside `bytes`.
  private(set) var ranges: [String: Range<Int>] = [:]
  /// Names in central-directory order.
  private(set) var names: [String] = []

  /// Whether `bytes` starts with a local file header.
  static func looksLikeZip(_ bytes: [UInt8]) -> Bool {
    bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4B && bytes[2] == 0x03 && bytes[3] == 0x04
  }

  init(bytes: [UInt8], path: String) throws {
    func corrupt(_ detail: String) -> BackbonesError {
      .corruptCheckpoint(path: path, detail: "zip: \(detail)")
    }
    func u16(_ at: Int) throws -> Int {
      guard at >= 0, at + 2 <= bytes.count else { throw corrupt("header past the end at \(at)") }
      return Int(bytes[at]) | Int(bytes[at + 1]) << 8
    }
    func u32(_ at: Int) throws -> Int {
      let low = try u16(at)
      let high = try u16(at + 2)
      return low | high << 16
    }
    func u64(_ at: Int) throws -> Int {
      let low = try u32(at)
      let high = try u32(at + 4)
      return low | high << 32
    }

    // End of central directory: the last 0x06054b50 within the final 64 KiB + 22 bytes.
    var eocd = -1
    var i = bytes.count - 22
    while i >= max(0, bytes.count - 65_557) {
      if bytes[i] == 0x50 && bytes[i + 1] == 0x4B && bytes[i + 2] == 0x05 && bytes[i + 3] == 0x06 {
        eocd = i
        break
      }
      i -= 1
    }
    guard eocd >= 0 else { throw corrupt("no end-of-central-directory record") }
    var entryCount = try u16(eocd + 10)
    var directory = try u32(eocd + 16)
    if directory == 0xFFFF_FFFF || entryCount == 0xFFFF {
      // Zip64: the locator sits just before the EOCD and points at the zip64 EOCD record.
      let locator = eocd - 20
      guard try u32(locator) == 0x0706_4B50 else { throw corrupt("zip64 locator missing") }
      let record = try u64(locator + 8)
      guard try u32(record) == 0x0606_4B50 else { throw corrupt("zip64 end record missing") }
      entryCount = try u64(record + 32)
      directory = try u64(record + 48)
    }
    var at = directory
    for _ in 0..<entryCount {
      guard try u32(at) == 0x0201_4B50 else {
        throw corrupt("bad central directory entry at \(at)")
      }
      let method = try u16(at + 10)
      var size = try u32(at + 20)
      let nameLength = try u16(at + 28)
      let extraLength = try u16(at + 30)
      let commentLength = try u16(at + 32)
      var localOffset = try u32(at + 42)
      guard at + 46 + nameLength <= bytes.count else { throw corrupt("name past the end") }
      let name = String(decoding: bytes[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
      // Zip64 extended information: present fields appear in a fixed order.
      var extra = at + 46 + nameLength
      let extraEnd = extra + extraLength
      while extra + 4 <= extraEnd {
        let id = try u16(extra)
        let length = try u16(extra + 2)
        if id == 0x0001 {
          var field = extra + 4
          if try u32(at + 24) == 0xFFFF_FFFF { field += 8 }  // uncompressed size first
          if size == 0xFFFF_FFFF {
            size = try u64(field)
            field += 8
          }
          if localOffset == 0xFFFF_FFFF { localOffset = try u64(field) }
        }
        extra += 4 + length
      }
      guard method == 0 else {
        throw BackbonesError.notACheckpoint(
          path: path,
          reason:
            "zip member \(name) is compressed (method \(method)); torch stores members uncompressed"
        )
      }
      guard try u32(localOffset) == 0x0403_4B50 else {
        throw corrupt("bad local header for \(name)")
      }
      let localName = try u16(localOffset + 26)
      let localExtra = try u16(localOffset + 28)
      let start = localOffset + 30 + localName + localExtra
      guard start + size <= bytes.count else { throw corrupt("member \(name) runs past the end") }
      ranges[name] = start..<(start + size)
      names.append(name)
      at += 46 + nameLength + extraLength + commentLength
    }
  }
}
