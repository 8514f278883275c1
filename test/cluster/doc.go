// Package cluster runs three real caddy gateways (internal/testcaddy) on
// one 3-node JetStream cluster (internal/testnats) with `storage nats`:
// what one gateway accepts, any gateway delivers, once. It has no code of
// its own, only tests.
package cluster
