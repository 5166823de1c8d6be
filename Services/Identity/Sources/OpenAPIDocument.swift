// Generated from openapi.yaml by scripts/embed-openapi.sh; edit the YAML, then run the script.
enum IdentityOpenAPI {
    static let document = #####"""
openapi: 3.1.0
info:
  title: Syllabus identity service
  version: 0.1.0
  description: |
    Accounts, sessions and access tokens. Access tokens are ES256 JWTs (15 minutes; `sub`, `role`,
    `iss` = `syllabus-identity`, `aud` = `syllabus`, header `kid`) that every service verifies
    locally against the keys published at `/.well-known/jwks.json`.
    Errors are RFC 9457 `application/problem+json` with a stable `code`.
servers:
  - url: http://127.0.0.1:8081
tags:
  - name: auth
    description: Sign-up, sign-in and tokens
  - name: operations
    description: Health, metrics and this document
paths:
  /v1/auth/register:
    post:
      operationId: register
      summary: Create an account
      description: |
        Creates the user and a first session and answers with tokens. The email is compared
        without case; a second account for the same address is refused with 409 `email_taken`.
        Publishes `identity.user.registered.v1`.
      tags: [auth]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [email, password, name]
              properties:
                email: { type: string, format: email, maxLength: 320 }
                password: { type: string, minLength: 8, description: "8 characters to 72 bytes" }
                name: { type: string, minLength: 1, maxLength: 200 }
      responses:
        "201":
          description: Created
          content:
            application/json:
              schema: { $ref: "#/components/schemas/AuthResult" }
        "400":
          description: The body is not valid JSON (`malformed_request`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "409":
          description: An account with this email exists (`email_taken`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "422":
          description: A field is missing or invalid (`validation_failed`, each field in `errors`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
  /.well-known/jwks.json:
    get:
      operationId: jwks
      summary: The public keys that verify access tokens
      tags: [auth]
      responses:
        "200":
          description: A JWKS document (RFC 7517)
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
                        kid: { type: string }
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
      summary: Readiness — database, broker and topology reachable
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
  schemas:
    User:
      type: object
      required: [id, email, name, role, emailVerified, marketingOptOut, onboardingComplete, createdAt]
      properties:
        id: { type: string, format: uuid }
        email: { type: string, format: email }
        name: { type: string }
        role: { type: string, enum: [USER, ADMIN] }
        emailVerified: { type: boolean }
        marketingOptOut: { type: boolean }
        onboardingComplete: { type: boolean }
        createdAt: { type: string, format: date-time }
    AuthResult:
      type: object
      required: [user, accessToken, refreshToken, expiresIn]
      properties:
        user: { $ref: "#/components/schemas/User" }
        accessToken: { type: string, description: ES256 JWT }
        refreshToken: { type: string, description: Opaque; store it safely }
        expiresIn: { type: integer, description: Seconds until the access token expires }
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
    FieldError:
      type: object
      required: [field, code, message]
      properties:
        field: { type: string }
        code: { type: string }
        message: { type: string }
"""#####
}
