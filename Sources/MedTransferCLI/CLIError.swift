import ArgumentParser

/// A user-caused failure: printed as one line (input, reason, fix) and a non-zero exit.
struct CLIError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
