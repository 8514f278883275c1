package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/signature"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Delivery request headers.
const (
	headerEventID   = signature.UniCraftEventID
	headerEventType = signature.UniCraftEvent
	headerAttempt   = "X-Webhook-Attempt"
	headerSignature = signature.UniCraftSignature
	userAgent       = "caddy-webhook-inbox"
)

// maxResponseRead is how much of a response body an attempt reads. A
// target's short answer is read to the end so its connection can be
// reused; anything longer is cut off by closing the connection, so a
// target streaming a gigabyte costs neither memory nor time.
const maxResponseRead = 64 << 10

var readBufs = sync.Pool{New: func() any { return new([maxResponseRead]byte) }}

// verdict is what an attempt's outcome means for the delivery.
type verdict int

const (
	// delivered: 2xx.
	verdictDelivered verdict = iota
	// retryable: the target is (perhaps briefly) unable to take it.
	verdictRetry
	// permanent: the target answered and refused it for good.
	verdictPermanent
	// unsendable: our own request failed before the target could judge
	// it, and would fail the same way every time; see requestError.
	verdictUnsendable
)

// requestError is an attempt that failed on our side: the request could
// not be built, its body not encoded for the target, or its headers not
// sent as they are (a peer's advertised header list limit included).
// That is the event's problem, not the target's: the delivery is
// dead-lettered at once, and the circuit breaker does not count it.
type requestError struct {
	err error
}

func (e *requestError) Error() string { return e.err.Error() }

func (e *requestError) Unwrap() error { return e.err }

// requestFaults are the transport's messages for a request it refused to
// send as it was; net/http exports no error values for them. checkHeader
// finds invalid headers first, so mostly the HTTP/2 limit, which depends
// on the peer, arrives here.
var requestFaults = []string{
	"request header list larger than peer's advertised limit",
	"net/http: invalid header",
	"invalid HTTP header",
}

// asRequestError marks err as a requestError when the transport refused
// the request itself.
func asRequestError(err error) error {
	msg := err.Error()
	for _, f := range requestFaults {
		if strings.Contains(msg, f) {
			return &requestError{err: err}
		}
	}
	return err
}

// response is the outcome of one HTTP attempt.
type response struct {
	status     int
	body       string // excerpt, at most store.MaxExcerpt bytes
	err        error
	retryAfter string
	duration   time.Duration
}

// classify maps an attempt's outcome to a verdict: our own request
// failing (a requestError) unsendable; 2xx delivered; no response, a 1xx
// as the final answer, 408, 425, 429 and 5xx retried; everything else
// (3xx and the other 4xx) permanent.
func classify(status int, err error) verdict {
	var reqErr *requestError
	switch {
	case errors.As(err, &reqErr):
		return verdictUnsendable
	case err != nil, status < 200:
		return verdictRetry
	case status < 300:
		return verdictDelivered
	case status == http.StatusRequestTimeout, status == http.StatusTooEarly,
		status == http.StatusTooManyRequests, status >= 500:
		return verdictRetry
	}
	return verdictPermanent
}

// send makes one attempt: it POSTs the event's body, in the target's
// body encoding, with the delivery headers and reads at most
// maxResponseRead bytes of the answer. A timestamped signature is made
// at the dispatcher's time at, so each attempt is signed anew. The
// duration is wall time, whatever the dispatcher's clock. parent carries
// the attempt's httptrace hooks (relay/pacing.go), if any.
func (s *settings) send(parent context.Context, d *store.Delivery, attempt int, at time.Time) response {
	start := time.Now()
	ctx, cancel := context.WithTimeout(parent, s.Timeout)
	defer cancel()
	res := s.roundTrip(ctx, d, attempt, at)
	res.duration = time.Since(start)
	var reqErr *requestError
	if res.err != nil && ctx.Err() != nil && !errors.As(res.err, &reqErr) {
		res.err = fmt.Errorf("timeout after %s", s.Timeout)
	}
	return res
}

func (s *settings) roundTrip(ctx context.Context, d *store.Delivery, attempt int, at time.Time) response {
	// Encoded once: the signature must cover exactly the bytes sent.
	body, isJSON, err := s.deliveryBody(d)
	if err != nil {
		return response{err: &requestError{err: err}}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return response{err: &requestError{err: fmt.Errorf("building the request: %w", cleanError(err))}}
	}
	h := req.Header
	for k, vs := range s.header {
		// Shared with every request; the transport only reads them.
		h[k] = vs
	}
	if _, ok := h["User-Agent"]; !ok {
		h.Set("User-Agent", userAgent)
	}
	// Set after the configured headers, which therefore cannot replace
	// them.
	h.Set("Content-Type", "application/json")
	if !isJSON {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	h.Set(headerEventID, d.Event.ID)
	h.Del(headerEventType)
	if d.Event.Type != "" {
		h.Set(headerEventType, headerValue(d.Event.Type))
	}
	h.Set(headerAttempt, strconv.Itoa(attempt))
	setTraceContext(h, d.Event.Headers)
	if err := s.signRequest(h, d, body, at); err != nil {
		return response{err: &requestError{err: err}}
	}
	if s.host != "" {
		req.Host = s.host
	}
	if err := checkHeader(h); err != nil {
		return response{err: &requestError{err: err}}
	}

	resp, err := s.client.Do(req)
	if err != nil {
		return response{err: asRequestError(cleanError(err))}
	}
	// The timeout bounds reading the answer too, whatever it is: after a
	// 101 the transport hands the connection over as the body and no
	// longer watches ctx, so only closing it ends a read the target never
	// answers.
	stop := context.AfterFunc(ctx, func() { resp.Body.Close() })
	defer stop()
	if resp.StatusCode < 200 {
		// A POST has no protocol to switch to; the event was not taken.
		resp.Body.Close()
		return response{status: resp.StatusCode,
			err: fmt.Errorf("target answered %d %s, not a final status", resp.StatusCode, http.StatusText(resp.StatusCode))}
	}
	buf := readBufs.Get().(*[maxResponseRead]byte)
	n, rerr := io.ReadFull(resp.Body, buf[:])
	// Closing before EOF drops the connection rather than draining it.
	resp.Body.Close()
	res := response{
		status:     resp.StatusCode,
		body:       store.Excerpt(string(buf[:min(n, store.MaxExcerpt+4)])),
		retryAfter: resp.Header.Get("Retry-After"),
	}
	readBufs.Put(buf)
	// A body cut short by a timeout or reset still carries a status the
	// target chose; keep the verdict it gives, but tell the operator.
	if rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, io.ErrUnexpectedEOF) {
		res.body = store.Excerpt(res.body + " [reading response: " + rerr.Error() + "]")
	}
	return res
}

// cleanError drops the *url.Error wrapper, whose message repeats the
// target URL; a URL may carry a token, and attempts are stored and logged.
func cleanError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// summary names an outcome in a dead letter's reason and the logs.
func (r *response) summary() string {
	if r.err != nil {
		return r.err.Error()
	}
	return "status " + strconv.Itoa(r.status)
}
