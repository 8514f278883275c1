package signature

import "github.com/webhookinbox/caddy-webhook-inbox/internal/seed"

// seedPayloads are UniCraft's documented example bodies (internal/seed).
var seedPayloads = seed.Payloads
