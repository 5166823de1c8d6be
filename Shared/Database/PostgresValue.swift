import Foundation

/// A Swift value that can be sent as a text-format query parameter. `postgresType` is the cast
/// written after the placeholder (`$1::uuid`), so every parameter reaches the server typed.
public protocol PostgresEncodable: Sendable {
    static var postgresType: String { get }
    var postgresText: String { get }
}

/// A Swift value that can be read from a column's text representation.
public protocol PostgresDecodable: Sendable {
    init(postgresText: String) throws
}

public typealias PostgresCodable = PostgresEncodable & PostgresDecodable

struct PostgresDecodingFailure: Error {
    let message: String
}

extension String: PostgresCodable {
    public static var postgresType: String { "text" }
    public var postgresText: String { self }
    public init(postgresText: String) { self = postgresText }
}

extension Int: PostgresCodable {
    public static var postgresType: String { "int8" }
    public var postgresText: String { String(self) }
    public init(postgresText: String) throws {
        guard let value = Int(postgresText) else { throw PostgresDecodingFailure(message: "not an integer: \(postgresText)") }
        self = value
    }
}

extension Int64: PostgresCodable {
    public static var postgresType: String { "int8" }
    public var postgresText: String { String(self) }
    public init(postgresText: String) throws {
        guard let value = Int64(postgresText) else { throw PostgresDecodingFailure(message: "not an integer: \(postgresText)") }
        self = value
    }
}

extension Int32: PostgresCodable {
    public static var postgresType: String { "int4" }
    public var postgresText: String { String(self) }
    public init(postgresText: String) throws {
        guard let value = Int32(postgresText) else { throw PostgresDecodingFailure(message: "not an integer: \(postgresText)") }
        self = value
    }
}

extension Double: PostgresCodable {
    public static var postgresType: String { "float8" }
    public var postgresText: String { String(self) }
    public init(postgresText: String) throws {
        guard let value = Double(postgresText) else { throw PostgresDecodingFailure(message: "not a number: \(postgresText)") }
        self = value
    }
}

extension Bool: PostgresCodable {
    public static var postgresType: String { "bool" }
    public var postgresText: String { self ? "t" : "f" }
    public init(postgresText: String) throws {
        switch postgresText {
        case "t", "true": self = true
        case "f", "false": self = false
        default: throw PostgresDecodingFailure(message: "not a boolean: \(postgresText)")
        }
    }
}

extension UUID: PostgresCodable {
    public static var postgresType: String { "uuid" }
    public var postgresText: String { uuidString.lowercased() }
    public init(postgresText: String) throws {
        guard let value = UUID(uuidString: postgresText) else { throw PostgresDecodingFailure(message: "not a uuid: \(postgresText)") }
        self = value
    }
}

extension Date: PostgresCodable {
    public static var postgresType: String { "timestamptz" }
    public var postgresText: String { Timestamp.format(self) }
    public init(postgresText: String) throws {
        guard let value = Timestamp.parse(postgresText) else { throw PostgresDecodingFailure(message: "not a timestamp: \(postgresText)") }
        self = value
    }
}

extension Data: PostgresCodable {
    public static var postgresType: String { "bytea" }
    public var postgresText: String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]("\\x".utf8)
        text.reserveCapacity(2 + count * 2)
        for byte in self {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
    public init(postgresText: String) throws {
        let utf8 = Array(postgresText.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x"), utf8.count % 2 == 0 else {
            throw PostgresDecodingFailure(message: "not a hex bytea")
        }
        func nibble(_ c: UInt8) throws -> UInt8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: throw PostgresDecodingFailure(message: "not a hex digit")
            }
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity((utf8.count - 2) / 2)
        var index = 2
        while index < utf8.count {
            bytes.append(try nibble(utf8[index]) << 4 | nibble(utf8[index + 1]))
            index += 2
        }
        self = Data(bytes)
    }
}

/// JSON sent to a `jsonb` column or read from one, as text.
public struct JSONB: PostgresCodable, Hashable {
    public var text: String
    public init(_ text: String) { self.text = text }
    public init(data: Data) { self.text = String(decoding: data, as: UTF8.self) }
    public init<T: Encodable>(encoding value: T, encoder: JSONEncoder = JSONEncoder()) throws {
        self.text = String(decoding: try encoder.encode(value), as: UTF8.self)
    }
    public static var postgresType: String { "jsonb" }
    public var postgresText: String { text }
    public init(postgresText: String) { self.text = postgresText }
    public func decode<T: Decodable>(_ type: T.Type, decoder: JSONDecoder = JSONDecoder()) throws -> T {
        try decoder.decode(type, from: Data(text.utf8))
    }
}

/// Timestamps as Postgres writes them in ISO style (`2026-11-22 11:25:16.123456+00`) and as it
/// reads them (`2026-11-22T11:25:16.123456Z`), without a formatter on the hot path.
enum Timestamp {
    static func format(_ date: Date) -> String {
        let totalMicros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        var seconds = Int64((totalMicros / 1_000_000).rounded(.down))
        let micros = Int64(totalMicros) - seconds * 1_000_000
        let days = floorDiv(seconds, 86_400)
        seconds -= days * 86_400
        let (year, month, day) = civil(fromDays: days)
        let hour = seconds / 3600, minute = (seconds % 3600) / 60, second = seconds % 60
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2)).\(pad(micros, 6))Z"
    }

    static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        var i = 0
        func number(_ width: Int) -> Int64? {
            guard i + width <= b.count else { return nil }
            var v: Int64 = 0
            for k in i..<(i + width) {
                let c = b[k]
                guard c >= 48, c <= 57 else { return nil }
                v = v * 10 + Int64(c - 48)
            }
            i += width
            return v
        }
        func expect(_ options: [UInt8]) -> Bool {
            guard i < b.count, options.contains(b[i]) else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect([45]), let month = number(2), expect([45]), let day = number(2),
            expect([32, 84]), let hour = number(2), expect([58]), let minute = number(2), expect([58]),
            let second = number(2)
        else { return nil }
        var micros: Int64 = 0
        if i < b.count, b[i] == 46 {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 6 { micros = micros * 10 + Int64(b[i] - 48) }
                digits += 1
                i += 1
            }
            if digits < 6 { for _ in digits..<6 { micros *= 10 } }
        }
        var offset: Int64 = 0
        if i < b.count {
            if b[i] == 90 { // Z
                i += 1
            } else if b[i] == 43 || b[i] == 45 {
                let sign: Int64 = b[i] == 45 ? -1 : 1
                i += 1
                guard let oh = number(2) else { return nil }
                var om: Int64 = 0
                if i < b.count, b[i] == 58 { i += 1 }
                if i + 2 <= b.count, let m = number(2) { om = m }
                if i < b.count, b[i] == 58 { i += 1; _ = number(2) }
                offset = sign * (oh * 3600 + om * 60)
            }
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + Double(micros) / 1_000_000)
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }

    // Howard Hinnant's civil-from-days and days-from-civil.
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
