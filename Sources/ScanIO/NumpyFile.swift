#if canImport(Glibc)
  import Glibc
#endif

/// Writes NumPy `.npy` files (format 1.0, little-endian float32, C order).
public enum NumpyFile {
  /// Writes `values` with the given shape as `<f4` to `path`.
  public static func writeFloat32(_ values: [Float], shape: [Int], to path: String) throws {
    precondition(
      shape.reduce(1, *) == values.count,
      "NumpyFile.writeFloat32: shape \(shape) does not hold \(values.count) values.")
    let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
    // Magic (6) + version (2) + length (2) + header, padded with spaces to 64 bytes, newline.
    let unpadded = 10 + header.utf8.count + 1
    header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
    let length = UInt16(header.utf8.count)
    bytes += [UInt8(length & 0xFF), UInt8(length >> 8)]
    bytes += Array(header.utf8)
    values.withUnsafeBytes { bytes += $0 }  // host is little endian (x86-64, arm64)
    guard let file = fopen(path, "wb") else {
      throw ScanIOError.io(path: path, cause: String(cString: strerror(errno)))
    }
    defer { fclose(file) }
    guard fwrite(bytes, 1, bytes.count, file) == bytes.count else {
      throw ScanIOError.io(path: path, cause: "short write: \(String(cString: strerror(errno)))")
    }
  }
}
