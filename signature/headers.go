package signature

// UniCraft's headers, as its webhook documentation names them (summed up
// in the README's "Senders" section).
const (
	// UniCraftSignature carries the hex HMAC-SHA256 of the raw body.
	UniCraftSignature = "X-UniCraft-Signature"
	// UniCraftEventID carries the event's ID: the sender's on ingress,
	// the ID the inbox deduplicated on when relayed.
	UniCraftEventID = "X-UniCraft-Event-Id"
	// UniCraftEvent carries the event's type when relayed.
	UniCraftEvent = "X-UniCraft-Event"
)

// Standard Webhooks' headers (standardwebhooks.com, spec section
// "Signature scheme"). Canonical forms: net/http reads them in any case.
const (
	StandardID        = "Webhook-Id"
	StandardTimestamp = "Webhook-Timestamp"
	StandardSignature = "Webhook-Signature"
)

// Stripe's signature header.
const StripeSignature = "Stripe-Signature"

// GitHub's headers.
const (
	GitHubSignature256 = "X-Hub-Signature-256"
	GitHubEvent        = "X-Github-Event"
	GitHubDelivery     = "X-Github-Delivery"
	GitHubHookID       = "X-Github-Hook-Id"
)

// Shopify's headers.
const (
	ShopifyHMAC       = "X-Shopify-Hmac-Sha256"
	ShopifyTopic      = "X-Shopify-Topic"
	ShopifyShopDomain = "X-Shopify-Shop-Domain"
	ShopifyWebhookID  = "X-Shopify-Webhook-Id"
	ShopifyEventID    = "X-Shopify-Event-Id"
	ShopifyAPIVersion = "X-Shopify-Api-Version"
)

// Slack's headers.
const (
	SlackSignature = "X-Slack-Signature"
	SlackTimestamp = "X-Slack-Request-Timestamp"
)
