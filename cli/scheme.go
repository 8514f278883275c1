package cli

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// cliSchemes are what --scheme takes: the preset schemes and hmac, set
// up with the --hmac-* flags.
var cliSchemes = append(slices.Clone(signature.Names), signature.HMAC)

// cliSchemeFlags adds --scheme and the --hmac-* flags to fs.
func cliSchemeFlags(fs *pflag.FlagSet, usage string) {
	fs.String("scheme", signature.UniCraft, usage)
	fs.String("hmac-header", "", "With --scheme hmac: the signature header (required)")
	fs.String("hmac-algorithm", "sha256", "With --scheme hmac: sha1, sha256 or sha512")
	fs.String("hmac-encoding", "hex", "With --scheme hmac: hex or base64")
	fs.String("hmac-prefix", "", "With --scheme hmac: text before the digest, such as sha256=")
}

// cliParseScheme reads --scheme (and --hmac-*) and builds it with secret.
func cliParseScheme(fs *pflag.FlagSet, secret string) (signature.Scheme, error) {
	name, err := fs.GetString("scheme")
	if err != nil {
		return nil, err
	}
	if !slices.Contains(cliSchemes, name) {
		return nil, fmt.Errorf("--scheme %q: want one of %s", name, strings.Join(cliSchemes, ", "))
	}
	var opts signature.Options
	if name == signature.HMAC {
		opts.HMAC.Header, _ = fs.GetString("hmac-header")
		opts.HMAC.Algorithm, _ = fs.GetString("hmac-algorithm")
		opts.HMAC.Encoding, _ = fs.GetString("hmac-encoding")
		opts.HMAC.Prefix, _ = fs.GetString("hmac-prefix")
	}
	sc, err := signature.New(name, []string{secret}, opts)
	if err != nil {
		return nil, fmt.Errorf("--scheme %s: %w", name, err)
	}
	return sc, nil
}

// cliSchemeSample is one realistic event as the scheme's sender sends it,
// with id as its event ID: the body and what the sender's headers are
// built from.
func cliSchemeSample(scheme, id string, now time.Time) *signature.Message {
	unix := strconv.FormatInt(now.Unix(), 10)
	switch scheme {
	case signature.Stripe:
		return &signature.Message{ID: id, Type: "payment_intent.succeeded", Body: []byte(`{"id":"` + id + `","object":"event",` +
			`"api_version":"2025-08-27.basil","created":` + unix + `,"livemode":false,"pending_webhooks":1,` +
			`"request":{"id":null,"idempotency_key":null},"type":"payment_intent.succeeded",` +
			`"data":{"object":{"id":"pi_` + id + `","object":"payment_intent","amount":2000,"currency":"usd","status":"succeeded"}}}`)}
	case signature.GitHub:
		return &signature.Message{ID: id, Type: "push", Body: []byte(`{"ref":"refs/heads/main",` +
			`"before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",` +
			`"repository":{"id":1296269,"full_name":"octocat/Hello-World"},"pusher":{"name":"octocat"},` +
			`"head_commit":{"id":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c","message":"Update README","timestamp":"` + now.UTC().Format(time.RFC3339) + `"}}`)}
	case signature.Standard:
		return &signature.Message{ID: "msg_" + id, Type: "invoice.paid", Body: []byte(`{"type":"invoice.paid",` +
			`"timestamp":"` + now.UTC().Format(time.RFC3339Nano) + `","data":{"invoice_id":"inv_` + id + `","amount":2000,"currency":"usd"}}`)}
	case signature.Shopify:
		return &signature.Message{ID: id, Type: "orders/create", Headers: map[string]string{
			signature.ShopifyShopDomain: "example.myshopify.com", signature.ShopifyAPIVersion: "2025-07", signature.ShopifyEventID: id,
		}, Body: []byte(`{"id":820982911946154508,"admin_graphql_api_id":"gid://shopify/Order/820982911946154508",` +
			`"email":"jon@example.com","created_at":"` + now.UTC().Format(time.RFC3339) + `","currency":"USD","total_price":"598.94",` +
			`"line_items":[{"id":866550311766439020,"title":"IPod Nano - 8GB","quantity":1,"price":"199.00"}]}`)}
	case signature.Slack:
		return &signature.Message{ID: id, Type: "app_mention", Body: []byte(`{"token":"XXYYZZ","team_id":"T123ABC456",` +
			`"api_app_id":"A123ABC456","type":"event_callback","event_id":"` + id + `","event_time":` + unix + `,` +
			`"event":{"type":"app_mention","user":"U123ABC456","text":"<@U0LAN0Z89> is it everything a river should be?",` +
			`"ts":"` + unix + `.000200","channel":"C123ABC456","event_ts":"` + unix + `.000200"}}`)}
	}
	return nil
}

// cliSignHeaders signs m in sc at now and returns the headers.
func cliSignHeaders(sc signature.Scheme, m *signature.Message, now time.Time) http.Header {
	h := http.Header{}
	sc.Sign(h, m, now)
	return h
}

// cliPrintSignedHeaders prints the headers sc's sender puts on body, sorted.
func cliPrintSignedHeaders(cmd *cobra.Command, sc signature.Scheme, body []byte) error {
	id, _ := cmd.Flags().GetString("id")
	typ, _ := cmd.Flags().GetString("type")
	if id == "" {
		run, err := cliRunID()
		if err != nil {
			return err
		}
		id = cliEventID(run, 1)
	}
	h := cliSignHeaders(sc, &signature.Message{ID: id, Type: typ, Body: body}, time.Now())
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if _, err := fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", k, h.Get(k)); err != nil {
			return err
		}
	}
	return nil
}
