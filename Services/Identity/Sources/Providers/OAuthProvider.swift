import Crypto
import Foundation
import ServiceKit

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// An OAuth 2.0 / OpenID Connect provider, from configuration: sign-in by authorization code with
/// PKCE (S256) and `state`; the user's identity from the provider's userinfo endpoint.
public struct OAuthProvider: Sendable {
    public var name: String
    public var authorizeURL: String
    public var tokenURL: String
    public var userinfoURL: String
    public var clientID: String
    public var clientSecret: String
    /// Identity's callback, registered with the provider.
    public var redirectURL: String
    public var scopes: String

    /// What the provider says of the user.
    public struct Identity: Sendable, Equatable {
        public var subject: String
        public var email: String
        public var emailVerified: Bool
        public var name: String?
    }

    public enum Failure: Error, Equatable {
        case provider(String)
    }

    /// A PKCE verifier (RFC 7636: 43 to 128 unreserved characters) and its S256 challenge.
    public static func pkce() -> (verifier: String, challenge: String) {
        let verifier = TokenIssuer.newRefreshToken().token + TokenIssuer.newRefreshToken().token.prefix(21)
        return (verifier, challenge(for: verifier))
    }

    public static func challenge(for verifier: String) -> String {
        Base64URL.encode(Data(SHA256.hash(data: Data(verifier.utf8))))
    }

    /// Where to send the browser.
    public func authorizationURL(state: String, challenge: String) -> String {
        var components = URLComponents(string: authorizeURL)!
        components.queryItems = (components.queryItems ?? []) + [
            URLQueryItem(name: "response_type", value: "code"), URLQueryItem(name: "client_id", value: clientID),
            URLQueryItem(name: "redirect_uri", value: redirectURL), URLQueryItem(name: "scope", value: scopes),
            URLQueryItem(name: "state", value: state), URLQueryItem(name: "code_challenge", value: challenge),
            URLQueryItem(name: "code_challenge_method", value: "S256"),
        ]
        return components.url!.absoluteString
    }

    /// Exchanges the code (with the PKCE verifier) and asks who the user is.
    public func identity(code: String, verifier: String) async throws -> Identity {
        var form = URLComponents()
        form.queryItems = [
            URLQueryItem(name: "grant_type", value: "authorization_code"), URLQueryItem(name: "code", value: code),
            URLQueryItem(name: "redirect_uri", value: redirectURL), URLQueryItem(name: "client_id", value: clientID),
            URLQueryItem(name: "client_secret", value: clientSecret), URLQueryItem(name: "code_verifier", value: verifier),
        ]
        guard let tokenEndpoint = URL(string: tokenURL), let userinfoEndpoint = URL(string: userinfoURL) else {
            throw Failure.provider("the provider's URLs are not valid")
        }
        var tokenRequest = URLRequest(url: tokenEndpoint, timeoutInterval: 10)
        tokenRequest.httpMethod = "POST"
        tokenRequest.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        tokenRequest.setValue("application/json", forHTTPHeaderField: "Accept")
        tokenRequest.httpBody = Data((form.percentEncodedQuery ?? "").utf8)
        let (tokenStatus, tokenBody) = try await Self.fetch(tokenRequest)
        guard tokenStatus == 200,
            let token = (try? JSONSerialization.jsonObject(with: tokenBody) as? [String: Any])?["access_token"] as? String
        else { throw Failure.provider("the token endpoint answered \(tokenStatus)") }

        var userinfoRequest = URLRequest(url: userinfoEndpoint, timeoutInterval: 10)
        userinfoRequest.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        userinfoRequest.setValue("application/json", forHTTPHeaderField: "Accept")
        let (userinfoStatus, userinfoBody) = try await Self.fetch(userinfoRequest)
        guard userinfoStatus == 200,
            let claims = try? JSONSerialization.jsonObject(with: userinfoBody) as? [String: Any],
            let subject = claims["sub"] as? String, !subject.isEmpty, let email = claims["email"] as? String, EmailAddress.isValid(email)
        else { throw Failure.provider("the userinfo endpoint gave no subject and email") }
        let verified = (claims["email_verified"] as? Bool) ?? ((claims["email_verified"] as? String) == "true")
        return Identity(subject: subject, email: email, emailVerified: verified, name: claims["name"] as? String)
    }

    /// Through `OutgoingHTTP`: its timeout is enforced, and the call is a span of the request's trace.
    static func fetch(_ request: URLRequest) async throws -> (Int, Data) {
        do {
            let answer = try await OutgoingHTTP.send(request)
            return (answer.status, answer.body)
        } catch {
            throw Failure.provider("\(error)")
        }
    }
}
