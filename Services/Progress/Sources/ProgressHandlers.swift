import ServiceKit

/// The events the progress service consumes; its queue is bound to exactly these types.
enum ProgressHandlers {
    static let all: [EventHandler] = [
        Tombstones.handler(),
    ]
}
