package relay

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/relay/reencode"
	"github.com/webhookinbox/caddy-webhook-inbox/rules"
	"github.com/webhookinbox/caddy-webhook-inbox/signature"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Values of TargetConfig.Sign besides a scheme name.
const (
	// SignSource signs in the scheme of the handler that received the
	// event, UniCraft for a source the config does not name.
	SignSource = "source"
	// SignNone sends no signature.
	SignNone = "none"
)

// SignChoices lists what TargetConfig.Sign may be.
var SignChoices = append([]string{SignSource, SignNone}, signature.Names...)

// checkSign validates the Sign, Secret and Transform of c.
func (c TargetConfig) checkSign() error {
	if c.Sign != "" && !slices.Contains(SignChoices, c.Sign) {
		return fmt.Errorf("target %s: sign %q is not one of %v", c.Name, c.Sign, SignChoices)
	}
	if c.Sign != "" && c.Sign != SignSource && c.Sign != SignNone {
		if len(c.Secret) == 0 {
			return fmt.Errorf("target %s: sign %s needs a secret", c.Name, c.Sign)
		}
		if _, err := signature.New(c.Sign, []string{string(c.Secret)}, signature.Options{}); err != nil {
			return fmt.Errorf("target %s: sign %s: %w", c.Name, c.Sign, err)
		}
	}
	if c.Transform != "" {
		if _, err := rules.CompileTransform(c.Transform); err != nil {
			return fmt.Errorf("target %s: transform: %w", c.Name, err)
		}
	}
	return nil
}

// signers are a target's schemes keyed with its secret: the one it signs
// in, or for SignSource one per scheme its sources use. A scheme the
// secret cannot key (a Standard Webhooks source and a secret that is not
// whsec_ base64) keeps its error, which dead-letters those deliveries.
type signers struct {
	fixed    signature.Scheme            // Sign names a scheme
	bySource map[string]signature.Scheme // SignSource and a non-UniCraft source
	failed   map[string]error
}

// compileSigning builds the signers and the transform of cfg, which
// Validate has checked.
func (s *settings) compileSigning(cfg TargetConfig) {
	if cfg.Transform != "" {
		s.transform, _ = rules.CompileTransform(cfg.Transform)
	}
	if len(cfg.Secret) == 0 || cfg.Sign == SignNone {
		return
	}
	secret := []string{string(cfg.Secret)}
	if cfg.Sign != "" && cfg.Sign != SignSource {
		if cfg.Sign != signature.UniCraft {
			s.signers.fixed, _ = signature.New(cfg.Sign, secret, signature.Options{})
		}
		return
	}
	for source, spec := range cfg.SourceSchemes {
		if spec.Name == "" || spec.Name == signature.UniCraft {
			continue
		}
		sc, err := spec.New(secret, 0)
		if err != nil {
			if s.signers.failed == nil {
				s.signers.failed = make(map[string]error)
			}
			s.signers.failed[source] = fmt.Errorf("target secret cannot sign in source %s's scheme %s: %w", source, spec.Name, err)
			continue
		}
		if s.signers.bySource == nil {
			s.signers.bySource = make(map[string]signature.Scheme)
		}
		s.signers.bySource[source] = sc
	}
}

// signRequest sets the delivery's signature headers on h, for the body
// as sent, signed at now: a timestamped scheme is signed at each attempt,
// so a retry hours later still passes the app's tolerance. UniCraft (the
// default for UniCraft sources) keeps X-UniCraft-Signature exactly as
// before.
func (s *settings) signRequest(h http.Header, d *store.Delivery, body []byte, now time.Time) error {
	for _, name := range signature.SignatureHeaders {
		h.Del(name)
	}
	if len(s.Secret) == 0 || s.Sign == SignNone {
		return nil
	}
	sc := s.signers.fixed
	if s.Sign == "" || s.Sign == SignSource {
		if err := s.signers.failed[d.Event.Source]; err != nil {
			return err
		}
		sc = s.signers.bySource[d.Event.Source]
	}
	if sc == nil {
		h.Set(headerSignature, s.sign(body))
		return nil
	}
	kept := make(map[string]string, len(d.Event.Headers))
	for k, v := range d.Event.Headers {
		kept[k] = headerValue(v)
	}
	sc.Sign(h, &signature.Message{ID: d.Event.ID, Type: headerValue(d.Event.Type), Body: body, Headers: kept}, now)
	return nil
}

// errNotObject is a stored body a transform cannot read as an event.
var errNotObject = errors.New("the stored body is not a JSON object")

// deliveryBody returns the bytes this target gets and whether they are
// JSON: the target's transform evaluated now, over the rule variables,
// or the event's body in the target's encoding. Either failing is the
// event's problem (a requestError: dead-lettered at once with the reason).
func (s *settings) deliveryBody(d *store.Delivery) ([]byte, bool, error) {
	if s.transform == nil {
		body, err := reencode.Body(s.BodyEncoding, d.Event.Body)
		return body, true, err
	}
	var event map[string]any
	if err := json.Unmarshal(d.Event.Body, &event); err != nil || event == nil {
		return nil, false, fmt.Errorf("transform: %w", errNotObject)
	}
	body, isJSON, err := s.transform.Eval(&rules.Vars{
		Event: event, Headers: d.Event.Headers, SourceIP: d.Event.ClientIP,
		Source: d.Event.Source, Type: d.Event.Type, ID: d.Event.ID,
	})
	if err != nil {
		return nil, false, fmt.Errorf("transform: %w", err)
	}
	return body, isJSON, nil
}
