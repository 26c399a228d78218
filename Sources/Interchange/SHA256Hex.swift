import Crypto
import Foundation

// The one SHA-256 of MedTransfer (swift-crypto) as lower-case hex: patient keys, dataset and
// weight fingerprints, preprocessing and split hashes, run hashes, prediction checksums.

/// The 32-byte SHA-256 digest of `bytes`.
public func sha256Digest(_ bytes: [UInt8]) -> [UInt8] {
  Array(SHA256.hash(data: bytes))
}

/// The lower-case hex SHA-256 of `bytes`.
public func sha256Hex(_ bytes: [UInt8]) -> String {
  hex(SHA256.hash(data: bytes))
}

/// The lower-case hex SHA-256 of `data`.
public func sha256Hex(_ data: Data) -> String {
  hex(SHA256.hash(data: data))
}

/// The lower-case hex SHA-256 of a file's bytes, read in 1 MiB chunks.
public func sha256Hex(ofFile url: URL) throws -> String {
  let handle = try FileHandle(forReadingFrom: url)
  defer { try? handle.close() }
  var hasher = SHA256()
  while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
    hasher.update(data: chunk)
  }
  return hex(hasher.finalize())
}

/// Lower-case hex of a digest, two digits a byte (a table, not `String(format:)`, which cost
/// 40% of loading a 1,500-row manifest when every patient key was hashed through it).
public func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
  let digits = Array("0123456789abcdef".utf8)
  var out: [UInt8] = []
  out.reserveCapacity(64)
  for b in bytes {
    out.append(digits[Int(b >> 4)])
    out.append(digits[Int(b & 0x0F)])
  }
  return String(decoding: out, as: UTF8.self)
}
