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
	"sync"
	"time"
)

// Delivery request headers.
const (
	headerEventID   = "X-UniCraft-Event-Id"
	headerEventType = "X-UniCraft-Event"
	headerAttempt   = "X-Webhook-Attempt"
	headerSignature = "X-UniCraft-Signature"
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
)

// response is the outcome of one HTTP attempt.
type response struct {
	status     int
	body       string // excerpt, at most MaxExcerpt bytes
	err        error
	retryAfter string
	duration   time.Duration
}

// classify maps an attempt's outcome to a verdict: 2xx delivered; no
// response, a 1xx as the final answer, 408, 425, 429 and 5xx retried;
// everything else (3xx and the
// other 4xx) permanent, and so is a body the target's encoding cannot
// express, which no retry would change.
func classify(status int, err error) verdict {
	var encErr *BodyEncodingError
	switch {
	case errors.As(err, &encErr):
		return verdictPermanent
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
// maxResponseRead bytes of the answer. The duration is wall time,
// whatever the dispatcher's clock.
func (s *settings) send(d *Delivery, attempt int) response {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
	defer cancel()
	res := s.roundTrip(ctx, d, attempt)
	res.duration = time.Since(start)
	if res.err != nil && ctx.Err() != nil {
		res.err = fmt.Errorf("timeout after %s", s.Timeout)
	}
	return res
}

func (s *settings) roundTrip(ctx context.Context, d *Delivery, attempt int) response {
	// Encoded once: the signature must cover exactly the bytes sent.
	body, err := ReencodeBody(s.BodyEncoding, d.Event.Body)
	if err != nil {
		return response{err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return response{err: cleanError(err)}
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
	h.Set(headerEventID, d.Event.ID)
	h.Del(headerEventType)
	if d.Event.Type != "" {
		h.Set(headerEventType, d.Event.Type)
	}
	h.Set(headerAttempt, strconv.Itoa(attempt))
	h.Del(headerSignature)
	if sig := s.sign(body); sig != "" {
		h.Set(headerSignature, sig)
	}
	if s.host != "" {
		req.Host = s.host
	}

	resp, err := s.client.Do(req)
	if err != nil {
		return response{err: cleanError(err)}
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
		body:       excerpt(string(buf[:min(n, MaxExcerpt+4)])),
		retryAfter: resp.Header.Get("Retry-After"),
	}
	readBufs.Put(buf)
	// A body cut short by a timeout or reset still carries a status the
	// target chose; keep the verdict it gives, but tell the operator.
	if rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, io.ErrUnexpectedEOF) {
		res.body = excerpt(res.body + " [reading response: " + rerr.Error() + "]")
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
