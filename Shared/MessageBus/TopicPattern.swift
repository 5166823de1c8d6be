/// An AMQP topic binding pattern (`identity.*.v1`, `progress.#`): `*` matches one word, `#`
/// zero or more. Used to filter what `syllabus events tail` shows the way a binding would.
public struct TopicPattern: Sendable, Equatable {
    public let words: [Substring]

    public init(_ pattern: String) {
        words = pattern.split(separator: ".", omittingEmptySubsequences: false)
    }

    public func matches(_ routingKey: String) -> Bool {
        Self.match(words[...], routingKey.split(separator: ".", omittingEmptySubsequences: false)[...])
    }

    private static func match(_ pattern: ArraySlice<Substring>, _ key: ArraySlice<Substring>) -> Bool {
        guard let first = pattern.first else { return key.isEmpty }
        if first == "#" {
            let rest = pattern.dropFirst()
            var remaining = key
            while true {
                if match(rest, remaining) { return true }
                guard !remaining.isEmpty else { return false }
                remaining = remaining.dropFirst()
            }
        }
        guard let word = key.first else { return false }
        return (first == "*" || first == word) && match(pattern.dropFirst(), key.dropFirst())
    }
}
