/// The column names of a result, shared by its rows.
public final class Columns: Sendable {
    public let names: [String]
    let index: [String: Int]

    init(names: [String]) {
        self.names = names
        var index = [String: Int](minimumCapacity: names.count)
        for (position, name) in names.enumerated() where index[name] == nil {
            index[name] = position
        }
        self.index = index
    }
}

/// One row of a result, in text format, decoded on demand into Swift types.
public struct Row: Sendable {
    public let columns: Columns
    public let values: [String?]

    /// The value of `column`, which must not be NULL.
    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard let text = try raw(column) else {
            throw DatabaseError.decoding(column: column, message: "is NULL, expected \(T.self)")
        }
        do {
            return try T(postgresText: text)
        } catch let failure as PostgresDecodingFailure {
            throw DatabaseError.decoding(column: column, message: failure.message)
        }
    }

    /// The value of `column`, or nil for NULL.
    public func decode<T: PostgresDecodable>(_ column: String, as type: T?.Type) throws -> T? {
        guard let text = try raw(column) else { return nil }
        do {
            return try T(postgresText: text)
        } catch let failure as PostgresDecodingFailure {
            throw DatabaseError.decoding(column: column, message: failure.message)
        }
    }

    /// The text of `column` as the server sent it (nil for NULL).
    public func raw(_ column: String) throws -> String? {
        guard let position = columns.index[column] else {
            throw DatabaseError.decoding(column: column, message: "no such column (have \(columns.names.joined(separator: ", ")))")
        }
        return values[position]
    }
}

/// What a statement returned: its rows and, for writes, how many rows it touched.
public struct QueryResult: Sendable {
    public let rows: [Row]
    public let affectedRows: Int

    public var first: Row? { rows.first }
}
