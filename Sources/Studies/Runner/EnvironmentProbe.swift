import Foundation

/// Facts about the machine and toolchain, stored with every study (no user or patient data).
public enum EnvironmentProbe {
  /// OS, CPU model, core count, memory, Swift language version.
  public static func current() -> [String: String] {
    var env: [String: String] = [:]
    env["os"] = ProcessInfo.processInfo.operatingSystemVersionString
    env["machine.cores"] = String(ProcessInfo.processInfo.activeProcessorCount)
    env["machine.memory_gib"] = String(
      format: "%.1f", Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824)
    if let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
      let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
      let colon = line.firstIndex(of: ":")
    {
      env["machine.cpu"] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    // The OpenBLAS kernels results depend on: pinned by the executable (`BLAS.pinnedCoreType`)
    // on x86-64 with AVX2, else chosen by OpenBLAS for this CPU.
    env["blas.kernels"] =
      ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
      ?? "chosen by OpenBLAS for this CPU (not pinned)"
    #if swift(>=6.3)
      env["swift"] = "6.3+"
    #elseif swift(>=6.0)
      env["swift"] = "6.x"
    #endif
    return env
  }
}
