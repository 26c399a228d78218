import Foundation
import GRDB
import Interchange

/// The results store of one study: `study.sqlite` (SQLite in WAL mode) in the study folder.
///
/// Tables: `study` (the spec), `command` (command lines run), `environment` (versions, machine,
/// weights and dataset hashes), `run` (one row per config hash: config JSON, status, error,
/// the full result JSON), `epochMetric`, `finalMetric`, `forgetting`, `weightDistance`,
/// `timing`, `shiftResult`, `shiftMetric`.
///
/// A run's result and its child rows are written in one transaction together with its
/// `finished`/`failed` status, so a process killed at any moment leaves either the whole result
/// or none of it; a run left `running` by a killed process is redone on the next start.
public final class StudyStore: Sendable {
  /// The database file name inside a study folder.
  public static let fileName = "study.sqlite"

  /// The study folder.
  public let directory: URL
  private let pool: DatabasePool

  /// Opens (creating and migrating if needed) `study.sqlite` in `directory`.
  public init(directory: URL, create: Bool = true) throws {
    self.directory = directory
    let path = directory.appendingPathComponent(Self.fileName).path
    if !create && !FileManager.default.fileExists(atPath: path) {
      throw StudiesError.noStudy(directory: directory.path)
    }
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      var configuration = Configuration()
      configuration.busyMode = .timeout(10)
      configuration.foreignKeysEnabled = true
      pool = try DatabasePool(path: path, configuration: configuration)
      try Self.migrator.migrate(pool)
    } catch let error as StudiesError {
      throw error
    } catch {
      throw StudiesError.store(path: path, operation: "open", cause: "\(error)")
    }
  }

  private static var migrator: DatabaseMigrator {
    var migrator = DatabaseMigrator()
    migrator.registerMigration("v1") { db in
      try db.execute(
        sql: """
          CREATE TABLE study (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            name TEXT NOT NULL, specFile TEXT NOT NULL, specYAML TEXT NOT NULL,
            specJSON TEXT NOT NULL, createdAt TEXT NOT NULL, updatedAt TEXT NOT NULL);
          CREATE TABLE command (
            id INTEGER PRIMARY KEY, at TEXT NOT NULL, command TEXT NOT NULL);
          CREATE TABLE environment (key TEXT PRIMARY KEY, value TEXT NOT NULL);
          CREATE TABLE run (
            id INTEGER PRIMARY KEY,
            configHash TEXT NOT NULL UNIQUE, configJSON TEXT NOT NULL,
            arm TEXT NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL,
            budget TEXT NOT NULL, budgetPerClass INTEGER, seed INTEGER NOT NULL,
            ordinal INTEGER NOT NULL, isCurrent INTEGER NOT NULL DEFAULT 1,
            status TEXT NOT NULL DEFAULT 'pending'
              CHECK (status IN ('pending', 'running', 'finished', 'failed')),
            error TEXT, attempts INTEGER NOT NULL DEFAULT 0,
            startedAt TEXT, finishedAt TEXT, wallSeconds REAL, resultJSON TEXT);
          CREATE TABLE epochMetric (
            runId INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
            epoch INTEGER NOT NULL, wallSeconds REAL NOT NULL, trainLoss REAL, valMetric REAL,
            valLoss REAL, imagesPerSecond REAL, PRIMARY KEY (runId, epoch));
          CREATE TABLE finalMetric (
            runId INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
            dataset TEXT NOT NULL CHECK (dataset IN ('target', 'source')),
            metric TEXT NOT NULL, value REAL, lower REAL, upper REAL,
            PRIMARY KEY (runId, dataset, metric));
          CREATE TABLE forgetting (
            runId INTEGER PRIMARY KEY REFERENCES run(id) ON DELETE CASCADE,
            sourceBefore REAL, sourceAfter REAL, targetBefore REAL);
          CREATE TABLE weightDistance (
            runId INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
            stage TEXT NOT NULL, distance REAL, PRIMARY KEY (runId, stage));
          CREATE TABLE timing (
            runId INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
            phase TEXT NOT NULL, seconds REAL NOT NULL, PRIMARY KEY (runId, phase));
          CREATE TABLE shiftResult (
            id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
            target TEXT NOT NULL, isCurrent INTEGER NOT NULL DEFAULT 1,
            recordJSON TEXT NOT NULL, createdAt TEXT NOT NULL);
          CREATE TABLE shiftMetric (
            shiftId INTEGER NOT NULL REFERENCES shiftResult(id) ON DELETE CASCADE,
            name TEXT NOT NULL, value REAL, lower REAL, upper REAL, pValue REAL, note TEXT,
            PRIMARY KEY (shiftId, name));
          """)
    }
    // Run results store what Adaptation produced (EvaluationReport, EpochLog, StageDrift)
    // instead of summaries of it; results written before are upgraded in place.
    migrator.registerMigration("v2-producer-records") { db in
      let rows = try Row.fetchAll(
        db, sql: "SELECT id, configJSON, resultJSON FROM run WHERE resultJSON IS NOT NULL")
      for row in rows {
        let id: Int64 = row["id"]
        let upgraded = try LegacyRunResult.upgrade(
          resultJSON: row["resultJSON"], configJSON: row["configJSON"])
        try db.execute(
          sql: "UPDATE run SET resultJSON = ? WHERE id = ?", arguments: [upgraded, id])
      }
    }
    return migrator
  }

  // MARK: - Study, commands, environment

  /// Stores (or replaces) the study's spec.
  public func saveStudy(_ spec: StudySpec) throws {
    let json = String(decoding: try JSONCoding.encoder(.pretty).encode(spec), as: UTF8.self)
    let now = Self.timestamp()
    try write("save study") { db in
      try db.execute(
        sql: """
          INSERT INTO study (id, name, specFile, specYAML, specJSON, createdAt, updatedAt)
          VALUES (1, ?, ?, ?, ?, ?, ?)
          ON CONFLICT(id) DO UPDATE SET name = excluded.name, specFile = excluded.specFile,
            specYAML = excluded.specYAML, specJSON = excluded.specJSON,
            updatedAt = excluded.updatedAt
          """, arguments: [spec.name, spec.file, spec.yaml, json, now, now])
    }
  }

  /// The stored spec (nil before the first `saveStudy`).
  public func loadStudy() throws -> StoredStudy? {
    try read("load study") { db in
      guard let row = try Row.fetchOne(db, sql: "SELECT * FROM study WHERE id = 1") else {
        return nil
      }
      let json: String = row["specJSON"]
      let spec = try JSONCoding.decoder().decode(StudySpec.self, from: Data(json.utf8))
      return StoredStudy(spec: spec, createdAt: row["createdAt"], updatedAt: row["updatedAt"])
    }
  }

  /// Appends a command line to the study's history (shown under Reproducibility).
  public func recordCommand(_ command: String) throws {
    try write("record command") { db in
      try db.execute(
        sql: "INSERT INTO command (at, command) VALUES (?, ?)",
        arguments: [Self.timestamp(), command])
    }
  }

  /// Command lines run on this study, oldest first.
  public func commands() throws -> [(at: String, command: String)] {
    try read("load commands") { db in
      try Row.fetchAll(db, sql: "SELECT at, command FROM command ORDER BY id").map {
        (at: $0["at"], command: $0["command"])
      }
    }
  }

  /// Merges key/value facts into the environment table.
  public func saveEnvironment(_ values: [String: String]) throws {
    try write("save environment") { db in
      for (key, value) in values {
        try db.execute(
          sql: "INSERT OR REPLACE INTO environment (key, value) VALUES (?, ?)",
          arguments: [key, value])
      }
    }
  }

  /// Every environment fact.
  public func environment() throws -> [String: String] {
    try read("load environment") { db in
      var result: [String: String] = [:]
      for row in try Row.fetchAll(db, sql: "SELECT key, value FROM environment") {
        result[row["key"]] = row["value"]
      }
      return result
    }
  }

  // MARK: - Runs

  /// Makes `configs` the study's current runs: inserts the missing ones as `pending`, keeps
  /// stored results of existing hashes, and marks runs of earlier specs as not current.
  public func register(_ configs: [RunConfig]) throws {
    let rows = configs.enumerated().map { index, config in
      (index, config, config.hash, String(decoding: config.canonicalJSON(), as: UTF8.self))
    }
    try write("register runs") { db in
      try db.execute(sql: "UPDATE run SET isCurrent = 0")
      for (index, config, hash, json) in rows {
        try db.execute(
          sql: """
            INSERT INTO run (configHash, configJSON, arm, source, target, budget, budgetPerClass,
              seed, ordinal, isCurrent)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
            ON CONFLICT(configHash) DO UPDATE SET isCurrent = 1, ordinal = excluded.ordinal
            """,
          arguments: [
            hash, json, config.arm.name, config.source.label, config.target.label,
            config.budget.description, config.budget.count, config.seed, index,
          ])
      }
    }
  }

  /// Runs in spec order (current ones only unless `includeStale`).
  public func runs(includeStale: Bool = false) throws -> [StoredRun] {
    try read("load runs") { db in
      let sql =
        "SELECT * FROM run \(includeStale ? "" : "WHERE isCurrent = 1") ORDER BY ordinal, id"
      return try Row.fetchAll(db, sql: sql).map { row in
        let configJSON: String = row["configJSON"]
        let resultJSON: String? = row["resultJSON"]
        return StoredRun(
          id: row["id"], hash: row["configHash"],
          config: try JSONCoding.decoder().decode(RunConfig.self, from: Data(configJSON.utf8)),
          status: RunStatus(rawValue: row["status"]) ?? .pending, error: row["error"],
          attempts: row["attempts"], startedAt: row["startedAt"], finishedAt: row["finishedAt"],
          isCurrent: row["isCurrent"],
          result: try resultJSON.map {
            try JSONCoding.decoder().decode(RunResult.self, from: Data($0.utf8))
          })
      }
    }
  }

  /// Number of runs of earlier specs kept in the database but no longer current.
  public func staleRunCount() throws -> Int {
    try read("count stale runs") { db in
      try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM run WHERE isCurrent = 0") ?? 0
    }
  }

  /// Atomically marks a pending (or, with `includeFailed`, failed) run as running; false when
  /// another process holds or has finished it. Used by workers sharing one store.
  public func claim(hash: String, includeFailed: Bool) throws -> Bool {
    try start(
      hash: hash, "claim run", onlyFrom: includeFailed ? ["pending", "failed"] : ["pending"])
  }

  /// Marks a run `running` (one more attempt): from any status, or only from one of
  /// `onlyFrom`; true when the row changed. Status names are the store's own constants.
  private func start(hash: String, _ operation: String, onlyFrom statuses: [String]?) throws -> Bool
  {
    let filter =
      statuses.map { s in " AND status IN (" + s.map { "'\($0)'" }.joined(separator: ", ") + ")" }
      ?? ""
    return try write(operation) { db in
      try db.execute(
        sql: """
          UPDATE run SET status = 'running', attempts = attempts + 1, startedAt = ?, error = NULL
          WHERE configHash = ?\(filter)
          """, arguments: [Self.timestamp(), hash])
      return db.changesCount == 1
    }
  }

  /// Runs left `running` by a killed process become pending again (before workers start).
  public func resetInterrupted() throws {
    try write("reset interrupted runs") { db in
      try db.execute(sql: "UPDATE run SET status = 'pending' WHERE status = 'running'")
    }
  }

  /// Marks a run as started (status `running`, one more attempt) whatever its status: a single
  /// process owns every run of the study.
  public func markRunning(hash: String) throws {
    _ = try start(hash: hash, "mark run started", onlyFrom: nil)
  }

  /// Commits a run's result in one transaction: status, full JSON and every child row.
  /// A result with `failure` set is stored as `failed` (its partial curves kept).
  public func recordResult(hash: String, result: RunResult) throws {
    let json = String(decoding: try JSONCoding.encoder(.canonical).encode(result), as: UTF8.self)
    try write("record result") { db in
      guard
        let runId = try Int64.fetchOne(
          db, sql: "SELECT id FROM run WHERE configHash = ?", arguments: [hash])
      else {
        throw StudiesError.store(
          path: self.path, operation: "record result", cause: "unknown run \(hash)")
      }
      try Self.writeResult(db, runId: runId, result: result, json: json)
    }
  }

  /// Imports a run's result file (`study merge`, and `study run` after each run) in one
  /// transaction. Returns false, writing nothing, when the store already holds exactly this
  /// outcome, so importing a file twice leaves one row as it was. A file of a run the study
  /// does not have is a `badResultFile` error.
  @discardableResult
  public func importResult(_ file: RunResultFile) throws -> Bool {
    let json = try file.result.map {
      String(decoding: try JSONCoding.encoder(.canonical).encode($0), as: UTF8.self)
    }
    let changed = try write("import result") { db -> Bool? in
      guard
        let row = try Row.fetchOne(
          db, sql: "SELECT id, status, error, resultJSON FROM run WHERE configHash = ?",
          arguments: [file.hash])
      else { return nil }
      let runId: Int64 = row["id"]
      let stored = (row["status"] as String, row["error"] as String?, row["resultJSON"] as String?)
      if stored == (file.status.rawValue, file.error, json) { return false }
      if let result = file.result, let json {
        try Self.writeResult(db, runId: runId, result: result, json: json)
      } else {
        try Self.writeFailure(
          db, runId: runId, error: file.error ?? "failed", wallSeconds: file.wallSeconds)
      }
      try db.execute(
        sql: "UPDATE run SET attempts = MAX(attempts, ?), finishedAt = ? WHERE id = ?",
        arguments: [file.attempt, file.finishedAt, runId])
      return true
    }
    guard let changed else {
      throw StudiesError.badResultFile(
        path: RunResultFile.url(hash: file.hash, in: directory).path,
        reason: "run \(file.hash.prefix(16)) (\(file.label)) is not a run of this study")
    }
    return changed
  }

  /// Imports a shift analysis file; false when the store already holds exactly this record.
  @discardableResult
  public func importShift(_ file: ShiftResultFile) throws -> Bool {
    let json = String(
      decoding: try JSONCoding.encoder(.canonical).encode(file.record), as: UTF8.self)
    let stored = try read("load shift analysis") { db in
      try String.fetchOne(
        db, sql: "SELECT recordJSON FROM shiftResult WHERE key = ?", arguments: [file.key])
    }
    if stored == json { return false }
    try saveShift(key: file.key, file.record)
    return true
  }

  private static func writeResult(_ db: Database, runId: Int64, result: RunResult, json: String)
    throws
  {
    try Self.deleteChildren(db, runId: runId)
    for epoch in result.epochs {
      try db.execute(
        sql: """
          INSERT OR REPLACE INTO epochMetric
            (runId, epoch, wallSeconds, trainLoss, valMetric, valLoss, imagesPerSecond)
          VALUES (?, ?, ?, ?, ?, ?, ?)
          """,
        arguments: [
          runId, epoch.epoch, epoch.wallSeconds, epoch.trainLoss, epoch.valMetric,
          epoch.valLoss, epoch.imagesPerSecond,
        ])
    }
    for (dataset, metrics) in [("target", result.target), ("source", result.source)] {
      guard let metrics else { continue }
      var rows: [(String, Double?, Double?, Double?)] = [
        ("accuracy", metrics.accuracy, nil, nil),
        ("balanced_accuracy", metrics.balancedAccuracy, nil, nil),
        ("macro_f1", metrics.macroF1, nil, nil),
        ("count", Double(metrics.count), nil, nil),
      ]
      if let auroc = metrics.auroc {
        rows.append(("auroc", auroc.value, auroc.lower, auroc.upper))
      }
      if let ece = metrics.ece { rows.append(("ece", ece, nil, nil)) }
      for (name, value, lower, upper) in rows {
        try db.execute(
          sql: """
            INSERT OR REPLACE INTO finalMetric (runId, dataset, metric, value, lower, upper)
            VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [runId, dataset, name, value, lower, upper])
      }
    }
    if let f = result.forgetting {
      try db.execute(
        sql: """
          INSERT OR REPLACE INTO forgetting (runId, sourceBefore, sourceAfter, targetBefore)
          VALUES (?, ?, ?, ?)
          """, arguments: [runId, f.sourceBefore, f.sourceAfter, f.targetBefore])
      for d in f.stageDistances {
        try db.execute(
          sql: "INSERT OR REPLACE INTO weightDistance (runId, stage, distance) VALUES (?, ?, ?)",
          arguments: [runId, d.stage, d.distance])
      }
    }
    for t in result.timings {
      try db.execute(
        sql: "INSERT OR REPLACE INTO timing (runId, phase, seconds) VALUES (?, ?, ?)",
        arguments: [runId, t.phase, t.seconds])
    }
    try db.execute(
      sql: """
        UPDATE run SET status = ?, error = ?, finishedAt = ?, wallSeconds = ?, resultJSON = ?
        WHERE id = ?
        """,
      arguments: [
        result.failure == nil ? "finished" : "failed", result.failure,
        Self.timestamp(), result.wallSeconds, json, runId,
      ])
  }

  /// Records a run that failed without a result (the error text is kept; the study goes on).
  public func recordFailure(hash: String, error: String, wallSeconds: Double) throws {
    try write("record failure") { db in
      if let runId = try Int64.fetchOne(
        db, sql: "SELECT id FROM run WHERE configHash = ?", arguments: [hash])
      {
        try Self.writeFailure(db, runId: runId, error: error, wallSeconds: wallSeconds)
      }
    }
  }

  private static func writeFailure(
    _ db: Database, runId: Int64, error: String, wallSeconds: Double
  ) throws {
    try deleteChildren(db, runId: runId)
    try db.execute(
      sql: """
        UPDATE run SET status = 'failed', error = ?, finishedAt = ?, wallSeconds = ?,
          resultJSON = NULL WHERE id = ?
        """, arguments: [error, timestamp(), wallSeconds, runId])
  }

  private static func deleteChildren(_ db: Database, runId: Int64) throws {
    for table in ["epochMetric", "finalMetric", "forgetting", "weightDistance", "timing"] {
      try db.execute(sql: "DELETE FROM \(table) WHERE runId = ?", arguments: [runId])
    }
  }

  // MARK: - Shift analyses

  /// Stores (or replaces) the shift analysis with identity `key`, in one transaction.
  public func saveShift(key: String, _ record: ShiftAnalysisRecord) throws {
    let json = String(decoding: try JSONCoding.encoder(.canonical).encode(record), as: UTF8.self)
    try write("save shift analysis") { db in
      try db.execute(sql: "DELETE FROM shiftResult WHERE key = ?", arguments: [key])
      try db.execute(
        sql: """
          INSERT INTO shiftResult (key, source, target, recordJSON, createdAt)
          VALUES (?, ?, ?, ?, ?)
          """, arguments: [key, record.source, record.target, json, Self.timestamp()])
      let id = db.lastInsertedRowID
      for m in record.metrics {
        try db.execute(
          sql: """
            INSERT OR REPLACE INTO shiftMetric (shiftId, name, value, lower, upper, pValue, note)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [id, m.name, m.value, m.lower, m.upper, m.pValue, m.note])
      }
    }
  }

  /// Marks which shift analyses belong to the current spec.
  public func setCurrentShiftKeys(_ keys: [String]) throws {
    try write("mark shift analyses") { db in
      try db.execute(sql: "UPDATE shiftResult SET isCurrent = 0")
      for key in keys {
        try db.execute(sql: "UPDATE shiftResult SET isCurrent = 1 WHERE key = ?", arguments: [key])
      }
    }
  }

  /// Keys of the stored shift analyses.
  public func shiftKeys() throws -> Set<String> {
    try read("load shift keys") { db in
      Set(try String.fetchAll(db, sql: "SELECT key FROM shiftResult"))
    }
  }

  /// The current shift analyses, in insertion order.
  public func shiftResults() throws -> [ShiftAnalysisRecord] {
    try read("load shift analyses") { db in
      try String.fetchAll(
        db, sql: "SELECT recordJSON FROM shiftResult WHERE isCurrent = 1 ORDER BY id"
      ).map { try JSONCoding.decoder().decode(ShiftAnalysisRecord.self, from: Data($0.utf8)) }
    }
  }

  // MARK: - Raw access (for tests and ad-hoc SQL)

  /// Runs a read-only SQL query; values come back as text (numbers in full precision, NULL as
  /// nil), so callers need no GRDB types.
  public func query(_ sql: String) throws -> [[String: String?]] {
    try read("query") { db in
      try Row.fetchAll(db, sql: sql).map { row in
        var dict: [String: String?] = [:]
        for (column, value) in row {
          switch value.storage {
          case .null: dict[column] = .some(nil)
          case .int64(let i): dict[column] = String(i)
          case .double(let d): dict[column] = "\(d)"
          case .string(let s): dict[column] = s
          case .blob(let b): dict[column] = b.base64EncodedString()
          }
        }
        return dict
      }
    }
  }

  /// Sum of the wall seconds of the current runs (finished and failed).
  public func totalComputeSeconds() throws -> Double {
    try read("sum compute") { db in
      try Double.fetchOne(
        db, sql: "SELECT COALESCE(SUM(wallSeconds), 0) FROM run WHERE isCurrent = 1")
        ?? 0
    }
  }

  // MARK: - Helpers

  private var path: String { directory.appendingPathComponent(Self.fileName).path }

  private func write<T>(_ operation: String, _ body: (Database) throws -> T) throws -> T {
    do {
      return try pool.write(body)
    } catch let error as StudiesError {
      throw error
    } catch {
      throw StudiesError.store(path: path, operation: operation, cause: "\(error)")
    }
  }

  private func read<T>(_ operation: String, _ body: (Database) throws -> T) throws -> T {
    do {
      return try pool.read(body)
    } catch let error as StudiesError {
      throw error
    } catch {
      throw StudiesError.store(path: path, operation: operation, cause: "\(error)")
    }
  }

  static func timestamp() -> String {
    ISO8601DateFormatter().string(from: Date())
  }
}

/// The study row of a store.
public struct StoredStudy: Sendable {
  public var spec: StudySpec
  public var createdAt: String
  public var updatedAt: String
}

/// The state of a run in the store.
public enum RunStatus: String, Codable, Sendable {
  case pending, running, finished, failed
}

/// One run as stored.
public struct StoredRun: Sendable {
  public var id: Int64
  public var hash: String
  public var config: RunConfig
  public var status: RunStatus
  public var error: String?
  public var attempts: Int
  public var startedAt: String?
  public var finishedAt: String?
  public var isCurrent: Bool
  public var result: RunResult?
}
