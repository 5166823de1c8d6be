import Contracts
import Database
import Foundation
import Logging
import Tracing

extension Logger.MetadataProvider {
    /// What every log line within a request or a handled event carries: the trace and span ids of
    /// the current span and the route template (a consumer names the event in its own lines).
    static let syllabus = Logger.MetadataProvider {
        guard let context = ServiceContext.current else { return [:] }
        var metadata: Logger.Metadata = [:]
        if let traceparent = TraceContext.traceparent(of: context) {
            let parts = traceparent.split(separator: "-")
            if parts.count == 4 {
                metadata["trace_id"] = "\(parts[1])"
                metadata["span_id"] = "\(parts[2])"
            }
        }
        if let route = context[RouteKey.self] { metadata["route"] = "\(route)" }
        return metadata
    }
}

/// One JSON object per line on standard error: `time`, `level`, `service`, `logger`, `message`,
/// then the metadata (the handler's, the provider's, the call's; later ones win) as string fields.
struct JSONLogHandler: LogHandler {
    let label: String
    let service: String?
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, service: String?, metadataProvider: Logger.MetadataProvider?) {
        self.label = label
        self.service = service
        self.metadataProvider = metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(
        level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String, file: String, function: String,
        line: UInt
    ) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let explicit { fields.merge(explicit) { _, new in new } }
        var text = "{\"time\":\"\(RFC3339.format(Date()))\",\"level\":\"\(level.rawValue)\""
        if let service { text += ",\"service\":\(Self.quoted(service))" }
        text += ",\"logger\":\(Self.quoted(label)),\"message\":\(Self.quoted(message.description))"
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) where !["time", "level", "service", "logger", "message"].contains(key) {
            text += ",\(Self.quoted(key)):\(Self.quoted(value.description))"
        }
        text += "}\n"
        Self.write(text)
    }

    private static let lock = NSLock()

    /// A whole line in one write, so lines of concurrent tasks never interleave.
    static func write(_ line: String) {
        var bytes = Array(line.utf8)
        lock.withLock {
            bytes.withUnsafeMutableBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Foundation.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                    if written <= 0 { break }
                    offset += written
                }
            }
        }
    }

    /// A JSON string literal.
    static func quoted(_ value: String) -> String {
        var out = "\""
        out.reserveCapacity(value.utf8.count + 2)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
