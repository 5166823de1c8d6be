import Testing

@testable import Database

@Suite struct MigrationTests {
    @Test func checksumIsSHA256OfTheSQL() {
        let migration = Migration(version: 1, name: "t", sql: "CREATE TABLE t (id int)")
        #expect(migration.checksum.count == 64)
        #expect(migration.checksum == Migration(version: 7, name: "other", sql: "CREATE TABLE t (id int)").checksum)
        #expect(migration.checksum != Migration(version: 1, name: "t", sql: "CREATE TABLE t (id bigint)").checksum)
    }

    @Test func knownChecksum() {
        // sha256("SELECT 1")
        #expect(Migration(version: 1, name: "x", sql: "SELECT 1").checksum
            == "e004ebd5b5532a4b85984a62f8ad48a81aa3460c1ca07701f386135d72cdecf5")
    }

    @Test func versionsMustIncrease() {
        let good = Migrator(schema: "s", migrations: [.init(version: 1, name: "a", sql: ""), .init(version: 3, name: "b", sql: "")])
        #expect(throws: Never.self) { try good.validate() }
        let duplicate = Migrator(schema: "s", migrations: [.init(version: 1, name: "a", sql: ""), .init(version: 1, name: "b", sql: "")])
        #expect(throws: MigrationError.self) { try duplicate.validate() }
        let backwards = Migrator(schema: "s", migrations: [.init(version: 2, name: "a", sql: ""), .init(version: 1, name: "b", sql: "")])
        #expect(throws: MigrationError.self) { try backwards.validate() }
    }
}
