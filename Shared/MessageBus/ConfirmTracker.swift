/// Which published messages the broker has confirmed. Delivery tags count up from 1 per channel
/// and the broker may acknowledge several at once (`multiple`), so this keeps the outstanding
/// tags in order and maps each back to the caller's index.
public struct ConfirmTracker: Sendable {
    /// The tag the next publish on the channel will get.
    public private(set) var nextTag: UInt64 = 1
    private var tags: [UInt64] = []
    private var indices: [Int] = []
    private var head = 0
    /// Tags settled out of order, still in `tags` as 0 until the head passes them.
    private var holes = 0

    public init() {}

    /// How many published messages wait for the broker's answer.
    public var outstanding: Int { tags.count - head - holes }

    /// Records a publish of the caller's message `index` and returns its delivery tag.
    @discardableResult
    public mutating func published(index: Int) -> UInt64 {
        let tag = nextTag
        nextTag += 1
        tags.append(tag)
        indices.append(index)
        return tag
    }

    /// Settles `tag` (and with `multiple` every earlier outstanding tag); returns the indices settled.
    public mutating func settle(tag: UInt64, multiple: Bool) -> [Int] {
        var settled: [Int] = []
        if multiple {
            while head < tags.count, tags[head] <= tag {
                if tags[head] != 0 { settled.append(indices[head]) } else { holes -= 1 }
                head += 1
            }
        } else if let position = position(of: tag) {
            settled.append(indices[position])
            tags[position] = 0 // settled out of order: a hole skipped later
            holes += 1
        }
        while head < tags.count, tags[head] == 0 {
            head += 1
            holes -= 1
        }
        compact()
        return settled
    }

    private func position(of tag: UInt64) -> Int? {
        // The broker acknowledges in order almost always, so the tag is at or near the head.
        var index = head
        while index < tags.count {
            if tags[index] == tag { return index }
            if tags[index] > tag { return nil }
            index += 1
        }
        return nil
    }

    private mutating func compact() {
        if head > 256 && head * 2 > tags.count {
            tags.removeFirst(head)
            indices.removeFirst(head)
            head = 0
        }
    }
}
