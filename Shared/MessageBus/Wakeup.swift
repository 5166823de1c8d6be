import Foundation

/// A pipe a connection thread polls beside its socket, so that other threads can wake it at once
/// (a new message to publish, an ack to send) without touching the connection themselves.
final class Wakeup: @unchecked Sendable {
    let readDescriptor: Int32
    private let writeDescriptor: Int32

    init() {
        var descriptors: [Int32] = [0, 0]
        precondition(pipe(&descriptors) == 0, "cannot create a pipe")
        readDescriptor = descriptors[0]
        writeDescriptor = descriptors[1]
        for descriptor in descriptors {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        }
    }

    deinit {
        close(readDescriptor)
        close(writeDescriptor)
    }

    func signal() {
        var byte: UInt8 = 1
        _ = write(writeDescriptor, &byte, 1)
    }

    func drain() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(readDescriptor, &buffer, buffer.count) > 0 {}
    }

    /// Waits until the pipe or `socket` (when not negative) is readable, or `timeout` passes.
    /// Returns whether the socket is readable.
    func wait(socket: Int32, timeout: TimeInterval) -> Bool {
        var descriptors = [pollfd(fd: readDescriptor, events: Int16(POLLIN), revents: 0)]
        if socket >= 0 { descriptors.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0)) }
        let ready = poll(&descriptors, nfds_t(descriptors.count), Int32(timeout * 1000))
        guard ready > 0 else { return false }
        if descriptors[0].revents != 0 { drain() }
        return descriptors.count > 1 && descriptors[1].revents != 0
    }
}
