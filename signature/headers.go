package signature

// UniCraft's headers (../shared/seed/unicraft-webhooks.md in the project's
// shared folder; summed up in the README's "Senders" section).
const (
	// UniCraftSignature carries the hex HMAC-SHA256 of the raw body.
	UniCraftSignature = "X-UniCraft-Signature"
	// UniCraftEventID carries the event's ID: the sender's on ingress,
	// the ID the inbox deduplicated on when relayed.
	UniCraftEventID = "X-UniCraft-Event-Id"
	// UniCraftEvent carries the event's type when relayed.
	UniCraftEvent = "X-UniCraft-Event"
)
