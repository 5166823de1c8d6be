import ServiceKit

/// The events the content service consumes; its queue is bound to exactly these types.
enum ContentHandlers {
    static let all: [EventHandler] = [
        Tombstones.handler(),
    ]
}
