#ifndef SYLLABUS_CRABBITMQ_SHIM_H
#define SYLLABUS_CRABBITMQ_SHIM_H
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <poll.h>
#include <sys/time.h>

/// `amqp_login` is variadic, which Swift cannot call: this fixes the PLAIN mechanism's arguments,
/// and tells the broker the client understands `connection.blocked` (so a broker under a memory
/// or disk alarm says so instead of silently stopping to read) and `basic.cancel` (so a consumer
/// the broker drops, its queue deleted, is told and consumes again instead of waiting on a live
/// connection for deliveries that never come). These replace librabbitmq's own capabilities.
static inline amqp_rpc_reply_t syllabus_amqp_login_plain(amqp_connection_state_t state,
                                                         const char *vhost,
                                                         int channel_max,
                                                         int frame_max,
                                                         int heartbeat,
                                                         const char *user,
                                                         const char *password) {
    amqp_table_entry_t capabilities[4];
    capabilities[0].key = amqp_cstring_bytes("connection.blocked");
    capabilities[1].key = amqp_cstring_bytes("authentication_failure_close");
    capabilities[2].key = amqp_cstring_bytes("exchange_exchange_bindings");
    capabilities[3].key = amqp_cstring_bytes("consumer_cancel_notify");
    for (int i = 0; i < 4; i++) {
        capabilities[i].value.kind = AMQP_FIELD_KIND_BOOLEAN;
        capabilities[i].value.value.boolean = 1;
    }
    amqp_table_entry_t entries[1];
    entries[0].key = amqp_cstring_bytes("capabilities");
    entries[0].value.kind = AMQP_FIELD_KIND_TABLE;
    entries[0].value.value.table.num_entries = 4;
    entries[0].value.value.table.entries = capabilities;
    amqp_table_t properties;
    properties.num_entries = 1;
    properties.entries = entries;
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat, &properties,
                                      AMQP_SASL_METHOD_PLAIN, user, password);
}

/// The method id of a decoded method frame (Swift cannot reach into the payload union easily).
static inline amqp_method_number_t syllabus_frame_method_id(const amqp_frame_t *frame) {
    return frame->payload.method.id;
}

static inline void *syllabus_frame_method_decoded(const amqp_frame_t *frame) {
    return frame->payload.method.decoded;
}

/* Method ids: the framing header's macros carry casts, which Swift does not import. */
static const amqp_method_number_t SYLLABUS_BASIC_ACK = AMQP_BASIC_ACK_METHOD;
static const amqp_method_number_t SYLLABUS_BASIC_NACK = AMQP_BASIC_NACK_METHOD;
static const amqp_method_number_t SYLLABUS_BASIC_RETURN = AMQP_BASIC_RETURN_METHOD;
static const amqp_method_number_t SYLLABUS_BASIC_CANCEL = AMQP_BASIC_CANCEL_METHOD;
static const amqp_method_number_t SYLLABUS_BASIC_DELIVER = AMQP_BASIC_DELIVER_METHOD;
static const amqp_method_number_t SYLLABUS_CHANNEL_CLOSE = AMQP_CHANNEL_CLOSE_METHOD;
static const amqp_method_number_t SYLLABUS_CONNECTION_CLOSE = AMQP_CONNECTION_CLOSE_METHOD;
static const amqp_method_number_t SYLLABUS_CONNECTION_BLOCKED = AMQP_CONNECTION_BLOCKED_METHOD;
static const amqp_method_number_t SYLLABUS_CONNECTION_UNBLOCKED = AMQP_CONNECTION_UNBLOCKED_METHOD;

#endif
