#ifndef SYLLABUS_CRABBITMQ_SHIM_H
#define SYLLABUS_CRABBITMQ_SHIM_H
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <poll.h>
#include <sys/time.h>

/// `amqp_login` is variadic, which Swift cannot call: this fixes the PLAIN mechanism's arguments.
static inline amqp_rpc_reply_t syllabus_amqp_login_plain(amqp_connection_state_t state,
                                                         const char *vhost,
                                                         int channel_max,
                                                         int frame_max,
                                                         int heartbeat,
                                                         const char *user,
                                                         const char *password) {
    return amqp_login(state, vhost, channel_max, frame_max, heartbeat,
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

#endif
