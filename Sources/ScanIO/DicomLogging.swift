import CDCMTK

/// Sets DCMTK's log level (0 silent, 1 warnings, 2 debug).
enum DicomLoggingShim {
  static func set(_ level: Int) { mtdcm_set_log_level(Int32(level)) }
}
