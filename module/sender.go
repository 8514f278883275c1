package module

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/ingress"
	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// outcomeChallenge counts Slack's url_verification requests, answered and
// not stored.
const outcomeChallenge = "challenge"

func init() {
	receivedOutcomes = append(receivedOutcomes, outcomeChallenge)
}

// provisionScheme builds the handler's verifier: UniCraft's (the default)
// or the scheme `verify` names, keyed with every secret. It records the
// source's scheme with the app, so `sign source` re-signs its events in it.
func (h *Handler) provisionScheme(secrets [][]byte) error {
	h.tolerance = time.Duration(h.Tolerance)
	if h.tolerance == 0 {
		h.tolerance = signature.DefaultTolerance
	}
	if h.tolerance < 0 {
		return fmt.Errorf("tolerance must be positive, got %s", h.tolerance)
	}
	spec := signature.Spec{Name: h.Verify}
	if spec.Name == "" {
		spec.Name = signature.UniCraft
	}
	// A signed timestamp stays valid for up to twice the tolerance (it
	// may be ahead of our clock by one tolerance): the ID must be
	// remembered at least that long, or a captured request could be
	// replayed once its ID is forgotten (README, "No replay gap").
	if dedup := time.Duration(h.app.DedupWindow); signature.Timestamped(spec.Name) && 2*h.tolerance > dedup {
		return fmt.Errorf("tolerance %s must be at most half the dedup_window %s", h.tolerance, dedup)
	}
	if h.VerifyHMAC != nil {
		if spec.Name != signature.HMAC {
			return fmt.Errorf("verify %s takes no hmac settings", spec.Name)
		}
		spec.HMAC = *h.VerifyHMAC
	}
	if spec.Name == signature.UniCraft {
		v, err := signature.NewUniCraftVerifier(secrets)
		if err != nil {
			return err
		}
		h.verifier = v
		return h.app.recordSourceScheme(h.Source, spec)
	}
	strs := make([]string, len(secrets))
	for i, s := range secrets {
		strs[i] = string(s)
	}
	sc, err := spec.New(strs, h.tolerance)
	if err != nil {
		return fmt.Errorf("verify %s: %w", spec.Name, err)
	}
	if spec.Name == signature.HMAC {
		for _, k := range h.KeepHeaders {
			if strings.EqualFold(k, spec.HMAC.Header) {
				return fmt.Errorf("keep_headers: %s is the signature header of verify hmac", k)
			}
		}
	}
	h.scheme = sc
	return h.app.recordSourceScheme(h.Source, spec)
}

// checkScheme verifies a non-UniCraft signature: a bad or missing one is
// 401 with one generic message, a valid one outside the tolerance 400
// with the reason. It reports whether it answered.
func (h *Handler) checkScheme(w http.ResponseWriter, r *http.Request, body []byte, now time.Time, clientIP string) (bool, error) {
	err := h.scheme.Verify(r.Header, body, now)
	var stale *signature.StaleError
	switch {
	case err == nil:
		return false, nil
	case errors.As(err, &stale):
		return true, h.reject(w, http.StatusBadRequest, err.Error(), outcomeStale, clientIP)
	}
	return true, h.reject(w, http.StatusUnauthorized, "invalid signature", outcomeBadSignature, clientIP)
}

// parseSchemePayload decodes a non-UniCraft body and reads its event ID
// and type where the scheme says. It leaves Timestamp unset: the scheme's
// signed timestamp has been checked, and a body "timestamp" is the app's.
func (h *Handler) parseSchemePayload(r *http.Request, body []byte) (*ingress.Payload, error) {
	obj, err := ingress.ParseObject(body, ingress.DefaultMaxDepth)
	if err != nil {
		return nil, err
	}
	id, typ := h.scheme.Event(r.Header, obj)
	return &ingress.Payload{Object: obj, ID: id, Type: typ}, nil
}

// slackChallenge answers Slack's signed url_verification request with its
// challenge; it is not an event and is not stored.
func (h *Handler) slackChallenge(w http.ResponseWriter, p *ingress.Payload, clientIP string) (bool, error) {
	if h.scheme == nil || h.scheme.Name() != signature.Slack {
		return false, nil
	}
	c, ok := signature.SlackChallenge(p.Object)
	if !ok {
		return false, nil
	}
	h.received.inc(outcomeChallenge)
	h.logDecision("challenge answered", "", clientIP, time.Now())
	return true, writeJSON(w, http.StatusOK, map[string]string{"challenge": c})
}

// dedupUntil is how long the event's ID must at least be remembered: for
// UniCraft, until its payload timestamp ages out (ingress.FreshUntil); for
// a scheme, until any signed timestamp it could carry leaves the tolerance.
func (h *Handler) dedupUntil(p *ingress.Payload, now time.Time) time.Time {
	switch {
	case h.scheme == nil:
		return ingress.FreshUntil(p, h.maxAge)
	case signature.Timestamped(h.scheme.Name()):
		return now.Add(2 * h.tolerance)
	}
	return time.Time{}
}

// idHeader is the X-UniCraft-Event-Id of a UniCraft request; other
// schemes name the event their own way (parseSchemePayload).
func (h *Handler) idHeader(r *http.Request) string {
	if h.scheme != nil {
		return ""
	}
	return r.Header.Get(eventIDHeader)
}

// sourceSchemes records, per source name, the scheme its handler verifies,
// for targets that sign in the source's scheme. Handlers record theirs
// while provisioning, before the app starts and hands targets over.
type sourceSchemes struct {
	mu sync.Mutex
	m  map[string]signature.Spec
}

// recordSourceScheme notes source's scheme; two handlers of one source
// must agree on it, or its events could not be re-signed consistently.
func (a *App) recordSourceScheme(source string, spec signature.Spec) error {
	if a.schemes == nil {
		// an App used without Provision, as some tests do
		a.schemes = new(sourceSchemes)
	}
	a.schemes.mu.Lock()
	defer a.schemes.mu.Unlock()
	if prev, ok := a.schemes.m[source]; ok && prev != spec {
		return fmt.Errorf("source %s is verified as %s by another handler, here as %s", source, prev.Name, spec.Name)
	}
	if a.schemes.m == nil {
		a.schemes.m = make(map[string]signature.Spec)
	}
	a.schemes.m[source] = spec
	return nil
}

// sourceSchemeMap returns a copy of the recorded schemes.
func (a *App) sourceSchemeMap() map[string]signature.Spec {
	if a.schemes == nil {
		return nil
	}
	a.schemes.mu.Lock()
	defer a.schemes.mu.Unlock()
	m := make(map[string]signature.Spec, len(a.schemes.m))
	for k, v := range a.schemes.m {
		m[k] = v
	}
	return m
}

// checkSignSource fails the load when a target this handler routes to
// signs in the source's scheme with a secret that scheme cannot read (a
// Standard Webhooks source needs a whsec_ base64 target secret).
func (h *Handler) checkSignSource(spec signature.Spec) error {
	names := slices.Clone(h.Default)
	for _, rc := range h.Routes {
		names = append(names, rc.Targets...)
	}
	for _, n := range names {
		t, ok := h.app.Targets[n]
		if !ok || len(t.secret) == 0 || (t.Sign != "" && t.Sign != "source") {
			continue
		}
		if _, err := spec.New([]string{string(t.secret)}, 0); err != nil {
			return fmt.Errorf("target %s signs in source %s's scheme %s: %w", n, h.Source, spec.Name, err)
		}
	}
	return nil
}
