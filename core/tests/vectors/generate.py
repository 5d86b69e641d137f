"""Known-answer vectors for the sender schemes of docs/senders.md (core/src/sources/vectors.rs).

Run with the senders' own SDKs installed (pip install stripe slack_sdk svix standardwebhooks):
    python3 core/tests/vectors/generate.py > core/tests/vectors/senders.json
Stripe, Slack, Svix and Standard Webhooks signatures come from (or are verified by) their SDKs;
Grafana, Shopify and Linear publish no SDK for this, so their vectors follow their documented
algorithms with Python's hmac. Every vector is a request that must verify and, with another
secret, must not.
"""
import base64
import datetime
import hashlib
import hmac
import json

import slack_sdk.signature
import standardwebhooks
import stripe
import svix.webhooks

T = 1764590400  # 2025-12-01T12:00:00Z
BODY = json.dumps({"id": "evt_1Q", "type": "invoice.paid", "data": {"object": {"amount": 4200}}},
                  separators=(",", ":"))
vectors = []


def add(kind, secret, headers, body=BODY, now=T, extra=None):
    v = {"kind": kind, "secret": secret, "headers": headers, "body": body, "now": now}
    v.update(extra or {})
    vectors.append(v)


# Stripe: header built as Stripe does, then checked by the SDK's own verifier; a second v1
# (from a rolled secret) shows several signatures per header.
stripe_secret = "whsec_test_stripe_0123456789abcdef"
sig = hmac.new(stripe_secret.encode(), f"{T}.{BODY}".encode(), hashlib.sha256).hexdigest()
other = hmac.new(b"whsec_rolled_away", f"{T}.{BODY}".encode(), hashlib.sha256).hexdigest()
header = f"t={T},v1={other},v1={sig},v0=deadbeef"
stripe.WebhookSignature.verify_header(BODY, header, stripe_secret, tolerance=None)
add("stripe", stripe_secret, {"stripe-signature": header})

# Slack: the SDK generates the v0 signature.
slack_secret = "8f742231b10e8888abcd99yyyzzz85a5"
slack_body = json.dumps({"type": "event_callback", "event_id": "Ev08", "event": {"type": "app_mention"}},
                        separators=(",", ":"))
slack_sig = slack_sdk.signature.SignatureVerifier(slack_secret).generate_signature(
    timestamp=str(T), body=slack_body)
add("slack", slack_secret, {"x-slack-signature": slack_sig, "x-slack-request-timestamp": str(T)},
    body=slack_body)

# Svix and Standard Webhooks: sender-issued whsec_ secrets, signed by the SDKs.
issued = "whsec_" + base64.b64encode(bytes(range(24))).decode()
when = datetime.datetime.fromtimestamp(T, tz=datetime.timezone.utc)
svix_sig = svix.webhooks.Webhook(issued).sign("msg_2Kx", when, BODY)
add("svix", issued, {"svix-id": "msg_2Kx", "svix-timestamp": str(T), "svix-signature": svix_sig})
sw_sig = standardwebhooks.Webhook(issued).sign("msg_3Lz", when, BODY)
add("standard-webhooks", issued,
    {"webhook-id": "msg_3Lz", "webhook-timestamp": str(T), "webhook-signature": f"v1,{'A' * 43}= {sw_sig}"})

# Grafana: hex HMAC over the body, or over "<ts>:<body>" with the timestamp header.
grafana_secret = "grafana-hmac-secret-0123"
g_body = json.dumps({"receiver": "crewship", "status": "firing", "alerts": []}, separators=(",", ":"))
add("grafana", grafana_secret, {"x-grafana-alerting-signature":
    hmac.new(grafana_secret.encode(), g_body.encode(), hashlib.sha256).hexdigest()}, body=g_body)
add("grafana", grafana_secret, {
    "x-grafana-alerting-signature":
        hmac.new(grafana_secret.encode(), f"{T}:{g_body}".encode(), hashlib.sha256).hexdigest(),
    "x-grafana-alerting-timestamp": str(T)}, body=g_body)

# Shopify: base64 HMAC over the body.
shopify_secret = "shpss_0123456789abcdef0123"
add("shopify", shopify_secret, {
    "x-shopify-hmac-sha256": base64.b64encode(
        hmac.new(shopify_secret.encode(), BODY.encode(), hashlib.sha256).digest()).decode(),
    "x-shopify-topic": "orders/create"})

# Linear: hex HMAC over the body; webhookTimestamp (ms) inside it.
linear_secret = "lin_wh_0123456789abcdef01"
l_body = json.dumps({"type": "Issue", "action": "create", "webhookId": "wh_7",
                     "webhookTimestamp": T * 1000}, separators=(",", ":"))
add("linear", linear_secret, {"linear-signature":
    hmac.new(linear_secret.encode(), l_body.encode(), hashlib.sha256).hexdigest()}, body=l_body)

# Static tokens.
add("gitlab", "gitlab-token-0123456789", {"x-gitlab-token": "gitlab-token-0123456789"})
add("bearer", "alertmanager-token-0123", {"authorization": "Bearer alertmanager-token-0123"})

print(json.dumps(vectors, indent=1))
