package ingress

import "github.com/webhookinbox/caddy-webhook-inbox/signature"

// SignatureHeader carries UniCraft's HMAC of the raw body.
const SignatureHeader = signature.UniCraftSignature

// Verifier is UniCraft's verifier, which lives in package signature with
// every other scheme; the name stays here for the handler's callers and
// tests.
type Verifier = signature.UniCraftVerifier

// NewVerifier is signature.NewUniCraftVerifier.
func NewVerifier(secrets [][]byte) (*Verifier, error) { return signature.NewUniCraftVerifier(secrets) }

// Sign is signature.SignUniCraft.
func Sign(secret, body []byte) string { return signature.SignUniCraft(secret, body) }
