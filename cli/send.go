package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// cliSourceHeader marks requests made by `webhook send --source-header`, so
// a route can keep test traffic away from real targets, e.g.
// route `headers["X-Webhook-Source"] == "caddy-webhook-send"` sink.
const (
	cliSourceHeader = "X-Webhook-Source"
	cliSourceValue  = "caddy-webhook-send"
	cliUserAgent    = "caddy-webhook-send"
)

// cliMaxExcerpt caps the response body kept as an example of a failure.
const cliMaxExcerpt = 200

// cliSendCommand is `caddy webhook send`.
func cliSendCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "send --url <url> --secret <secret> [--scheme unicraft|standard|stripe|github|shopify|slack] [--event all|<type>[,<type>...]] [--count N] [--rate R] [--concurrency C]",
		Short: "Posts signed sample UniCraft events",
		Long: `
Posts sample events shaped like UniCraft's (one of the seven seed types, or
all of them in turn) to --url, each with a unique "id", the current
"timestamp", and the X-UniCraft-Event-Id and X-UniCraft-Signature headers
(HMAC-SHA256 of the body with --secret, or $UNICRAFT_WEBHOOK_SECRET).

With --scheme stripe, github, standard, shopify or slack it posts that
sender's sample event instead (a payment_intent.succeeded, a push, an
invoice.paid, an orders/create, an app_mention), each with a unique ID and
signed the way that sender signs, at the time it is sent.

With --count, --rate and --concurrency it is a small load generator over
keep-alive connections. It prints how many answers had each status code,
the errors, the request rate and p50/p99 latency, and exits non-zero if any
request failed or was answered with a non-2xx status.
`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	fs.String("url", "", "Webhook URL to post to (required)")
	fs.String("secret", "", "Signing secret (default $"+cliSecretEnv+")")
	fs.String("event", cliEventAll, "Event type to send: all, or one or more of "+strings.Join(cliEventTypes, ", "))
	fs.Int("count", 0, "Number of events to send (default: one of each selected type)")
	fs.Float64("rate", 0, "Events per second across all connections; 0 is unlimited")
	fs.Int("concurrency", 1, "Requests in flight (and keep-alive connections)")
	fs.Duration("timeout", 10*time.Second, "Timeout of one request")
	fs.Bool("insecure", false, "Skip TLS certificate verification (e.g. Caddy's internal CA)")
	fs.Bool("source-header", false, "Also send "+cliSourceHeader+": "+cliSourceValue+" so routes can tell test traffic apart")
	fs.StringArray("header", nil, "Extra request header as 'Name: value' (repeatable)")
	cliSchemeFlags(fs, "Sender to sign as: "+strings.Join(cliSchemes, ", ")+"; for a preset other than unicraft, each event is that sender's sample and --event is ignored; hmac signs the UniCraft samples")
	cmd.RunE = cliRun(func(ctx context.Context, cmd *cobra.Command, _ []string) error {
		opts, err := cliParseSendFlags(cmd.Flags())
		if err != nil {
			return err
		}
		sum, err := cliSend(ctx, opts)
		if err != nil {
			return err
		}
		sum.print(cmd.OutOrStdout())
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted after %d of %s", sum.total(), cliCount(opts.Count, "request", "requests"))
		}
		if n := sum.failed(); n > 0 {
			return fmt.Errorf("%d of %s failed", n, cliCount(sum.total(), "request", "requests"))
		}
		return nil
	})
	return cmd
}

// cliSendOptions are the validated flags of `webhook send`.
type cliSendOptions struct {
	URL          string
	Secret       string
	Types        []string
	Count        int
	Rate         float64
	Concurrency  int
	Timeout      time.Duration
	Insecure     bool
	SourceHeader bool
	Header       http.Header
	// Scheme signs as a sender other than UniCraft (cli/scheme.go).
	Scheme signature.Scheme
}

// cliParseSendFlags reads and checks the flags of `webhook send`.
func cliParseSendFlags(fs *pflag.FlagSet) (cliSendOptions, error) {
	fl := caddycmd.Flags{FlagSet: fs}
	o := cliSendOptions{
		URL:          fl.String("url"),
		Count:        fl.Int("count"),
		Rate:         fl.Float64("rate"),
		Concurrency:  fl.Int("concurrency"),
		Timeout:      fl.Duration("timeout"),
		Insecure:     fl.Bool("insecure"),
		SourceHeader: fl.Bool("source-header"),
	}
	headers, err := fs.GetStringArray("header")
	if err != nil {
		return o, err
	}

	if o.URL == "" {
		return o, errors.New("--url is required")
	}
	u, perr := url.Parse(o.URL)
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return o, fmt.Errorf("--url %q: want an absolute http:// or https:// URL", o.URL)
	}
	if o.Secret, err = cliSecret(fs); err != nil {
		return o, err
	}
	if o.Scheme, err = cliParseScheme(fs, o.Secret); err != nil {
		return o, err
	}
	if o.Types, err = cliParseEventTypes(fl.String("event")); err != nil {
		return o, fmt.Errorf("--event: %w", err)
	}
	switch {
	case o.Count < 0:
		return o, fmt.Errorf("--count %d: must not be negative", o.Count)
	case o.Count == 0:
		o.Count = len(o.Types)
	}
	if o.Rate < 0 || math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0) {
		return o, fmt.Errorf("--rate %v: want events per second, 0 for unlimited", o.Rate)
	}
	if o.Concurrency < 1 || o.Concurrency > 10000 {
		return o, fmt.Errorf("--concurrency %d: want 1 to 10000", o.Concurrency)
	}
	if o.Timeout <= 0 {
		return o, fmt.Errorf("--timeout %s: must be positive", o.Timeout)
	}
	o.Header = make(http.Header)
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") {
			return o, fmt.Errorf("--header %q: want 'Name: value'", h)
		}
		o.Header.Add(name, strings.TrimSpace(value))
	}
	return o, nil
}

// cliSendResult is the outcome of one request.
type cliSendResult struct {
	status  int    // 0 when no answer arrived
	err     string // transport error, empty on an answer
	latency time.Duration
	excerpt string // start of a non-2xx answer's body
}

// cliSendSummary aggregates a send run.
type cliSendSummary struct {
	results []cliSendResult
	elapsed time.Duration
	conc    int
}

// cliSend posts opts.Count sample events and returns what happened. It
// stops early, with the requests made so far, when ctx ends.
func cliSend(ctx context.Context, opts cliSendOptions) (*cliSendSummary, error) {
	run, err := cliRunID()
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = opts.Concurrency
	transport.MaxIdleConnsPerHost = opts.Concurrency
	if opts.Insecure {
		transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for with --insecure
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: opts.Timeout}
	secret := []byte(opts.Secret)

	results := make([]cliSendResult, opts.Count)
	done := make([]bool, opts.Count)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range opts.Concurrency {
		wg.Go(func() {
			for i := range jobs {
				results[i] = cliPostOne(ctx, client, opts, secret, run, i)
				done[i] = true
			}
		})
	}

	start := time.Now()
	cliDispatch(ctx, jobs, opts.Count, opts.Rate, start)
	close(jobs)
	wg.Wait()
	sum := &cliSendSummary{elapsed: time.Since(start), conc: opts.Concurrency}
	for i, ok := range done {
		if ok {
			sum.results = append(sum.results, results[i])
		}
	}
	return sum, nil
}

// cliDispatch hands out request numbers 0..count-1, the i-th not before
// start + i/rate when rate is positive, until ctx ends.
func cliDispatch(ctx context.Context, jobs chan<- int, count int, rate float64, start time.Time) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for i := range count {
		if rate > 0 {
			due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return
				}
			}
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
			return
		}
	}
}

// cliPostOne builds, signs and posts the i-th event of the run.
func cliPostOne(ctx context.Context, client *http.Client, opts cliSendOptions, secret []byte, run string, i int) (res cliSendResult) {
	var err error
	id := cliEventID(run, i+1)
	now := time.Now()
	var sample *signature.Message
	if opts.Scheme != nil && opts.Scheme.Name() != signature.UniCraft {
		sample = cliSchemeSample(opts.Scheme.Name(), id, now)
	}
	var body []byte
	if sample != nil {
		body = sample.Body
	} else if body, err = cliSampleBody(opts.Types[i%len(opts.Types)], id, now); err != nil {
		return cliSendResult{err: err.Error()}
	} else if opts.Scheme != nil && opts.Scheme.Name() == signature.HMAC {
		sample = &signature.Message{ID: id, Body: body}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, opts.URL, bytes.NewReader(body))
	if err != nil {
		return cliSendResult{err: err.Error()}
	}
	for name, values := range opts.Header {
		req.Header[name] = values
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", cliUserAgent)
	if sample != nil {
		for name, values := range cliSignHeaders(opts.Scheme, sample, now) {
			req.Header[name] = values
		}
	} else {
		req.Header.Set(signature.UniCraftEventID, id)
		req.Header.Set(signature.UniCraftSignature, signature.SignUniCraft(secret, body))
	}
	if opts.SourceHeader {
		req.Header.Set(cliSourceHeader, cliSourceValue)
	}

	began := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		// The *url.Error repeats method and URL; the cause is what differs.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return cliSendResult{err: err.Error(), latency: time.Since(began)}
	}
	res = cliSendResult{status: resp.StatusCode}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, cliMaxExcerpt))
		res.excerpt = strings.TrimSpace(string(b))
	}
	// Drain so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	res.latency = time.Since(began)
	return res
}

// total counts the requests made.
func (s *cliSendSummary) total() int { return len(s.results) }

// failed counts requests without a 2xx answer.
func (s *cliSendSummary) failed() int {
	n := 0
	for _, r := range s.results {
		if r.status < 200 || r.status > 299 {
			n++
		}
	}
	return n
}

// print writes the summary: totals and rate, one line per status code (with
// an example body for non-2xx), errors by message, latency percentiles.
func (s *cliSendSummary) print(w io.Writer) {
	n := s.total()
	secs := s.elapsed.Seconds()
	rps := 0.0
	if secs > 0 {
		rps = float64(n) / secs
	}
	fmt.Fprintf(w, "sent %s in %s (%.1f req/s, concurrency %d)\n", cliCount(n, "request", "requests"), s.elapsed.Round(time.Millisecond), rps, s.conc)

	statuses := map[int]int{}
	excerpts := map[int]string{}
	errs := map[string]int{}
	var lat []time.Duration
	for _, r := range s.results {
		if r.err != "" {
			errs[r.err]++
			continue
		}
		statuses[r.status]++
		if _, ok := excerpts[r.status]; !ok && r.excerpt != "" {
			excerpts[r.status] = r.excerpt
		}
		lat = append(lat, r.latency)
	}
	codes := make([]int, 0, len(statuses))
	for c := range statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		line := fmt.Sprintf("status %d: %d", c, statuses[c])
		if ex := excerpts[c]; ex != "" {
			line += "  e.g. " + ex
		}
		fmt.Fprintln(w, line)
	}
	nerr := 0
	for _, c := range errs {
		nerr += c
	}
	fmt.Fprintf(w, "errors: %d\n", nerr)
	msgs := make([]string, 0, len(errs))
	for m := range errs {
		msgs = append(msgs, m)
	}
	sort.Slice(msgs, func(i, j int) bool {
		return errs[msgs[i]] > errs[msgs[j]] || errs[msgs[i]] == errs[msgs[j]] && msgs[i] < msgs[j]
	})
	for i, m := range msgs {
		if i == 5 {
			fmt.Fprintf(w, "  ... and %d more kinds of error\n", len(msgs)-5)
			break
		}
		fmt.Fprintf(w, "  %d × %s\n", errs[m], m)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		fmt.Fprintf(w, "latency: p50 %s  p99 %s  max %s\n",
			cliRound(cliPercentile(lat, 0.50)), cliRound(cliPercentile(lat, 0.99)), cliRound(lat[len(lat)-1]))
	}
}

// cliPercentile returns the nearest-rank p-quantile of sorted, which must
// not be empty.
func cliPercentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// cliRound keeps three significant digits or so, for reading.
func cliRound(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
