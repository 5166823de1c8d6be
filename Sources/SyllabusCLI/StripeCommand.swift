import ArgumentParser
import ServiceKit
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

struct StripeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stripe", abstract: "Play Stripe by hand.", subcommands: [Send.self])

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign a Stripe event with the webhook secret and post it to billing, as Stripe would.",
            discussion: "Without Stripe, a subscription can be played through: send customer.subscription.created, invoice.paid … (see Services/Billing/README.md for examples).")

        @Argument(help: "A Stripe event as JSON (a file, or - for standard input).")
        var event: String

        @Option(help: "Billing's base URL (default: $BILLING_URL, else http://127.0.0.1:8082).")
        var url: String?

        @Option(help: "The endpoint's signing secret (default: $BILLING_STRIPE_WEBHOOK_SECRET).")
        var secret: String?

        func run() async throws {
            let body = event == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: event))
            let base = url ?? ProcessInfo.processInfo.environment["BILLING_URL"] ?? "http://127.0.0.1:8082"
            let header = WebhookSignature.header(
                body: Array(body), secret: try setting(secret, env: "BILLING_STRIPE_WEBHOOK_SECRET"), timestamp: Int64(Date().timeIntervalSince1970))
            var request = URLRequest(url: URL(string: "\(base)/v1/billing/webhooks/stripe")!, timeoutInterval: 30)
            request.httpMethod = "POST"
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue(header, forHTTPHeaderField: "Stripe-Signature")
            let (status, answer) = try await OutgoingHTTP.send(request)
            print("\(status) \(String(decoding: answer, as: UTF8.self))")
            if !(200..<300).contains(status) { throw ExitCode(1) }
        }
    }
}
