import ServiceKit
import Testing

@Suite struct RetryPolicyTests {
    @Test func backsOffAcrossTiersThenDeadLetters() {
        let policy = RetryPolicy(delays: [1_000, 10_000, 60_000], maxAttempts: 5)
        #expect(policy.decision(afterFailedAttempt: 1) == .retry(afterMilliseconds: 1_000))
        #expect(policy.decision(afterFailedAttempt: 2) == .retry(afterMilliseconds: 10_000))
        #expect(policy.decision(afterFailedAttempt: 3) == .retry(afterMilliseconds: 60_000))
        #expect(policy.decision(afterFailedAttempt: 4) == .retry(afterMilliseconds: 60_000), "the last tier repeats")
        #expect(policy.decision(afterFailedAttempt: 5) == .deadLetter)
        #expect(policy.decision(afterFailedAttempt: 9) == .deadLetter)
    }

    @Test func oneAttemptMeansNoRetry() {
        #expect(RetryPolicy(delays: [100], maxAttempts: 1).decision(afterFailedAttempt: 1) == .deadLetter)
    }

    @Test func parsesDelays() {
        #expect(RetryPolicy.delays(from: "200, 500,1000") == [200, 500, 1000])
        #expect(RetryPolicy.delays(from: "") == nil)
        #expect(RetryPolicy.delays(from: "100,x") == nil)
        #expect(RetryPolicy.delays(from: "100,-5") == nil)
    }
}
