"""UniCraft's Flask receiver from its webhook documentation, made runnable.

The signature check and the handler are the documentation's, unchanged;
only the missing `import os` is added, and the port comes from the
environment (PORT, default 3000). The secret is WEBHOOK_SECRET.

The check verifies HMAC-SHA256 over json.dumps(request.json), Python's
re-serialisation of the parsed body, not over the bytes received. Put
caddy-webhook-inbox in front with `body python` on this target so the
relayed bytes are exactly that re-serialisation.

Run: WEBHOOK_SECRET=... PORT=5000 python3 app.py  (Debian: apt-get install python3-flask)
"""
from flask import Flask, request, jsonify
import hmac
import hashlib
import json
import os

app = Flask(__name__)


def verify_webhook_signature(payload, signature, secret):
    expected_signature = hmac.new(
        secret.encode('utf-8'),
        payload.encode('utf-8'),
        hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(signature, expected_signature)


@app.route('/webhooks/unicraft', methods=['POST'])
def webhook():
    signature = request.headers.get('X-UniCraft-Signature')
    payload = json.dumps(request.json)

    # Verify signature
    if not verify_webhook_signature(payload, signature, os.environ['WEBHOOK_SECRET']):
        return jsonify({'error': 'Invalid signature'}), 401

    event = request.json

    # Handle different events
    if event['event'] == 'request.completed':
        handle_request_completed(event['data'])
    elif event['event'] == 'request.failed':
        handle_request_failed(event['data'])
    elif event['event'] == 'cost.exceeded':
        handle_cost_exceeded(event['data'])
    elif event['event'] == 'provider.unavailable':
        handle_provider_unavailable(event['data'])

    return jsonify({'status': 'OK'})


def handle_request_completed(data):
    print(f"Request completed: {data['request_id']}")
    # Update database, send notifications, etc.


def handle_request_failed(data):
    print(f"Request failed: {data['request_id']} - {data['error']}")
    # Log error, alert team, etc.


def handle_cost_exceeded(data):
    print(f"Cost exceeded: {data['budget_name']} - ${data['excess']}")
    # Send alert, pause requests, etc.


def handle_provider_unavailable(data):
    print(f"Provider unavailable: {data['provider']}")
    # Switch to backup provider, alert team, etc.


if __name__ == '__main__':
    app.run(port=int(os.environ.get('PORT', 3000)))
