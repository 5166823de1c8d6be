// Generated from openapi.yaml and Shared/OpenAPI/common.yaml by scripts/openapi.py; edit the YAML, then run `make openapi`.
public enum BillingOpenAPI {
    public static let document = #####"""
openapi: 3.1.0
info:
  title: Syllabus billing service
  version: 0.1.0
  description: |
    Subscriptions through Stripe, and entitlements: billing is the one place that decides whether
    a user may open paid content, and at which tier. Stripe tells billing what happened through
    its signed webhook; learners start a subscription with Stripe Checkout and manage it in
    Stripe's customer portal; admins read the revenue figures.

    Access tokens are ES256 JWTs issued by identity and verified locally against the key set in
    `JWT_JWKS_FILE`; the tokens of a user whose `identity.user.deleted.v1` has arrived are refused.

    Request bodies are JSON objects (`Content-Type` is not checked); unknown properties are
    ignored. A body that is not JSON, or a property of the wrong type, is answered with 400
    `malformed_request`; a missing or invalid value with 422 `validation_failed`, which lists each
    field in `errors`; a body over the limit (2 MiB, 256 KiB for the Stripe webhook) with 413
    `payload_too_large`. Responses are JSON with camelCase names; times are RFC 3339 strings in
    UTC with fractional seconds; amounts are integers in the currency's minor unit (pence for
    `gbp`); optional properties without a value are left out.

    Errors are RFC 9457 `application/problem+json` with a stable `code`. A path or method not
    listed here is answered with 404 `not_found`; an unexpected failure (for example the database
    being unreachable) with 500 `internal_error`.
servers:
  - url: http://127.0.0.1:8082
tags:
  - name: subscription
    description: The caller's subscription, Stripe Checkout and the customer portal
  - name: webhooks
    description: What Stripe sends
  - name: admin
    description: Figures for admins
  - name: operations
    description: Health, metrics and this document
paths:
  /v1/billing/subscription:
    get:
      operationId: getSubscription
      summary: The caller's entitlement and subscription
      description: |
        `hasAccess` and `tier` are billing's decision for the caller: an admin's access override
        gives access at `pro`; otherwise a subscription whose status is `ACTIVE`, `TRIALING` or
        `PAST_DUE` and whose price is in the catalogue gives access at its tier; otherwise no
        access, `free` (also before billing has decided anything for the caller).
        `subscription` is the subscription linked to the caller, left out when there is none.
      tags: [subscription]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The caller's entitlement and subscription
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Overview" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/billing/checkout:
    post:
      operationId: createCheckoutSession
      summary: Start a subscription with Stripe Checkout
      description: |
        Makes a Stripe Checkout Session (mode `subscription`) for the catalogue price of `tier` and
        `interval`, and answers with its URL, to which the client sends the user. On the caller's
        first checkout a Stripe customer is created for them (`metadata.userId`) and kept. The
        session carries the caller's id as `client_reference_id` and as the subscription's
        `metadata.userId`; Stripe returns the user to `<BILLING_APP_URL>/billing/success?session_id=…`
        or `<BILLING_APP_URL>/billing/cancelled`. Nothing else changes until Stripe's webhooks
        arrive.

        Checked in this order: the body (400, 422 `validation_failed`), the price (422
        `price_unavailable`), an existing subscription (409 `already_subscribed`), then whether
        payments are configured (503 `payments_unavailable`).
      tags: [subscription]
      security:
        - bearerAuth: []
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [tier, interval]
              properties:
                tier: { type: string, enum: [starter, pro] }
                interval: { $ref: "#/components/schemas/Interval" }
      responses:
        "201":
          description: The Checkout Session
          content:
            application/json:
              schema:
                type: object
                required: [sessionId, url]
                properties:
                  sessionId: { type: string, description: "Stripe's Checkout Session id (`cs_…`)" }
                  url: { type: string, format: uri, description: Where to send the user to pay }
        "400": { $ref: "#/components/responses/MalformedRequest" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "409":
          description: |
            The caller has a subscription that gives access (`ACTIVE`, `TRIALING` or `PAST_DUE`)
            already; it is managed in the customer portal (`already_subscribed`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "413": { $ref: "#/components/responses/PayloadTooLarge" }
        "422":
          description: |
            `validation_failed` — `tier` `invalid_choice` (missing, `free`, or not `starter` or
            `pro`) and/or `interval` `invalid_choice` (missing, or not `MONTHLY` or `ANNUAL`), listed
            in `errors`; `price_unavailable` — the catalogue (`BILLING_PRICES`) has no price for
            this tier and interval
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
        "502": { $ref: "#/components/responses/PaymentsError" }
        "503": { $ref: "#/components/responses/PaymentsUnavailable" }
  /v1/billing/portal:
    post:
      operationId: createPortalSession
      summary: Open Stripe's customer portal
      description: |
        Makes a Stripe customer portal session for the caller's Stripe customer (where they change
        plan or card, or cancel) and answers with its URL; Stripe returns the user to
        `<BILLING_APP_URL>/account`. Changes made there reach billing through the webhook. No
        request body.
      tags: [subscription]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "201":
          description: The portal session
          content:
            application/json:
              schema:
                type: object
                required: [url]
                properties:
                  url: { type: string, format: uri, description: Where to send the user }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "404":
          description: The caller has no Stripe customer yet; subscribe first (`no_customer`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
        "502": { $ref: "#/components/responses/PaymentsError" }
        "503": { $ref: "#/components/responses/PaymentsUnavailable" }
  /v1/billing/admin/metrics:
    get:
      operationId: adminMetrics
      summary: Revenue and subscription counts
      description: |
        Computed on request over every subscription record billing keeps, including those of
        deleted users. `mrr` counts `ACTIVE` subscriptions only, an annual price as a twelfth: the
        amounts are summed exactly (in twelfths) and rounded once, half up. `mrr`, `active`,
        `trialing` and `pastDue` count subscriptions whose price is in the catalogue;
        `cancelledThisMonth` counts every subscription whose `cancelledAt` falls in the current
        calendar month (UTC).
      tags: [admin]
      security:
        - bearerAuth: [admin]
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The figures
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Metrics" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/billing/webhooks/stripe:
    post:
      operationId: stripeWebhook
      summary: Receive a Stripe event
      description: |
        The endpoint registered with Stripe. The raw body (at most 256 KiB, read whatever the
        `Content-Type`) is checked against `Stripe-Signature` with `BILLING_STRIPE_WEBHOOK_SECRET`
        before anything is parsed; then it must be a Stripe event (`id` starting `evt_`, `type`,
        `created` in Unix seconds, `livemode`, `data.object`) of the configured mode
        (`BILLING_STRIPE_LIVEMODE`). No access token.

        Each event id is processed once, in one transaction with the events it causes; `outcome`
        says what became of it:
        - `applied` — acted on;
        - `duplicate` — this event id was received before (whatever its outcome then); nothing
          changes;
        - `stale` — a subscription event older (by `created`) than the newest one applied to that
          subscription; within the same second the later arrival is applied, then (with an API key) the subscription is read back from Stripe;
        - `ignored` — a type billing does not handle, a `checkout.session.completed` without a
          customer or a user id (or for a deleted user), an invoice without a subscription, an
          invoice or `trial_will_end` of a subscription whose user was deleted.

        An invoice or `customer.subscription.trial_will_end` whose subscription billing has not
        seen yet (Stripe delivers out of order) is answered 409 `subscription_not_yet_known` and
        recorded nowhere, so Stripe's retry is processed once the subscription has arrived.

        Handled types: `checkout.session.completed`, `customer.subscription.created`, `.updated`,
        `.deleted`, `customer.subscription.trial_will_end`, `invoice.paid`,
        `invoice.payment_failed`. A 4xx or 5xx records nothing, so Stripe's retry is processed
        afresh.
      tags: [webhooks]
      parameters:
        - name: Stripe-Signature
          in: header
          required: true
          description: |
            `t=<Unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the endpoint's
            signing secret>`; several `v1` (while a secret rolls) are accepted if one matches, other
            schemes (`v0`) are ignored. `t` must be within 300 seconds of billing's clock. Any other
            value is answered with 400 (`signature_missing`, `signature_malformed`,
            `signature_expired` or `signature_invalid`).
          schema: { type: string }
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/StripeEvent" }
      responses:
        "200":
          description: Received; `outcome` says what became of it
          content:
            application/json:
              schema:
                type: object
                required: [received, outcome]
                properties:
                  received: { type: boolean, const: true }
                  outcome: { type: string, enum: [applied, duplicate, stale, ignored] }
        "409":
          description: The event's subscription is not known yet (`subscription_not_yet_known`); Stripe retries
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "400":
          description: |
            `signature_missing` — no or an empty `Stripe-Signature`; `signature_malformed` — no `t`
            or no readable `v1` in it; `signature_expired` — `t` is more than 300 seconds away;
            `signature_invalid` — no `v1` matches the body; `malformed_request` — the body is not
            JSON or not a Stripe event; `livemode_mismatch` — a live-mode event at a test-mode
            endpoint or the reverse; `invalid_event` — the object lacks what its type needs
            (`detail` says what)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "413": { $ref: "#/components/responses/PayloadTooLarge" }
        "500": { $ref: "#/components/responses/InternalError" }
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
  responses:
    PayloadTooLarge:
      description: The body is over the limit (`payload_too_large`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    PaymentsError:
      description: Stripe could not be reached or refused the request (`payments_error`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    PaymentsUnavailable:
      description: Payments are not configured here, `BILLING_STRIPE_SECRET_KEY` is not set (`payments_unavailable`)
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
    Overview:
      type: object
      required: [hasAccess, tier]
      properties:
        hasAccess: { type: boolean, description: Whether the caller may open paid content }
        tier: { type: string, enum: [free, starter, pro], description: "`free` without access" }
        subscription: { $ref: "#/components/schemas/Subscription" }
    Subscription:
      type: object
      description: A subscription as billing keeps it (the same object as in the `billing.subscription.*` events).
      required: [subscriptionId, status, cancelAtPeriodEnd]
      properties:
        subscriptionId: { type: string, description: "Stripe's subscription id (`sub_…`)" }
        userId: { type: string, format: uuid, description: The user; left out while the subscription is not linked to one }
        status: { $ref: "#/components/schemas/SubscriptionStatus" }
        tier: { type: string, enum: [starter, pro], description: Left out when the price is not in the catalogue }
        interval: { $ref: "#/components/schemas/Interval" }
        amount: { type: integer, minimum: 0, description: The catalogue price per interval, in minor units; left out when the price is not in the catalogue }
        currency: { type: string, description: "Lower-case ISO 4217 code, e.g. `gbp`" }
        currentPeriodStart: { type: string, format: date-time }
        currentPeriodEnd: { type: string, format: date-time }
        cancelAtPeriodEnd: { type: boolean }
        cancelledAt: { type: string, format: date-time, description: Set once the subscription has ended }
        paymentFailedAt: { type: string, format: date-time, description: The first failed payment since an invoice was last paid }
    SubscriptionStatus:
      type: string
      description: |
        Stripe's status mapped: `active`, `trialing`, `past_due`, `unpaid` as they are;
        `canceled`, `incomplete_expired`, `paused` → `CANCELED`; `incomplete` and any other →
        `INCOMPLETE`. `ACTIVE`, `TRIALING` and `PAST_DUE` give access.
      enum: [ACTIVE, TRIALING, PAST_DUE, UNPAID, CANCELED, INCOMPLETE]
    Interval:
      type: string
      enum: [MONTHLY, ANNUAL]
    Metrics:
      type: object
      required: [mrr, currency, active, trialing, pastDue, cancelledThisMonth]
      properties:
        mrr: { type: integer, minimum: 0, description: Monthly recurring revenue in minor units }
        currency: { type: string, description: "The catalogue's currency (`BILLING_CURRENCY`), e.g. `gbp`" }
        active: { type: integer, minimum: 0 }
        trialing: { type: integer, minimum: 0 }
        pastDue: { type: integer, minimum: 0 }
        cancelledThisMonth: { type: integer, minimum: 0 }
    StripeEvent:
      type: object
      description: A Stripe event as Stripe posts it; only these properties are read here, the rest is kept as received.
      required: [id, type, created, livemode, data]
      properties:
        id: { type: string, pattern: "^evt_", description: The event id; each is processed once }
        object: { type: string, const: event }
        type: { type: string, description: "e.g. `customer.subscription.updated`" }
        created: { type: integer, description: "Unix seconds: Stripe's order of events" }
        livemode: { type: boolean }
        api_version: { type: string }
        data:
          type: object
          required: [object]
          properties:
            object: { type: object, description: The subscription, invoice or Checkout Session }
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
