import Foundation
import GRDB
import Interchange
import TestSupport
import XCTest

@testable import Studies

/// Study databases written before migration "v2-producer-records" stored summaries of what
/// Adaptation produced; the migration stores the producers' records instead. The fixture is a
/// real row of such a database (the quickstart's full+l2sp(0.1) run, written by the binary of
/// fb9f3f2): after the upgrade, every number the report reads must be the number it read before.
final class StudyStoreMigrationTests: XCTestCase {
  func testLegacyResultsAreUpgradedWithEveryReportedNumberKept() throws {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("Fixtures/legacy-run-result.json")
    let fixture = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    let configJSON = try XCTUnwrap(fixture["configJSON"] as? String)
    let resultJSON = try XCTUnwrap(fixture["resultJSON"] as? String)
    let legacy = try JSONCoding.decoder().decode(LegacyRunResult.self, from: Data(resultJSON.utf8))

    // A store as the old binary left it: the legacy row, migration v2 not yet applied.
    let dir = try makeTemporaryDirectory("store-migration")
    defer { try? FileManager.default.removeItem(at: dir) }
    _ = try StudyStore(directory: dir)
    let queue = try DatabaseQueue(path: dir.appendingPathComponent(StudyStore.fileName).path)
    try queue.write { db in
      try db.execute(
        sql: """
          INSERT INTO run (configHash, configJSON, arm, source, target, budget, budgetPerClass,
            seed, ordinal, status, resultJSON)
          VALUES ('legacy', ?, 'full+l2sp(0.1)', 'site-a', 'site-b', '5', 5, 0, 0, 'finished', ?)
          """, arguments: [configJSON, resultJSON])
      try db.execute(
        sql: "DELETE FROM grdb_migrations WHERE identifier = 'v2-producer-records'")
    }
    try queue.close()

    let store = try StudyStore(directory: dir)
    let upgraded = try XCTUnwrap(try store.runs().first?.result)
    XCTAssertEqual(upgraded.target, legacy.target)
    XCTAssertEqual(upgraded.source, legacy.source)
    XCTAssertEqual(upgraded.epochs, legacy.epochs)
    XCTAssertEqual(upgraded.forgetting?.stageDistances, legacy.forgetting?.stageDistances)
    XCTAssertEqual(upgraded.timings, legacy.timings)
    XCTAssertEqual(upgraded.notes, legacy.notes)
    XCTAssertEqual(upgraded.monitor, .balancedAccuracy)
    XCTAssertEqual(upgraded.epochs.count, 8)
    XCTAssertFalse(upgraded.target.subgroups.isEmpty)
    // Stored as the producers' records now: an evaluation with its breakdowns, epoch logs.
    let stored = try self.queue(dir).read { db in
      try String.fetchOne(db, sql: "SELECT resultJSON FROM run WHERE configHash = 'legacy'")
    }
    let object = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(XCTUnwrap(stored).utf8)) as? [String: Any])
    XCTAssertNotNil((object["target"] as? [String: Any])?["overall"], "not upgraded")
    XCTAssertNotNil(((object["epochs"] as? [[String: Any]])?.first)?["trainCrossEntropy"])
  }

  private func queue(_ dir: URL) throws -> DatabaseQueue {
    try DatabaseQueue(path: dir.appendingPathComponent(StudyStore.fileName).path)
  }
}
