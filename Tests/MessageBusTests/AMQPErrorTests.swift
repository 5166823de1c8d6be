import Testing

@testable import MessageBus

@Suite struct AMQPErrorTests {
    /// Only the broker's transient "could not form the queue's Raft cluster" is worth declaring
    /// again; any other refusal is final.
    @Test func onlyAnUnformedRaftClusterIsTransient() {
        let unformed = "INTERNAL_ERROR - Cannot declare quorum queue 'q.dlq' in vhost 'syllabus' on node 'n@localhost' "
            + "with leader on node 'n@localhost': cluster_not_formed"
        #expect(AMQPError.connectionClosed(code: 541, text: unformed).isClusterNotFormed)
        #expect(!AMQPError.connectionClosed(code: 541, text: "INTERNAL_ERROR").isClusterNotFormed)
        #expect(!AMQPError.channelClosed(code: 406, text: "PRECONDITION_FAILED - cluster_not_formed").isClusterNotFormed)
        #expect(!AMQPError.connectionClosed(code: 403, text: "ACCESS_REFUSED").isClusterNotFormed)
    }
}
