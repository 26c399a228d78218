import Foundation

/// A minimal `.npy` reader for the reference fixtures numpy wrote (little-endian f4, i8, u1;
/// C order), shared by the test targets (it also reads back what `NumpyFile` writes).
public struct NPY {
  public var shape: [Int]
  public var values: [Float]

  public init(_ url: URL) throws {
    let bytes = [UInt8](try Data(contentsOf: url))
    guard bytes.count > 10, bytes[0] == 0x93, bytes[1...5].elementsEqual(Array("NUMPY".utf8)) else {
      throw NSError(
        domain: "NPY", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(url.path): not .npy"])
    }
    let major = bytes[6]
    let headerLength =
      major == 1
      ? Int(bytes[8]) | Int(bytes[9]) << 8
      : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
    let start = major == 1 ? 10 : 12
    let header = String(decoding: bytes[start..<(start + headerLength)], as: UTF8.self)
    precondition(header.contains("'fortran_order': False"), "\(url.path) is Fortran order")
    let shapeText = header.components(separatedBy: "'shape': (")[1].components(separatedBy: ")")[0]
    shape = shapeText.split(separator: ",").compactMap {
      Int($0.trimmingCharacters(in: .whitespaces))
    }
    let count = shape.reduce(1, *)
    let body = Array(bytes[(start + headerLength)...])
    if header.contains("'<f4'") {
      values = (0..<count).map { i in
        Float(
          bitPattern: UInt32(body[4 * i]) | UInt32(body[4 * i + 1]) << 8
            | UInt32(body[4 * i + 2]) << 16 | UInt32(body[4 * i + 3]) << 24)
      }
    } else if header.contains("'<i8'") {
      values = (0..<count).map { i in
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(body[8 * i + k]) << (8 * UInt64(k)) }
        return Float(Int64(bitPattern: v))
      }
    } else if header.contains("'|u1'") {
      values = body.prefix(count).map(Float.init)
    } else {
      preconditionFailure("\(url.path): unsupported dtype in \(header)")
    }
  }
}
