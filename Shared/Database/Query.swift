/// A statement and its parameters. Interpolated values become typed placeholders, never SQL text:
///
///     let query: Query = "SELECT * FROM users WHERE email = \(email) AND id <> \(id)"
///     // SELECT * FROM users WHERE email = $1::text AND id <> $2::uuid
public struct Query: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public var sql: String
    public var binds: [String?]

    public init(sql: String, binds: [String?] = []) {
        self.sql = sql
        self.binds = binds
    }

    public init(stringLiteral value: String) {
        self.init(sql: value)
    }

    public init(stringInterpolation: StringInterpolation) {
        self.init(sql: stringInterpolation.sql, binds: stringInterpolation.binds)
    }

    public var description: String { sql }

    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var binds: [String?] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 8)
            binds.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        public mutating func appendInterpolation<T: PostgresEncodable>(_ value: T) {
            binds.append(value.postgresText)
            sql += "$\(binds.count)::\(T.postgresType)"
        }

        public mutating func appendInterpolation<T: PostgresEncodable>(_ value: T?) {
            binds.append(value?.postgresText)
            sql += "$\(binds.count)::\(T.postgresType)"
        }

        /// An array parameter (`= ANY(\(array: ids))`).
        public mutating func appendInterpolation<T: PostgresEncodable>(array values: [T]) {
            binds.append(Query.arrayLiteral(values.map(\.postgresText)))
            sql += "$\(binds.count)::\(T.postgresType)[]"
        }

        /// A quoted identifier (a schema or table name chosen at run time).
        public mutating func appendInterpolation(identifier: String) {
            sql += Query.quoteIdentifier(identifier)
        }

        /// Trusted SQL text, for fragments assembled by the program itself.
        public mutating func appendInterpolation(unsafeRaw text: String) {
            sql += text
        }
    }

    /// Appends another query, renumbering its placeholders.
    public mutating func append(_ other: Query) {
        var text = other.sql
        if !other.binds.isEmpty {
            // Renumber from the highest placeholder down so `$1` never rewrites part of `$12`.
            for index in stride(from: other.binds.count, through: 1, by: -1) {
                text = text.replacingOccurrences(of: "$\(index)::", with: "$#\(index + binds.count)::")
            }
            text = text.replacingOccurrences(of: "$#", with: "$")
        }
        sql += text
        binds += other.binds
    }

    public static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func arrayLiteral(_ items: [String]) -> String {
        var text = "{"
        for (index, item) in items.enumerated() {
            if index > 0 { text += "," }
            text += "\""
            for character in item {
                if character == "\"" || character == "\\" { text.append("\\") }
                text.append(character)
            }
            text += "\""
        }
        return text + "}"
    }
}

import Foundation
