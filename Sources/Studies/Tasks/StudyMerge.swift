import Foundation

/// Imports a study's result files (`results/*.json`, `results/shift-*.json`) into its store:
/// what `study merge` does (the finalize job of a Slurm submission, or a user at any time) and
/// what `study run` does before it starts. Each file is imported in one transaction; a file
/// already imported changes nothing; a file that cannot be imported is reported, never
/// imported, and the others go on.
public enum StudyMerge {
  /// What a merge did.
  public struct Summary: Sendable, Equatable {
    /// Run result files imported (new or changed outcomes).
    public var imported = 0
    /// Run result files whose outcome the store already held.
    public var unchanged = 0
    /// Shift analyses imported.
    public var shiftsImported = 0
    /// One line per file that could not be imported.
    public var problems: [String] = []
  }

  /// Imports every complete result file of the study folder `store` lives in. Throws only when
  /// the store itself cannot be written.
  public static func merge(store: StudyStore) throws -> Summary {
    var summary = Summary()
    for url in RunResultFile.list(in: store.directory) {
      do {
        if try store.importResult(try RunResultFile.read(url)) {
          summary.imported += 1
        } else {
          summary.unchanged += 1
        }
      } catch let error as StudiesError {
        guard case .badResultFile = error else { throw error }
        summary.problems.append(error.description)
      }
    }
    for url in ShiftResultFile.list(in: store.directory) {
      do {
        if try store.importShift(try ShiftResultFile.read(url)) { summary.shiftsImported += 1 }
      } catch let error as StudiesError {
        guard case .badResultFile = error else { throw error }
        summary.problems.append(error.description)
      }
    }
    return summary
  }
}
