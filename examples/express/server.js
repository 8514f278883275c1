// UniCraft's Express receiver from its webhook documentation, made
// runnable: the signature check and the handler are the documentation's,
// unchanged. Only the secret (WEBHOOK_SECRET) and the port (PORT, default
// 3000) come from the environment.
//
// The check verifies HMAC-SHA256 over JSON.stringify(req.body), Express's
// re-serialisation of the parsed body, not over the bytes received. Put
// caddy-webhook-inbox in front with `body node` on this target so the
// relayed bytes are exactly that re-serialisation.
const express = require("express");
const crypto = require("crypto");
const app = express();
app.use(express.json());

function verifyWebhookSignature(payload, signature, secret) {
  const expectedSignature = crypto
    .createHmac("sha256", secret)
    .update(payload)
    .digest("hex");
  return crypto.timingSafeEqual(
    Buffer.from(signature),
    Buffer.from(expectedSignature)
  );
}

// Webhook endpoint
app.post("/webhooks/unicraft", (req, res) => {
  const signature = req.headers["x-unicraft-signature"];
  const payload = JSON.stringify(req.body);
  // Verify signature
  if (!verifyWebhookSignature(payload, signature, process.env.WEBHOOK_SECRET)) {
    return res.status(401).send("Invalid signature");
  }
  const event = req.body;
  // Handle different events
  switch (event.event) {
    case "request.completed":
      handleRequestCompleted(event.data);
      break;
    case "request.failed":
      handleRequestFailed(event.data);
      break;
    case "cost.exceeded":
      handleCostExceeded(event.data);
      break;
    case "provider.unavailable":
      handleProviderUnavailable(event.data);
      break;
    default:
      console.log("Unknown event:", event.event);
  }
  res.status(200).send("OK");
});

function handleRequestCompleted(data) {
  console.log("Request completed:", data.request_id);
  // Update database, send notifications, etc.
}

function handleRequestFailed(data) {
  console.log("Request failed:", data.request_id, data.error);
  // Log error, alert team, etc.
}

function handleCostExceeded(data) {
  console.log("Cost exceeded:", data.budget_name, data.excess);
  // Send alert, pause requests, etc.
}

function handleProviderUnavailable(data) {
  console.log("Provider unavailable:", data.provider);
  // Switch to backup provider, alert team, etc.
}

const port = Number(process.env.PORT || 3000);
// Express 5 hands a listen error (say, the port is taken) to this callback.
app.listen(port, (err) => {
  if (err) throw err;
  console.log(`Webhook server running on port ${port}`);
});
