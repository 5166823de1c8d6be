import CRabbitMQ
import Foundation

/// One librabbitmq connection with one channel. Not thread-safe: a connection belongs to the
/// thread that made it, and every call on it comes from that thread.
final class AMQPConnection {
    private let state: amqp_connection_state_t
    let channel: amqp_channel_t = 1
    /// Logged in and not closed by either side.
    private var open = false
    /// The library's state is freed; nothing may touch it again.
    private var destroyed = false

    /// The longest wait for the answer to one method: well beyond what a busy broker takes to
    /// declare a replicated queue, and a bound on a broker that has stopped answering.
    static let rpcTimeout: TimeInterval = 60

    /// The node this connection is open to, as an index into the endpoint's nodes.
    let nodeIndex: Int
    let node: AMQPNode

    /// Opens a connection to the first node, from `firstNode` on, that accepts one: the nodes of
    /// a cluster are tried in turn, each with `connectTimeout`, and the error names every failure.
    static func open(
        _ endpoint: AMQPEndpoint, firstNode: Int = 0, heartbeatSeconds: Int32 = 30, connectTimeout: TimeInterval = 5
    ) throws -> AMQPConnection {
        var failures: [String] = []
        for offset in 0..<endpoint.nodes.count {
            let index = (firstNode + offset) % endpoint.nodes.count
            do {
                return try AMQPConnection(
                    endpoint: endpoint, nodeIndex: index, heartbeatSeconds: heartbeatSeconds, connectTimeout: connectTimeout)
            } catch AMQPError.connection(let message) where endpoint.nodes.count > 1 {
                // Unreachable, or refused while starting or stopping: the next node may take it.
                failures.append(message)
            } catch AMQPError.connectionClosed(let code, let text) where endpoint.nodes.count > 1 && code != 403 {
                failures.append("\(endpoint.nodes[index]): closed \(code) \(text)")
            }
        }
        throw AMQPError.connection(failures.joined(separator: "; "))
    }

    init(endpoint: AMQPEndpoint, nodeIndex: Int, heartbeatSeconds: Int32 = 30, connectTimeout: TimeInterval = 5) throws {
        let node = endpoint.nodes[nodeIndex]
        self.nodeIndex = nodeIndex
        self.node = node
        guard let state = amqp_new_connection() else { throw AMQPError.connection("out of memory") }
        self.state = state
        let socket: OpaquePointer
        do {
            socket = try Self.socket(on: state, tls: endpoint.tls)
        } catch {
            amqp_destroy_connection(state)
            destroyed = true
            throw error
        }
        var timeout = timeval(tv_sec: Int(connectTimeout), tv_usec: 0)
        let status = amqp_socket_open_noblock(socket, node.host, Int32(node.port), &timeout)
        guard status == AMQP_STATUS_OK.rawValue else {
            amqp_destroy_connection(state)
            destroyed = true
            throw AMQPError.connection("cannot reach \(node): \(Self.errorString(status))")
        }
        let login = syllabus_amqp_login_plain(
            state, endpoint.vhost, 0, Int32(AMQP_DEFAULT_FRAME_SIZE), heartbeatSeconds, endpoint.user, endpoint.password)
        if login.reply_type != AMQP_RESPONSE_NORMAL {
            let error = Self.error(from: login, context: "login as \(endpoint.user) at \(node)")
            amqp_destroy_connection(state)
            destroyed = true
            throw error
        }
        open = true
        // A method that waits for the broker's answer (channel.open, queue.declare, basic.consume,
        // confirm.select, …) waits at most this long; heartbeats only notice a broker that is
        // gone, not one that is there and never answers. On a timeout librabbitmq closes the
        // connection, and its owner opens another.
        var rpcTimeout = timeval(tv_sec: Int(Self.rpcTimeout), tv_usec: 0)
        amqp_set_rpc_timeout(state, &rpcTimeout)
        amqp_channel_open(state, channel)
        do {
            try check("channel.open")
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
    }

    /// A plain TCP socket, or a TLS one that verifies the broker's certificate against the given
    /// authorities and its name against the host (a handshake that fails either is refused).
    private static func socket(on state: amqp_connection_state_t, tls: AMQPTLS?) throws -> OpaquePointer {
        guard let tls else {
            guard let socket = amqp_tcp_socket_new(state) else { throw AMQPError.connection("cannot create a socket") }
            return socket
        }
        guard let socket = amqp_ssl_socket_new(state) else { throw AMQPError.connection("cannot create a TLS socket") }
        amqp_ssl_socket_set_verify_peer(socket, 1)
        amqp_ssl_socket_set_verify_hostname(socket, 1)
        let status = amqp_ssl_socket_set_ssl_versions(socket, AMQP_TLSv1_2, AMQP_TLSvLATEST)
        guard status == AMQP_STATUS_OK.rawValue else { throw AMQPError.connection("TLS versions: \(errorString(status))") }
        let caStatus = amqp_ssl_socket_set_cacert(socket, tls.caFile)
        guard caStatus == AMQP_STATUS_OK.rawValue else {
            throw AMQPError.connection("cannot read the certificate authorities in \(tls.caFile): \(errorString(caStatus))")
        }
        if let certFile = tls.certFile, let keyFile = tls.keyFile {
            let keyStatus = amqp_ssl_socket_set_key(socket, certFile, keyFile)
            guard keyStatus == AMQP_STATUS_OK.rawValue else {
                throw AMQPError.connection("cannot read the client certificate \(certFile): \(errorString(keyStatus))")
            }
        }
        return socket
    }

    /// Closes politely when the connection is still up, then frees it (once).
    func close() {
        guard !destroyed else { return }
        if open { amqp_connection_close(state, Int32(AMQP_REPLY_SUCCESS)) }
        open = false
        amqp_destroy_connection(state)
        destroyed = true
    }

    var socketDescriptor: Int32 { amqp_get_sockfd(state) }

    /// Whether frames are already read and waiting, so polling the socket would wait for nothing.
    var hasBufferedInput: Bool {
        amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0
    }

    // MARK: Declarations

    func declareExchange(_ name: String, type: String = "topic", durable: Bool = true, passive: Bool = false) throws {
        let arena = Arena()
        amqp_exchange_declare(
            state, channel, arena.bytes(name), arena.bytes(type), passive ? 1 : 0, durable ? 1 : 0, 0, 0, amqp_empty_table)
        try check("exchange.declare \(name)")
    }

    /// Declares (or, with `passive`, checks) a queue and returns its message and consumer counts.
    @discardableResult
    func declareQueue(
        _ name: String, passive: Bool = false, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
        arguments: AMQPTable = [:]
    ) throws -> (name: String, messages: Int, consumers: Int) {
        let arena = Arena()
        let ok = amqp_queue_declare(
            state, channel, arena.bytes(name), passive ? 1 : 0, durable ? 1 : 0, exclusive ? 1 : 0, autoDelete ? 1 : 0,
            arena.table(arguments))
        try check("queue.declare \(name)")
        guard let ok else { throw AMQPError.connection("queue.declare \(name): no reply") }
        return (Self.string(ok.pointee.queue), Int(ok.pointee.message_count), Int(ok.pointee.consumer_count))
    }

    func bindQueue(_ queue: String, exchange: String, routingKey: String) throws {
        let arena = Arena()
        amqp_queue_bind(state, channel, arena.bytes(queue), arena.bytes(exchange), arena.bytes(routingKey), amqp_empty_table)
        try check("queue.bind \(queue) -> \(exchange) [\(routingKey)]")
    }

    /// Removes a binding; removing one that does not exist is not an error.
    func unbindQueue(_ queue: String, exchange: String, routingKey: String) throws {
        let arena = Arena()
        amqp_queue_unbind(state, channel, arena.bytes(queue), arena.bytes(exchange), arena.bytes(routingKey), amqp_empty_table)
        try check("queue.unbind \(queue) -> \(exchange) [\(routingKey)]")
    }

    func deleteQueue(_ queue: String) throws {
        let arena = Arena()
        amqp_queue_delete(state, channel, arena.bytes(queue), 0, 0)
        try check("queue.delete \(queue)")
    }

    func purgeQueue(_ queue: String) throws {
        let arena = Arena()
        amqp_queue_purge(state, channel, arena.bytes(queue))
        try check("queue.purge \(queue)")
    }

    // MARK: Publishing

    func enableConfirms() throws {
        amqp_confirm_select(state, channel)
        try check("confirm.select")
    }

    func publish(_ message: OutgoingMessage) throws {
        let arena = Arena()
        var properties = arena.properties(message.properties)
        let status = amqp_basic_publish(
            state, channel, arena.bytes(message.exchange), arena.bytes(message.routingKey), message.mandatory ? 1 : 0, 0,
            &properties, arena.bytes(message.body))
        guard status == AMQP_STATUS_OK.rawValue else {
            throw AMQPError.connection("publish failed: \(Self.errorString(status))")
        }
    }

    /// What a wait for the next frame produced.
    enum Frame {
        case ack(tag: UInt64, multiple: Bool)
        case nack(tag: UInt64, multiple: Bool)
        case returned(code: Int, text: String, messageID: String?)
        case cancelled
        /// The broker stopped reading from this connection (a memory or disk alarm).
        case blocked(reason: String)
        case unblocked
        case other
    }

    /// Waits up to `timeout` for one frame (nil when none came). Calling it also services
    /// heartbeats, which librabbitmq only does while the program is inside the library.
    func nextFrame(timeout: TimeInterval) throws -> Frame? {
        var frame = amqp_frame_t()
        var wait = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        let status = amqp_simple_wait_frame_noblock(state, &frame, &wait)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return nil }
        guard status == AMQP_STATUS_OK.rawValue else {
            throw AMQPError.connection("connection lost: \(Self.errorString(status))")
        }
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { return .other }
        return try interpret(&frame)
    }

    private func interpret(_ frame: inout amqp_frame_t) throws -> Frame {
        let method = syllabus_frame_method_id(&frame)
        let decoded = syllabus_frame_method_decoded(&frame)
        switch method {
        case SYLLABUS_BASIC_ACK:
            let ack = decoded!.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            return .ack(tag: ack.delivery_tag, multiple: ack.multiple != 0)
        case SYLLABUS_BASIC_NACK:
            let nack = decoded!.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            return .nack(tag: nack.delivery_tag, multiple: nack.multiple != 0)
        case SYLLABUS_BASIC_RETURN:
            let info = decoded!.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let code = Int(info.reply_code)
            let text = Self.string(info.reply_text)
            // The returned message's header and body follow and must be read off the wire.
            var message = amqp_message_t()
            let reply = amqp_read_message(state, frame.channel, &message, 0)
            guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
                throw Self.error(from: reply, context: "reading a returned message")
            }
            defer { amqp_destroy_message(&message) }
            let properties = Self.properties(message.properties)
            return .returned(code: code, text: text, messageID: properties.messageID)
        case SYLLABUS_BASIC_CANCEL:
            return .cancelled
        case SYLLABUS_CONNECTION_BLOCKED:
            let blocked = decoded!.assumingMemoryBound(to: amqp_connection_blocked_t.self).pointee
            return .blocked(reason: Self.string(blocked.reason))
        case SYLLABUS_CONNECTION_UNBLOCKED:
            return .unblocked
        case SYLLABUS_CHANNEL_CLOSE:
            let close = decoded!.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            var ok = amqp_channel_close_ok_t(dummy: 0)
            amqp_send_method(state, frame.channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok)
            throw AMQPError.channelClosed(code: Int(close.reply_code), text: Self.string(close.reply_text))
        case SYLLABUS_CONNECTION_CLOSE:
            // The reason lives in the connection's memory: copy it before anything else. The
            // state itself is freed later, by close(), and never while the reason is read.
            let close = decoded!.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            let error = AMQPError.connectionClosed(code: Int(close.reply_code), text: Self.string(close.reply_text))
            var ok = amqp_connection_close_ok_t(dummy: 0)
            amqp_send_method(state, frame.channel, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok)
            open = false
            throw error
        default:
            return .other
        }
    }

    // MARK: Consuming

    func setPrefetch(_ count: UInt16) throws {
        amqp_basic_qos(state, channel, 0, count, 0)
        try check("basic.qos")
    }

    func consume(queue: String, consumerTag: String, arguments: AMQPTable = [:]) throws {
        let arena = Arena()
        amqp_basic_consume(state, channel, arena.bytes(queue), arena.bytes(consumerTag), 0, 0, 0, arena.table(arguments))
        try check("basic.consume \(queue)")
    }

    /// The next delivery, waiting up to `timeout` (zero: only what has arrived).
    func nextDelivery(timeout: TimeInterval, generation: Int) throws -> IncomingMessage? {
        amqp_maybe_release_buffers(state)
        var envelope = amqp_envelope_t()
        var wait = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        let reply = amqp_consume_message(state, &envelope, &wait, 0)
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            defer { amqp_destroy_envelope(&envelope) }
            return IncomingMessage(
                deliveryTag: envelope.delivery_tag,
                connectionGeneration: generation,
                exchange: Self.string(envelope.exchange),
                routingKey: Self.string(envelope.routing_key),
                redelivered: envelope.redelivered != 0,
                body: Self.byteArray(envelope.message.body),
                properties: Self.properties(envelope.message.properties))
        case AMQP_RESPONSE_LIBRARY_EXCEPTION where reply.library_error == AMQP_STATUS_TIMEOUT.rawValue:
            return nil
        case AMQP_RESPONSE_LIBRARY_EXCEPTION where reply.library_error == AMQP_STATUS_UNEXPECTED_STATE.rawValue:
            // A frame other than a delivery: read it and act on it.
            var frame = amqp_frame_t()
            let status = amqp_simple_wait_frame(state, &frame)
            guard status == AMQP_STATUS_OK.rawValue else {
                throw AMQPError.connection("connection lost: \(Self.errorString(status))")
            }
            if frame.frame_type == UInt8(AMQP_FRAME_METHOD), case .cancelled = try interpret(&frame) {
                throw AMQPError.channelClosed(code: 404, text: "the broker cancelled the consumer (queue deleted?)")
            }
            return nil
        default:
            throw Self.error(from: reply, context: "basic.consume")
        }
    }

    /// Fetches one message with basic.get (nil when the queue is empty).
    func get(queue: String, generation: Int) throws -> IncomingMessage? {
        let arena = Arena()
        let reply = amqp_basic_get(state, channel, arena.bytes(queue), 0)
        guard reply.reply_type == AMQP_RESPONSE_NORMAL else { throw Self.error(from: reply, context: "basic.get \(queue)") }
        guard reply.reply.id == AMQP_BASIC_GET_OK_METHOD, let decoded = reply.reply.decoded else { return nil }
        let ok = decoded.assumingMemoryBound(to: amqp_basic_get_ok_t.self).pointee
        var message = amqp_message_t()
        let read = amqp_read_message(state, channel, &message, 0)
        guard read.reply_type == AMQP_RESPONSE_NORMAL else { throw Self.error(from: read, context: "basic.get body") }
        defer { amqp_destroy_message(&message) }
        return IncomingMessage(
            deliveryTag: ok.delivery_tag, connectionGeneration: generation, exchange: Self.string(ok.exchange),
            routingKey: Self.string(ok.routing_key), redelivered: ok.redelivered != 0,
            body: Self.byteArray(message.body), properties: Self.properties(message.properties))
    }

    func ack(_ tag: UInt64, multiple: Bool = false) throws {
        let status = amqp_basic_ack(state, channel, tag, multiple ? 1 : 0)
        guard status == AMQP_STATUS_OK.rawValue else { throw AMQPError.connection("ack failed: \(Self.errorString(status))") }
    }

    func nack(_ tag: UInt64, requeue: Bool) throws {
        let status = amqp_basic_nack(state, channel, tag, 0, requeue ? 1 : 0)
        guard status == AMQP_STATUS_OK.rawValue else { throw AMQPError.connection("nack failed: \(Self.errorString(status))") }
    }

    func reject(_ tag: UInt64, requeue: Bool) throws {
        let status = amqp_basic_reject(state, channel, tag, requeue ? 1 : 0)
        guard status == AMQP_STATUS_OK.rawValue else { throw AMQPError.connection("reject failed: \(Self.errorString(status))") }
    }

    // MARK: Errors and conversions

    private func check(_ context: String) throws {
        let reply = amqp_get_rpc_reply(state)
        guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
            throw Self.error(from: reply, context: context)
        }
    }

    static func error(from reply: amqp_rpc_reply_t, context: String) -> AMQPError {
        switch reply.reply_type {
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            switch reply.reply.id {
            case SYLLABUS_CHANNEL_CLOSE:
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                return .channelClosed(code: Int(close.reply_code), text: "\(context): \(string(close.reply_text))")
            case SYLLABUS_CONNECTION_CLOSE:
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                return .connectionClosed(code: Int(close.reply_code), text: "\(context): \(string(close.reply_text))")
            default:
                return .connection("\(context): unexpected server method \(reply.reply.id)")
            }
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            return .connection("\(context): \(errorString(reply.library_error))")
        default:
            return .connection("\(context): no reply")
        }
    }

    static func errorString(_ status: Int32) -> String {
        String(cString: amqp_error_string2(status))
    }

    static func string(_ bytes: amqp_bytes_t) -> String {
        guard bytes.len > 0, let pointer = bytes.bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: bytes.len), as: UTF8.self)
    }

    static func byteArray(_ bytes: amqp_bytes_t) -> [UInt8] {
        guard bytes.len > 0, let pointer = bytes.bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: bytes.len))
    }

    static func properties(_ raw: amqp_basic_properties_t) -> AMQPProperties {
        let flags = raw._flags
        func has(_ flag: Int32) -> Bool { flags & amqp_flags_t(flag) != 0 }
        return AMQPProperties(
            contentType: has(AMQP_BASIC_CONTENT_TYPE_FLAG) ? string(raw.content_type) : nil,
            messageID: has(AMQP_BASIC_MESSAGE_ID_FLAG) ? string(raw.message_id) : nil,
            type: has(AMQP_BASIC_TYPE_FLAG) ? string(raw.type) : nil,
            appID: has(AMQP_BASIC_APP_ID_FLAG) ? string(raw.app_id) : nil,
            correlationID: has(AMQP_BASIC_CORRELATION_ID_FLAG) ? string(raw.correlation_id) : nil,
            timestamp: has(AMQP_BASIC_TIMESTAMP_FLAG) ? raw.timestamp : nil,
            persistent: has(AMQP_BASIC_DELIVERY_MODE_FLAG) && raw.delivery_mode == 2,
            headers: has(AMQP_BASIC_HEADERS_FLAG) ? table(raw.headers) : [:])
    }

    static func table(_ raw: amqp_table_t) -> AMQPTable {
        var table = AMQPTable()
        guard raw.num_entries > 0, let entries = raw.entries else { return table }
        for index in 0..<Int(raw.num_entries) {
            let entry = entries[index]
            table[string(entry.key)] = value(entry.value)
        }
        return table
    }

    static func value(_ raw: amqp_field_value_t) -> AMQPFieldValue {
        switch raw.kind {
        case UInt8(ascii: "t"): return .bool(raw.value.boolean != 0)
        case UInt8(ascii: "b"): return .int(Int64(raw.value.i8))
        case UInt8(ascii: "B"): return .int(Int64(raw.value.u8))
        case UInt8(ascii: "s"): return .int(Int64(raw.value.i16))
        case UInt8(ascii: "u"): return .int(Int64(raw.value.u16))
        case UInt8(ascii: "I"): return .int(Int64(raw.value.i32))
        case UInt8(ascii: "i"): return .int(Int64(raw.value.u32))
        case UInt8(ascii: "l"): return .int(raw.value.i64)
        case UInt8(ascii: "L"): return .int(Int64(bitPattern: raw.value.u64))
        case UInt8(ascii: "f"): return .double(Double(raw.value.f32))
        case UInt8(ascii: "d"): return .double(raw.value.f64)
        case UInt8(ascii: "S"): return .string(string(raw.value.bytes))
        case UInt8(ascii: "x"): return .bytes(byteArray(raw.value.bytes))
        case UInt8(ascii: "T"): return .timestamp(raw.value.u64)
        case UInt8(ascii: "F"): return .table(table(raw.value.table))
        case UInt8(ascii: "A"):
            let array = raw.value.array
            guard array.num_entries > 0, let entries = array.entries else { return .array([]) }
            return .array((0..<Int(array.num_entries)).map { value(entries[$0]) })
        default: return .void
        }
    }
}

/// Memory for the C structures of one call; librabbitmq does not copy what it is given, so the
/// arena keeps every buffer alive until the call has returned.
final class Arena {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit {
        for pointer in allocations { free(pointer) }
    }

    private func allocate(_ size: Int) -> UnsafeMutableRawPointer {
        let pointer = malloc(max(size, 1))!
        allocations.append(pointer)
        return pointer
    }

    func bytes(_ string: String) -> amqp_bytes_t {
        bytes(Array(string.utf8))
    }

    func bytes(_ data: [UInt8]) -> amqp_bytes_t {
        guard !data.isEmpty else { return amqp_bytes_t(len: 0, bytes: nil) }
        let pointer = allocate(data.count)
        data.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress!, byteCount: data.count) }
        return amqp_bytes_t(len: data.count, bytes: pointer)
    }

    func table(_ table: AMQPTable) -> amqp_table_t {
        guard !table.isEmpty else { return amqp_empty_table }
        let entries = allocate(MemoryLayout<amqp_table_entry_t>.stride * table.count)
            .bindMemory(to: amqp_table_entry_t.self, capacity: table.count)
        for (index, (key, value)) in table.sorted(by: { $0.key < $1.key }).enumerated() {
            entries[index] = amqp_table_entry_t(key: bytes(key), value: field(value))
        }
        return amqp_table_t(num_entries: Int32(table.count), entries: entries)
    }

    func field(_ value: AMQPFieldValue) -> amqp_field_value_t {
        var field = amqp_field_value_t()
        switch value {
        case .bool(let flag):
            field.kind = UInt8(ascii: "t")
            field.value.boolean = flag ? 1 : 0
        case .int(let number):
            field.kind = UInt8(ascii: "l")
            field.value.i64 = number
        case .double(let number):
            field.kind = UInt8(ascii: "d")
            field.value.f64 = number
        case .string(let text):
            field.kind = UInt8(ascii: "S")
            field.value.bytes = bytes(text)
        case .bytes(let data):
            field.kind = UInt8(ascii: "x")
            field.value.bytes = bytes(data)
        case .timestamp(let seconds):
            field.kind = UInt8(ascii: "T")
            field.value.u64 = seconds
        case .table(let nested):
            field.kind = UInt8(ascii: "F")
            field.value.table = table(nested)
        case .array(let items):
            field.kind = UInt8(ascii: "A")
            let entries = allocate(MemoryLayout<amqp_field_value_t>.stride * max(items.count, 1))
                .bindMemory(to: amqp_field_value_t.self, capacity: max(items.count, 1))
            for (index, item) in items.enumerated() { entries[index] = self.field(item) }
            field.value.array = amqp_array_t(num_entries: Int32(items.count), entries: entries)
        case .void:
            field.kind = UInt8(ascii: "V")
        }
        return field
    }

    func properties(_ properties: AMQPProperties) -> amqp_basic_properties_t {
        var raw = amqp_basic_properties_t()
        var flags: Int32 = AMQP_BASIC_DELIVERY_MODE_FLAG
        raw.delivery_mode = properties.persistent ? 2 : 1
        if let value = properties.contentType {
            flags |= AMQP_BASIC_CONTENT_TYPE_FLAG
            raw.content_type = bytes(value)
        }
        if let value = properties.messageID {
            flags |= AMQP_BASIC_MESSAGE_ID_FLAG
            raw.message_id = bytes(value)
        }
        if let value = properties.type {
            flags |= AMQP_BASIC_TYPE_FLAG
            raw.type = bytes(value)
        }
        if let value = properties.appID {
            flags |= AMQP_BASIC_APP_ID_FLAG
            raw.app_id = bytes(value)
        }
        if let value = properties.correlationID {
            flags |= AMQP_BASIC_CORRELATION_ID_FLAG
            raw.correlation_id = bytes(value)
        }
        if let value = properties.timestamp {
            flags |= AMQP_BASIC_TIMESTAMP_FLAG
            raw.timestamp = value
        }
        if !properties.headers.isEmpty {
            flags |= AMQP_BASIC_HEADERS_FLAG
            raw.headers = table(properties.headers)
        }
        raw._flags = amqp_flags_t(flags)
        return raw
    }
}
