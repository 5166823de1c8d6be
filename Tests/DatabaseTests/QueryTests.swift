import Foundation
import Testing

@testable import Database

@Suite struct QueryTests {
    @Test func interpolatedValuesBecomeTypedPlaceholders() {
        let id = UUID(uuidString: "0190A5B2-0000-7000-8000-000000000001")!
        let email: String? = nil
        let query: Query = "SELECT * FROM users WHERE id = \(id) AND email = \(email) AND n > \(42)"
        #expect(query.sql == "SELECT * FROM users WHERE id = $1::uuid AND email = $2::text AND n > $3::int8")
        #expect(query.binds == ["0190a5b2-0000-7000-8000-000000000001", nil, "42"])
    }

    @Test func textIsNeverSpliced() {
        let hostile = "x'); DROP TABLE users; --"
        let query: Query = "SELECT \(hostile)"
        #expect(query.sql == "SELECT $1::text")
        #expect(query.binds == [hostile])
    }

    @Test func arraysAndIdentifiers() {
        let query: Query = "SELECT * FROM \(identifier: "we\"ird") WHERE id = ANY(\(array: [1, 2, 3])) AND t = ANY(\(array: ["a\"b", "c\\d"]))"
        #expect(query.sql == #"SELECT * FROM "we""ird" WHERE id = ANY($1::int8[]) AND t = ANY($2::text[])"#)
        #expect(query.binds == ["{\"1\",\"2\",\"3\"}", #"{"a\"b","c\\d"}"#])
    }

    @Test func appendingRenumbersPlaceholders() {
        var query: Query = "SELECT 1 WHERE a = \(1)"
        var tail: Query = ""
        for value in 2...12 { tail.append(" AND b = \(value)") }
        query.append(tail)
        #expect(query.binds.count == 12)
        #expect(query.sql.hasSuffix("AND b = $12::int8"))
        #expect(query.sql.contains("AND b = $2::int8 AND b = $3::int8"))
    }
}

@Suite struct ValueCodingTests {
    @Test(arguments: [
        ("2026-11-22 11:25:16.123456+00", 1_795_346_716.123456),
        ("2026-11-22 11:25:16+00", 1_795_346_716.0),
        ("2026-11-22T13:25:16.5+02:00", 1_795_346_716.5),
        ("1969-12-31 23:59:59.5+00", -0.5),
        ("2024-02-29 00:00:00+00", 1_709_164_800.0),
    ])
    func timestampsParse(text: String, seconds: Double) throws {
        let date = try Date(postgresText: text)
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.000_001)
    }

    @Test func timestampsRoundTrip() throws {
        for seconds in [0.0, 1_795_346_716.123456, 951_782_400.000001, -86_400.25] {
            let date = Date(timeIntervalSince1970: seconds)
            let back = try Date(postgresText: date.postgresText)
            #expect(abs(back.timeIntervalSince1970 - seconds) < 0.000_001)
        }
        #expect(Date(timeIntervalSince1970: 0).postgresText == "1970-01-01T00:00:00.000000Z")
    }

    @Test func malformedValuesAreRefused() {
        #expect(throws: (any Error).self) { try Date(postgresText: "yesterday") }
        #expect(throws: (any Error).self) { try Int(postgresText: "12a") }
        #expect(throws: (any Error).self) { try Bool(postgresText: "yes") }
        #expect(throws: (any Error).self) { try Data(postgresText: "\\x0") }
    }

    @Test func byteaRoundTrips() throws {
        let data = Data([0, 1, 0xAB, 0xFF])
        #expect(data.postgresText == "\\x0001abff")
        #expect(try Data(postgresText: "\\x0001ABff") == data)
    }
}
