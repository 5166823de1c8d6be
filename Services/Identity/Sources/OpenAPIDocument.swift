// Generated from openapi.yaml and Shared/OpenAPI/common.yaml by scripts/openapi.py; edit the YAML, then run `make openapi`.
public enum IdentityOpenAPI {
    public static let document = #####"""
openapi: 3.1.0
info:
  title: Syllabus identity service
  version: 0.1.0
  description: |
    Accounts, sessions and access tokens. Access tokens are ES256 JWTs (15 minutes; `sub`, `role`,
    `iss` = `syllabus-identity`, `aud` = `syllabus`, header `kid`) that every service verifies
    locally against the keys published at `/.well-known/jwks.json`. Refresh tokens are opaque,
    single use (each refresh answers with a new one) and belong to a session that lasts 30 days
    from sign-in.

    Request bodies are JSON objects (`Content-Type` is not checked); unknown properties are
    ignored. A body that is not JSON, or a property of the wrong type, is answered with 400
    `malformed_request`; a missing or invalid value with 422 `validation_failed`, which lists each
    field in `errors`. Responses are JSON with camelCase names; times are RFC 3339 strings in UTC
    with fractional seconds; optional properties without a value are left out.

    Errors are RFC 9457 `application/problem+json` with a stable `code`. A path or method not
    listed here is answered with 404 `not_found`; an unexpected failure (for example the database
    being unreachable) with 500 `internal_error`.
servers:
  - url: http://127.0.0.1:8081
tags:
  - name: auth
    description: Sign-up, sign-in, tokens and one-time links
  - name: oauth
    description: Sign-in with an OAuth 2.0 / OpenID Connect provider
  - name: profile
    description: The caller's own account
  - name: admin
    description: Admins manage users (every change is audited and published)
  - name: operations
    description: Health, metrics and this document
paths:
  /v1/auth/register:
    post:
      operationId: register
      summary: Create an account
      description: |
        Creates the user (role `USER`, email not verified) and a first session, and answers with
        tokens. The name and the email are trimmed; the email is compared without case, and a
        second account for the same address is refused with 409 `email_taken`. Publishes
        `identity.user.registered.v1` and `identity.email.verification_requested.v2` (a
        verification link valid for 48 hours). Registering is not a sign-in: no
        `identity.user.logged_in.v1`, and `lastLoginAt` stays unset.

        Valid requests are counted per client address (100 per 15-minute window by default):
        past that, 429 `too_many_attempts` with `Retry-After`.
      tags: [auth]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [email, password, name]
              properties:
                email: { type: string, format: email, maxLength: 320, description: "At most 320 bytes once trimmed" }
                password: { type: string, minLength: 8, description: "8 characters to 72 bytes" }
                name: { type: string, minLength: 1, maxLength: 200, description: "1 to 200 characters once trimmed" }
      responses:
        "201":
          description: Created
          content:
            application/json:
              schema: { $ref: "#/components/schemas/AuthResult" }
        "400": { $ref: "#/components/responses/MalformedRequest" }
        "409":
          description: An account with this email exists (`email_taken`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "422":
          description: |
            A field is missing or invalid (`validation_failed`), every bad field listed in `errors`:
            `email` `required` / `invalid_email`; `password` `required` / `too_short` / `too_long`;
            `name` `required` / `too_long`.
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "429": { $ref: "#/components/responses/TooManyAttempts" }
        "500": { $ref: "#/components/responses/InternalError" }
        "503": { $ref: "#/components/responses/Busy" }
  /v1/auth/login:
    post:
      operationId: login
      summary: Sign in with email and password
      description: |
        Checks the password (the email is compared without case) and opens a new session.
        Publishes `identity.user.logged_in.v1` (`method` = `password`) and sets `lastLoginAt`.

        Every attempt is counted before the password is checked, atomically and shared by every
        replica, in fixed 15-minute windows, under three limits (the defaults): 5 for one email
        address (whether or not an account has it) from one client address, 20 for one email
        address from all addresses, and 100 from one client address over all email addresses.
        Past any of them the attempt is refused, even with the right password, with 429
        `too_many_attempts` and `Retry-After` (seconds until that window ends). A successful
        sign-in is not counted, and clears its email address's count from its client address; so
        wrong guesses from one address lock neither another account nor a whole address out.

        The client address is the connection's; only when the connection comes from a configured
        proxy (`IDENTITY_TRUSTED_PROXIES`) is it the right-most `X-Forwarded-For` entry that is
        not such a proxy. IPv6 clients are counted by their /64.
      tags: [auth]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [email, password]
              properties:
                email: { type: string }
                password: { type: string }
      responses:
        "200":
          description: Signed in
          content:
            application/json:
              schema: { $ref: "#/components/schemas/AuthResult" }
        "400": { $ref: "#/components/responses/MalformedRequest" }
        "401":
          description: |
            The email or the password is wrong, or the account has no password (OAuth only)
            (`invalid_credentials`; the two cases are not told apart and take as long)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "422":
          description: |
            `validation_failed`: `email` `required` and/or `password` `required` (missing or empty)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "429": { $ref: "#/components/responses/TooManyAttempts" }
        "500": { $ref: "#/components/responses/InternalError" }
        "503": { $ref: "#/components/responses/Busy" }
  /v1/auth/refresh:
    post:
      operationId: refresh
      summary: Exchange a refresh token for new tokens
      description: |
        Rotates the session's refresh token: the answer carries a new access token and a new
        refresh token, and the one sent stops working. The session keeps its original 30-day
        expiry. Presenting a refresh token that was already exchanged means it was copied: the
        whole session is ended (its current refresh token stops working too) and the answer is
        401 `refresh_token_reused`. The access token carries the user's current role.
      tags: [auth]
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/RefreshTokenRequest" }
      responses:
        "200":
          description: New tokens
          content:
            application/json:
              schema: { $ref: "#/components/schemas/AuthResult" }
        "400": { $ref: "#/components/responses/MalformedRequest" }
        "401":
          description: |
            `invalid_refresh_token` — unknown, expired, or its session was ended (sign-out,
            password reset, reuse); `refresh_token_reused` — the token had been exchanged already,
            and its session has now been ended
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "422":
          description: "`validation_failed`: `refreshToken` `required` (missing, empty or longer than 200 characters)"
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/auth/logout:
    post:
      operationId: logout
      summary: End the session of a refresh token
      description: |
        Ends the session the refresh token belongs to. Answers 204 whether or not the token named
        a live session. Access tokens already issued stay valid until they expire.
      tags: [auth]
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/RefreshTokenRequest" }
      responses:
        "204":
          description: Done
        "400": { $ref: "#/components/responses/MalformedRequest" }
        "422":
          description: "`validation_failed`: `refreshToken` `required` (missing, empty or longer than 200 characters)"
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/auth/logout-all:
    post:
      operationId: logoutAll
      summary: End every session of the caller
      description: |
        Ends every session of the caller (every refresh token stops working). Access tokens
        already issued stay valid until they expire. No request body.
      tags: [auth]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: How many sessions were ended
          content:
            application/json:
              schema:
                type: object
                required: [sessionsEnded]
                properties:
                  sessionsEnded: { type: integer, minimum: 0 }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/auth/verify-email:
    get:
      operationId: verifyEmail
      summary: Follow an email verification link
      description: |
        The link mailed after sign-up, after an email change and on request. It works once, for 48
        hours, only while it is the newest link of the user, and only while the account still has
        the address it was sent to (as its email or as its pending new email). Marks the email
        verified and publishes `identity.user.profile_updated.v1`; a link sent to a pending new
        address makes that address the account's email (for sign-in and resets) from now on.
        No access token needed.
      tags: [auth]
      parameters:
        - $ref: "#/components/parameters/LinkToken"
      responses:
        "200":
          description: Verified; the user as they are now
          content:
            application/json:
              schema: { $ref: "#/components/schemas/User" }
        "400": { $ref: "#/components/responses/InvalidLink" }
        "409": { $ref: "#/components/responses/EmailTakenMeanwhile" }
        "422": { $ref: "#/components/responses/LinkTokenRequired" }
        "500": { $ref: "#/components/responses/InternalError" }
    post:
      operationId: confirmEmail
      summary: Verify an email address with a link's token
      description: |
        As `GET`, for clients that post the token. The `token` query parameter is used when
        present (the body is then not read); otherwise the body must be a JSON object with `token`.
      tags: [auth]
      parameters:
        - name: token
          in: query
          required: false
          description: The token of the link; when present the body is not read
          schema: { type: string, maxLength: 200 }
      requestBody:
        required: false
        description: Required when there is no `token` query parameter
        content:
          application/json:
            schema:
              type: object
              required: [token]
              properties:
                token: { type: string, minLength: 1, maxLength: 200 }
      responses:
        "200":
          description: Verified; the user as they are now
          content:
            application/json:
              schema: { $ref: "#/components/schemas/User" }
        "400":
          description: |
            `invalid_link` — the token was used already, has expired, was replaced by a newer one,
            or the account's email has changed since; `malformed_request` — there is no `token`
            query parameter and the body is not valid JSON, or its `token` is not a string
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "409": { $ref: "#/components/responses/EmailTakenMeanwhile" }
        "422": { $ref: "#/components/responses/LinkTokenRequired" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/auth/verify-email/resend:
    post:
      operationId: resendVerification
      summary: Send a new verification link
      description: |
        When the caller has a pending new email, makes a new 48-hour link for it; else, when the
        caller's email is not verified yet, for that. The previous link stops working, and
        `identity.email.verification_requested.v2` is published. Otherwise does nothing. 202
        either way. No request body. Counted per client address (100 per 15 minutes by default).
      tags: [auth]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "202":
          description: Accepted
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "404": { $ref: "#/components/responses/UserNotFound" }
        "429": { $ref: "#/components/responses/TooManyAttempts" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/auth/password-reset:
    post:
      operationId: requestPasswordReset
      summary: Ask for a password reset link
      description: |
        When an account has this email (compared without case), makes a reset link valid for one
        hour (the previous one stops working) and publishes `identity.password.reset_requested.v2`,
        which notifications mails. Always 202, so whether an account exists is not revealed.
        Accounts without a password (OAuth only) get a link too, and can set a password with it.
        At most three links an hour are made for one email address (further requests are answered
        the same and mail nothing). Requests are counted per client address (100 per 15 minutes
        by default): past that, 429 `too_many_attempts`.
      tags: [auth]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [email]
              properties:
                email: { type: string, format: email, maxLength: 320 }
      responses:
        "202":
          description: Accepted
        "400": { $ref: "#/components/responses/MalformedRequest" }
        "422":
          description: "`validation_failed`: `email` `invalid_email` (also when missing)"
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "429": { $ref: "#/components/responses/TooManyAttempts" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/auth/password-reset/confirm:
    post:
      operationId: confirmPasswordReset
      summary: Set a new password with a reset link's token
      description: |
        The mailed link is `/v1/auth/password-reset/confirm?token=…`; the client posts that token
        in the body (the query string is not read) with the new password. The token works once,
        for one hour, and only while it is the newest reset link of the user. Sets the password and
        ends every session of the user. Publishes nothing. The token is checked and taken before
        the new password is hashed, so an invalid token costs no hashing; when the hashing queue
        is full (503 `busy`) the token is given back and works again.
      tags: [auth]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [token, password]
              properties:
                token: { type: string, minLength: 1 }
                password: { type: string, minLength: 8, description: "8 characters to 72 bytes" }
      responses:
        "204":
          description: The password is set
        "400":
          description: |
            `invalid_link` — the token was used already, has expired or was replaced by a newer
            one; `malformed_request` — the body is not valid JSON
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "422":
          description: |
            `validation_failed`, every bad field listed: `token` `required`; `password`
            `required` / `too_short` / `too_long`
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
        "503": { $ref: "#/components/responses/Busy" }
  /v1/auth/email-change/revert:
    get:
      operationId: checkEmailRevert
      summary: Whether an email-change revert link can still be used
      description: |
        The link for the old address after an email change is
        `/v1/auth/email-change/revert?token=…`; a page opened from it asks here first. Asking does
        not use the link up.
      tags: [auth]
      parameters:
        - $ref: "#/components/parameters/LinkToken"
      responses:
        "200":
          description: The link can be used
          content:
            application/json:
              schema:
                type: object
                required: [valid, email, expiresAt]
                properties:
                  valid: { type: boolean, const: true }
                  email: { type: string, format: email, description: The address the account would get back }
                  expiresAt: { type: string, format: date-time }
        "400": { $ref: "#/components/responses/InvalidLink" }
        "422": { $ref: "#/components/responses/LinkTokenRequired" }
        "500": { $ref: "#/components/responses/InternalError" }
    post:
      operationId: revertEmailChange
      summary: Take the account back to the address it had before an email change
      description: |
        For the owner of the old address, when they did not ask for the change. The account's
        email becomes that address again (verified), a pending change is dropped, every session
        ends, the password is removed and providers linked since the change are unlinked (whoever
        made the change knew the password), and a reset link is mailed to the restored address
        (`identity.password.reset_requested.v2`) to set a new password. Publishes
        `identity.user.profile_updated.v1`. The link works once, for seven days; links of later
        changes stop working, those of earlier ones do not. The `token` query parameter is used
        when present (the body is then not read); otherwise the body must be `{token}`.
      tags: [auth]
      parameters:
        - name: token
          in: query
          required: false
          description: The token of the link; when present the body is not read
          schema: { type: string, maxLength: 200 }
      requestBody:
        required: false
        description: Required when there is no `token` query parameter
        content:
          application/json:
            schema:
              type: object
              required: [token]
              properties:
                token: { type: string, minLength: 1, maxLength: 200 }
      responses:
        "200":
          description: Reverted; the user as they are now
          content:
            application/json:
              schema: { $ref: "#/components/schemas/User" }
        "400":
          description: |
            `invalid_link` — the token was used already, has expired or a later revert made it
            void; `malformed_request` — there is no `token` query parameter and the body is not
            valid JSON, or its `token` is not a string
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "409":
          description: Another account has the old address now (`email_taken`); nothing changed
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "422": { $ref: "#/components/responses/LinkTokenRequired" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/auth/oauth/{provider}/start:
    get:
      operationId: oauthStart
      summary: Start signing in with a provider
      description: |
        Redirects the browser to the provider's authorization endpoint (authorization code flow)
        with a fresh single-use `state` and a PKCE S256 challenge, both remembered for ten minutes.
        Counted per client address (100 per 15 minutes by default): past that, 429
        `too_many_attempts`.
      tags: [oauth]
      parameters:
        - $ref: "#/components/parameters/Provider"
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "302":
          description: To the provider
          headers:
            Location:
              description: The provider's authorization URL
              schema: { type: string, format: uri }
            Cache-Control:
              schema: { type: string, const: no-store }
        "404": { $ref: "#/components/responses/UnknownProvider" }
        "429": { $ref: "#/components/responses/TooManyAttempts" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/auth/oauth/{provider}/callback:
    get:
      operationId: oauthCallback
      summary: The provider's redirect back; signs the user in
      description: |
        Takes the `state` back (once, within ten minutes, for the same provider), exchanges the
        code with the PKCE verifier, and reads the user's `sub`, `email`, `email_verified` and
        `name` from the provider's userinfo endpoint. Then:

        - a provider identity already linked signs its user in;
        - otherwise, an account with the same email (compared without case) is linked and signed
          in only when the provider says the email is verified AND the account's email is
          verified; if not, 409 `account_exists` and nothing is linked;
        - otherwise a new account is made (role `USER`, no password, the provider's name or the
          email's local part, email verified as the provider says), linked, and
          `identity.user.registered.v1` is published.

        A sign-in opens a session, sets `lastLoginAt` and publishes `identity.user.logged_in.v1`
        (`method` = `oauth`, `provider`). The answer is JSON, as for a password sign-in.
      tags: [oauth]
      parameters:
        - $ref: "#/components/parameters/Provider"
        - name: code
          in: query
          required: false
          description: The authorization code (required unless `error` is present)
          schema: { type: string }
        - name: state
          in: query
          required: false
          description: The `state` sent at the start (required unless `error` is present)
          schema: { type: string }
        - name: error
          in: query
          required: false
          description: Set by the provider when it did not sign the user in
          schema: { type: string }
      responses:
        "200":
          description: Signed in
          content:
            application/json:
              schema: { $ref: "#/components/schemas/AuthResult" }
        "400":
          description: |
            `oauth_denied` — the provider sent `error` (its value, up to 200 characters, is the
            `detail`); `invalid_state` — the state is unknown, expired, used already or belongs to
            another provider
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "404": { $ref: "#/components/responses/UnknownProvider" }
        "409":
          description: |
            An account with this email exists and cannot be linked, because the provider or the
            account has not verified the address (`account_exists`): sign in with the password
            and verify the email first
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "422":
          description: "`validation_failed`: `code` `required` (`code` or `state` missing or empty)"
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
        "502":
          description: |
            The code exchange or the userinfo request failed, or gave no subject and valid email
            (`oauth_provider_error`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
  /v1/me:
    get:
      operationId: getMe
      summary: The caller's profile
      tags: [profile]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The caller
          content:
            application/json:
              schema: { $ref: "#/components/schemas/User" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "404": { $ref: "#/components/responses/UserNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
    patch:
      operationId: updateMe
      summary: Change the caller's profile
      description: |
        Every property is optional; only those present change. `null` clears the nullable ones;
        for `name`, `email`, `marketingOptOut` and `onboardingComplete` it is ignored. All fields
        are checked before anything is written. When anything changed, publishes
        `identity.user.profile_updated.v1` (the whole profile).

        A new email address (compared without case) needs `currentPassword`, checked under the
        sign-in limits. It does not replace the account's email at once: it is kept as
        `pendingEmail` and gets a verification link (48 hours,
        `identity.email.verification_requested.v2`); the account signs in and resets its
        password with its current address until that link is followed. The current address gets
        a revert link (seven days, `/v1/auth/email-change/revert`). Sending the account's own
        address (in any case) drops a pending change; an address differing only in case replaces
        the email at once.
      tags: [profile]
      security:
        - bearerAuth: []
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/ProfilePatch" }
      responses:
        "200":
          description: The profile after the change
          content:
            application/json:
              schema: { $ref: "#/components/schemas/User" }
        "400": { $ref: "#/components/responses/MalformedRequest" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403":
          description: |
            A new email with a wrong `currentPassword` (`invalid_password`), or for an account
            that has no password (`password_not_set`: set one with a password reset first)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "404": { $ref: "#/components/responses/UserNotFound" }
        "409":
          description: |
            Another account has this email (`email_taken`), or the account's email changed while
            the request was checked (`email_changed`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "422":
          description: |
            `validation_failed`, every bad field listed: `name` `required` / `too_long`; `email`
            `invalid_email`; `currentPassword` `required` (a new email without it);
            `timeZone` `invalid_time_zone`; `userType`, `experienceLevel`, `skillLevel`,
            `learningStyle` `invalid_choice`; `buildGoal` `too_long`; `weeklyHours` `out_of_range`
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "429": { $ref: "#/components/responses/TooManyAttempts" }
        "500": { $ref: "#/components/responses/InternalError" }
        "503": { $ref: "#/components/responses/Busy" }
    delete:
      operationId: deleteMe
      summary: Delete the caller's account
      description: |
        Erases the user with their sessions, one-time links and provider links, keeps a
        tombstone (identity refuses their access tokens at once, every other service once it has
        the event) and publishes
        `identity.user.deleted.v1` (`deletedBy` = `self`). The last admin cannot delete their
        account.
      tags: [profile]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "204":
          description: Deleted
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "404": { $ref: "#/components/responses/UserNotFound" }
        "409":
          description: The caller is the last admin (`last_admin`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/identity/admin/users:
    get:
      operationId: adminListUsers
      summary: Find users
      description: |
        Users newest first, `limit` at a time. `query` (up to its first 200 characters; empty
        means no filter) matches any part of the email or the name, without case. For the next
        page pass the previous page's `nextCursor` as `cursor`.
      tags: [admin]
      security:
        - bearerAuth: [admin]
      parameters:
        - name: query
          in: query
          required: false
          schema: { type: string }
        - name: limit
          in: query
          required: false
          schema: { type: integer, minimum: 1, maximum: 200, default: 50 }
        - name: cursor
          in: query
          required: false
          description: The `nextCursor` of the previous page
          schema: { type: string, format: uuid }
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: A page of users
          content:
            application/json:
              schema: { $ref: "#/components/schemas/UserPage" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "422":
          description: |
            `validation_failed`, one field: `limit` `out_of_range` (not an integer from 1 to 200),
            else `cursor` `invalid_cursor` (not a UUID)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/identity/admin/users/{id}:
    parameters:
      - $ref: "#/components/parameters/UserId"
    get:
      operationId: adminGetUser
      summary: One user
      tags: [admin]
      security:
        - bearerAuth: [admin]
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The user
          content:
            application/json:
              schema: { $ref: "#/components/schemas/User" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404": { $ref: "#/components/responses/UserNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
    delete:
      operationId: adminDeleteUser
      summary: Delete a user
      description: |
        As `DELETE /v1/me`, by an admin: audited (`user_deleted`, with the email), and
        `identity.user.deleted.v1` carries the admin's id as `deletedBy`. The last admin cannot
        be deleted.
      tags: [admin]
      security:
        - bearerAuth: [admin]
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "204":
          description: Deleted
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404": { $ref: "#/components/responses/UserNotFound" }
        "409":
          description: The user is the last admin (`last_admin`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/identity/admin/users/{id}/role:
    parameters:
      - $ref: "#/components/parameters/UserId"
    put:
      operationId: adminChangeRole
      summary: Change a user's role
      description: |
        When the role differs: audited (`role_changed`, from and to) and published
        (`identity.user.role_changed.v1`). The same role again changes nothing. The last admin
        cannot stop being one. Access tokens carry the role they were issued with until they
        expire; the next refresh carries the new one.
      tags: [admin]
      security:
        - bearerAuth: [admin]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [role]
              properties:
                role: { type: string, enum: [USER, ADMIN] }
      responses:
        "200":
          description: The user after the change
          content:
            application/json:
              schema: { $ref: "#/components/schemas/User" }
        "400": { $ref: "#/components/responses/MalformedRequest" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404": { $ref: "#/components/responses/UserNotFound" }
        "409":
          description: The user is the last admin (`last_admin`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "422":
          description: "`validation_failed`: `role` `invalid_choice` (missing, or not `USER` or `ADMIN`)"
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/identity/admin/users/{id}/audit:
    parameters:
      - $ref: "#/components/parameters/UserId"
    get:
      operationId: adminUserAudit
      summary: What admins changed on a user, newest first
      description: |
        Every admin change (role, access override, deletion) as it was recorded: who did it, what,
        when. A deleted user's trail stays readable by id.
      tags: [admin]
      security:
        - bearerAuth: [admin]
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The audit trail
          content:
            application/json:
              schema:
                type: object
                required: [items]
                properties:
                  items:
                    type: array
                    items:
                      type: object
                      required: [actorId, action, details, at]
                      properties:
                        actorId: { type: string, format: uuid }
                        action: { type: string, enum: [role_changed, access_override_changed, user_deleted] }
                        details: { type: object, additionalProperties: { type: string } }
                        at: { type: string, format: date-time }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404": { $ref: "#/components/responses/UserNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/identity/admin/users/{id}/access-override:
    parameters:
      - $ref: "#/components/parameters/UserId"
    put:
      operationId: adminSetAccessOverride
      summary: Grant or remove free access
      description: |
        When the value differs: audited (`access_override_changed`) and published
        (`identity.user.access_override_changed.v1`; billing turns it into an entitlement). The
        same value again changes nothing.
      tags: [admin]
      security:
        - bearerAuth: [admin]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [accessOverride]
              properties:
                accessOverride: { type: boolean }
      responses:
        "200":
          description: The user after the change
          content:
            application/json:
              schema: { $ref: "#/components/schemas/User" }
        "400": { $ref: "#/components/responses/MalformedRequest" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404": { $ref: "#/components/responses/UserNotFound" }
        "422":
          description: "`validation_failed`: `accessOverride` `required` (missing or `null`)"
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /.well-known/jwks.json:
    get:
      operationId: jwks
      summary: The public keys that verify access tokens
      description: The current signing key first, then any keys being retired.
      tags: [auth]
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: A JWKS document (RFC 7517)
          headers:
            Cache-Control:
              schema: { type: string, const: "public, max-age=300" }
          content:
            application/json:
              schema:
                type: object
                required: [keys]
                properties:
                  keys:
                    type: array
                    items:
                      type: object
                      required: [kty, crv, x, y, kid, alg, use]
                      properties:
                        kty: { type: string, const: EC }
                        crv: { type: string, const: P-256 }
                        x: { type: string }
                        y: { type: string }
                        kid: { type: string, description: The key's RFC 7638 thumbprint }
                        alg: { type: string, const: ES256 }
                        use: { type: string, const: sig }
  /health/live:
    get:
      operationId: healthLive
      summary: Liveness — the process is up
      tags: [operations]
      responses:
        "200":
          description: Alive
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Health" }
  /health/ready:
    get:
      operationId: healthReady
      summary: Readiness — database, broker, topology and consumer
      description: "`checks` has `database`, `broker`, `topology` and `consumer`."
      tags: [operations]
      responses:
        "200":
          description: Ready
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Health" }
        "503":
          description: Not ready; `checks` says which dependency is down
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Health" }
  /metrics:
    get:
      operationId: metrics
      summary: Prometheus metrics
      tags: [operations]
      responses:
        "200":
          description: Metrics in the Prometheus text format
          content:
            text/plain:
              schema: { type: string }
  /openapi.yaml:
    get:
      operationId: openapi
      summary: This document
      tags: [operations]
      responses:
        "200":
          description: The OpenAPI document
          content:
            application/yaml:
              schema: { type: string }
components:
  # The operations routes, Problem, FieldError, Health, bearerAuth and the common problem
  # answers come from Shared/OpenAPI/common.yaml: `make openapi` merges them in.
  parameters:
    UserId:
      name: id
      in: path
      required: true
      description: The user's id; anything that is not a UUID is answered with 404 `not_found`
      schema: { type: string, format: uuid }
    Provider:
      name: provider
      in: path
      required: true
      description: A configured provider's name, in lower case (`IDENTITY_OAUTH_PROVIDERS`)
      schema: { type: string }
    LinkToken:
      name: token
      in: query
      required: true
      description: The token of the mailed link
      schema: { type: string, minLength: 1, maxLength: 200 }
  responses:
    UserNotFound:
      description: No such user (`not_found`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    UnknownProvider:
      description: No provider of this name is configured (`unknown_provider`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    InvalidLink:
      description: |
        The link was used already, has expired, was replaced by a newer one, or the account's
        email has changed since it was sent (`invalid_link`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    LinkTokenRequired:
      description: "`validation_failed`: `token` `required` (missing, empty or longer than 200 characters)"
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    EmailTakenMeanwhile:
      description: |
        The link was for a new address that another account has taken since (`email_taken`); the
        account keeps its current email
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    TooManyAttempts:
      description: Too many attempts of this kind, for this account or from this client address (`too_many_attempts`)
      headers:
        Retry-After:
          description: Seconds until the limit's window ends
          schema: { type: integer, minimum: 1 }
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    Busy:
      description: |
        Too many passwords are waiting to be hashed (`busy`); nothing was done (a sign-in attempt
        is not counted, a reset link still works)
      headers:
        Retry-After:
          description: Seconds to wait
          schema: { type: integer, minimum: 1 }
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    Unauthenticated:
      description: |
        `unauthenticated` — no `Authorization: Bearer` header, or another scheme; `invalid_token`
        — the token is expired, malformed, badly signed, signed with an unknown key, not issued by
        identity, not meant for `syllabus`, or its account no longer exists (`detail` says which)
      headers:
        WWW-Authenticate:
          description: "`Bearer`, or `Bearer error=\"invalid_token\"`"
          schema: { type: string }
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    AdminOnly:
      description: The caller is not an admin (`admin_only`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    MalformedRequest:
      description: |
        The body is not valid JSON, or a property has the wrong type (`malformed_request`); or text
        in the path, the query, a header or the body holds a NUL character (`invalid_character`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    InvalidCharacter:
      description: |
        Text in the path, the query, a header or the body holds a NUL character, which is refused
        rather than stored cut short (`invalid_character`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    InternalError:
      description: An unexpected failure, for example the database being unreachable (`internal_error`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
  schemas:
    User:
      type: object
      required: [id, email, name, role, emailVerified, marketingOptOut, onboardingComplete, accessOverride, createdAt]
      properties:
        id: { type: string, format: uuid }
        email: { type: string, format: email }
        name: { type: string }
        role: { type: string, enum: [USER, ADMIN] }
        emailVerified: { type: boolean }
        marketingOptOut: { type: boolean }
        onboardingComplete: { type: boolean }
        accessOverride: { type: boolean, description: Free access granted by an admin }
        timeZone: { type: string, description: An IANA time zone; left out when unset }
        userType: { $ref: "#/components/schemas/UserType" }
        buildGoal: { type: string, maxLength: 2000 }
        experienceLevel: { $ref: "#/components/schemas/ExperienceLevel" }
        skillLevel: { $ref: "#/components/schemas/SkillLevel" }
        learningStyle: { $ref: "#/components/schemas/LearningStyle" }
        weeklyHours: { type: integer, minimum: 0, maximum: 168 }
        lastLoginAt: { type: string, format: date-time, description: The last sign-in; left out before the first }
        createdAt: { type: string, format: date-time }
        pendingEmail:
          type: string
          format: email
          description: A new address waiting for its verification link to be followed; left out when there is none

    UserType:
      type: string
      enum: [SOLO_BUILDER, EXPERIENCED_DEV, TEAM_LEAD, STUDENT, OTHER]
    ExperienceLevel:
      type: string
      enum: [BEGINNER, INTERMEDIATE, ADVANCED]
    SkillLevel:
      type: string
      enum: [beginner, intermediate, advanced]
    LearningStyle:
      type: string
      enum: [reading, video, practice, mixed]
    ProfilePatch:
      type: object
      description: Every property optional; only those present change.
      properties:
        name: { type: [string, "null"], description: "1 to 200 characters once trimmed; `null` is ignored" }
        email: { type: [string, "null"], format: email, description: "Trimmed; a new address needs `currentPassword` and becomes the account's once verified; `null` is ignored" }
        currentPassword: { type: [string, "null"], description: "The account's password; required with a new `email`, otherwise ignored" }
        marketingOptOut: { type: [boolean, "null"], description: "`null` is ignored" }
        onboardingComplete: { type: [boolean, "null"], description: "`null` is ignored" }
        timeZone: { type: [string, "null"], description: An IANA time zone such as `Europe/London`; `null` clears it }
        userType:
          oneOf:
            - { $ref: "#/components/schemas/UserType" }
            - { type: "null" }
        buildGoal: { type: [string, "null"], maxLength: 2000 }
        experienceLevel:
          oneOf:
            - { $ref: "#/components/schemas/ExperienceLevel" }
            - { type: "null" }
        skillLevel:
          oneOf:
            - { $ref: "#/components/schemas/SkillLevel" }
            - { type: "null" }
        learningStyle:
          oneOf:
            - { $ref: "#/components/schemas/LearningStyle" }
            - { type: "null" }
        weeklyHours: { type: [integer, "null"], minimum: 0, maximum: 168 }
    RefreshTokenRequest:
      type: object
      required: [refreshToken]
      properties:
        refreshToken: { type: string, minLength: 1, maxLength: 200 }
    AuthResult:
      type: object
      required: [user, accessToken, refreshToken, expiresIn]
      properties:
        user: { $ref: "#/components/schemas/User" }
        accessToken: { type: string, description: ES256 JWT }
        refreshToken: { type: string, description: Opaque and single use; store it safely }
        expiresIn: { type: integer, const: 900, description: Seconds until the access token expires }
    UserPage:
      type: object
      required: [items]
      properties:
        items:
          type: array
          items: { $ref: "#/components/schemas/User" }
        nextCursor:
          type: string
          format: uuid
          description: The id of the last item, present only when another page follows
    Health:
      type: object
      required: [status, service]
      properties:
        status: { type: string, enum: [live, ready, not_ready] }
        service: { type: string }
        checks:
          type: object
          additionalProperties: { type: string, enum: [up, down] }
    Problem:
      type: object
      description: RFC 9457 problem details; `code` is stable and meant for programs.
      required: [type, title, status, code]
      properties:
        type: { type: string }
        title: { type: string }
        status: { type: integer }
        code: { type: string }
        detail: { type: string }
        errors:
          type: array
          items: { $ref: "#/components/schemas/FieldError" }
        limit:
          type: integer
          description: For `quota_exceeded`, the limit that was reached.
    FieldError:
      type: object
      required: [field, code, message]
      properties:
        field: { type: string }
        code: { type: string }
        message: { type: string }

  securitySchemes:
    bearerAuth:
      type: http
      scheme: bearer
      bearerFormat: JWT
      description: |
        `Authorization: Bearer <access token>`, an ES256 JWT issued by identity. Refused when it
        is missing, expired, signed with a key identity does not publish (its JWKS), not issued by
        identity, not meant for `syllabus`, or when its user has been deleted.
        An operation whose requirement lists the role `admin` (`bearerAuth: [admin]`) is for
        admins only: any other caller's valid token gets 403 `admin_only`. An operation with
        `security: [{}, {bearerAuth: []}]` takes a token when one is sent.
"""#####
}
