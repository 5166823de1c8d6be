/// The OpenAPI document a service serves at `/openapi.yaml`: its own `openapi.yaml` (compiled
/// into its binary) with the parts every service shares merged in — the operations routes, the
/// common problems and parameters, the bearer scheme — from `Shared/ServiceKit/OpenAPI/common.yaml`
/// (compiled into this library). The merge is textual, so the served document keeps the YAML's
/// comments and block text: under `paths` the shared entries follow the service's own, and under
/// `components` each shared section's entries follow the service's entries of that section (a
/// section the service lacks is added whole). `scripts/openapi.py check` parses the result and
/// refuses a key defined twice, so a service cannot define a shared part again.
public enum OpenAPIDocument {
    /// The shared parts, as written.
    public static let common = String(decoding: PackageResources.common_yaml, as: UTF8.self)

    /// `service` (the bytes of a service's openapi.yaml) with the shared parts merged in.
    public static func merged(_ service: [UInt8]) -> String {
        merge(String(decoding: service, as: UTF8.self), common: common)
    }

    public static func merge(_ service: String, common: String) -> String {
        let shared = Dictionary(blocks(lines(common), indent: 0).compactMap { name, body in name.map { ($0, body) } }) { first, _ in first }
        var out: [String] = []
        for (name, body) in blocks(lines(service), indent: 0) {
            switch name {
            case "paths":
                out += trimmed(body) + Array((shared["paths"] ?? []).dropFirst())
            case "components":
                let sharedSections = blocks(Array((shared["components"] ?? []).dropFirst()), indent: 2).compactMap { name, body in
                    name.map { ($0, body) }
                }
                let own = blocks(Array(body.dropFirst()), indent: 2)
                let ownNames = Set(own.compactMap(\.name))
                out.append(body[0])
                for (section, sectionBody) in own {
                    let extra = section.flatMap { section in sharedSections.first { $0.0 == section }?.1 }
                    out += trimmed(sectionBody) + Array((extra ?? []).dropFirst())
                }
                for (section, sectionBody) in sharedSections where !ownNames.contains(section) {
                    out += sectionBody
                }
            default:
                out += body
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// The lines of `text`, as Python's `splitlines` gives them.
    static func lines(_ text: String) -> [String] {
        var result = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
        }
        if result.last == "" { result.removeLast() }
        return result
    }

    /// The keys at `indent` spaces, each with its lines (the key's line first); lines before the
    /// first key come first, under no name.
    static func blocks(_ lines: [String], indent: Int) -> [(name: String?, body: [String])] {
        var result: [(name: String?, body: [String])] = [(nil, [])]
        let prefix = String(repeating: " ", count: indent)
        for line in lines {
            let characters = Array(line)
            if line.hasPrefix(prefix), characters.count > indent, !" #-".contains(characters[indent]) {
                var name = line.trimmingWhitespace
                while name.hasSuffix(":") { name.removeLast() }
                result.append((name, [line]))
            } else {
                result[result.count - 1].body.append(line)
            }
        }
        return result[0].body.isEmpty ? Array(result.dropFirst()) : result
    }

    /// A block without its trailing blank lines (the shared entries follow it).
    static func trimmed(_ body: [String]) -> [String] {
        var body = body
        while let last = body.last, last.trimmingWhitespace.isEmpty { body.removeLast() }
        return body
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[start...end])
    }
}
