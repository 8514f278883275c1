// Package signature holds the sender schemes the inbox verifies on ingress
// and signs again on delivery, and the names of the headers they use,
// declared once for the handler, the dispatcher, the CLI and the tests.
//
// It imports the standard library only.
package signature
