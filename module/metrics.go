package module

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/webhookinbox/caddy-webhook-inbox/adminapi"
	"github.com/webhookinbox/caddy-webhook-inbox/relay"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// metricsPrefix starts the name of every metric of the inbox.
const metricsPrefix = "caddy_webhook_inbox_"

// Outcomes of an ingress request, the outcome label of
// caddy_webhook_inbox_received_total. The set is fixed, so the label stays
// bounded whatever senders post.
const (
	outcomeAccepted     = "accepted"
	outcomeDuplicate    = "duplicate"
	outcomeBadSignature = "bad_signature"
	outcomeIPNotAllowed = "ip_not_allowed"
	outcomeRateLimited  = "rate_limited"
	outcomeBodyTooLarge = "body_too_large"
	outcomeBadPayload   = "bad_payload"
	outcomeStale        = "stale"
	outcomeBadID        = "bad_id"
	outcomeMethod       = "method"
	outcomeUnavailable  = "unavailable"
)

// receivedOutcomes lists every outcome; each source's counters start at
// zero for all of them, so rates and alerts see a series from the start.
var receivedOutcomes = []string{
	outcomeAccepted, outcomeDuplicate, outcomeBadSignature, outcomeIPNotAllowed,
	outcomeRateLimited, outcomeBodyTooLarge, outcomeBadPayload, outcomeStale,
	outcomeBadID, outcomeMethod, outcomeUnavailable,
}

// deliveryResults are the result label values of deliveries_total.
var deliveryResults = []string{relay.ResultSuccess, relay.ResultRetry, relay.ResultDead}

// durationBuckets cover a fast local app (milliseconds) up to the default
// 10s attempt timeout and beyond.
var durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// inboxMetrics are the event-driven instruments. They live as long as the
// process, not a config: Caddy gives every config a new registry, and
// registering the same instruments on each keeps counters counting
// across reloads instead of dropping to zero.
type inboxMetrics struct {
	received   *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	duration   *prometheus.HistogramVec
}

var metrics = inboxMetrics{
	received: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: metricsPrefix + "received_total",
		Help: "Webhook requests received, by source and outcome.",
	}, []string{"source", "outcome"}),
	deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: metricsPrefix + "deliveries_total",
		Help: "Delivery attempts, by target and result (success, retry, dead).",
	}, []string{"target", "result"}),
	duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    metricsPrefix + "delivery_duration_seconds",
		Help:    "Duration of delivery attempts, by target.",
		Buckets: durationBuckets,
	}, []string{"target"}),
}

// processTotals count, beside the Prometheus counters and like them for
// the whole process, what GET /webhook_inbox/stats reports as totals:
// reading them back from the counter vectors would sum every label.
var processTotals struct {
	start                              time.Time
	received, delivered, retried, dead atomic.Int64
}

func init() { processTotals.start = time.Now() }

// totals returns the process's counts since it started.
func totals() adminapi.Totals {
	t := &processTotals
	return adminapi.Totals{
		Since:     t.start,
		Received:  t.received.Load(),
		Delivered: t.delivered.Load(),
		Retried:   t.retried.Load(),
		Dead:      t.dead.Load(),
	}
}

// registerMetrics registers the inbox's instruments and its store
// collector on a config's registry and creates the zero series of the
// app's targets. A collector already registered there (an
// AlreadyRegisteredError) is reused, as Caddy's own modules do.
func registerMetrics(reg *prometheus.Registry, app *App) error {
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{metrics.received, metrics.deliveries, metrics.duration, storeCollector{}} {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return fmt.Errorf("registering webhook inbox metrics: %w", err)
			}
		}
	}
	for name := range app.Targets {
		for _, r := range deliveryResults {
			metrics.deliveries.WithLabelValues(name, r)
		}
		metrics.duration.WithLabelValues(name)
	}
	return nil
}

// outcomeCounters are one source's received_total counters by outcome.
type outcomeCounters map[string]prometheus.Counter

// sourceCounters creates (at zero) and returns a source's counters.
func sourceCounters(source string) outcomeCounters {
	c := make(outcomeCounters, len(receivedOutcomes))
	for _, o := range receivedOutcomes {
		c[o] = metrics.received.WithLabelValues(source, o)
	}
	return c
}

// inc counts one request. A reason outside the fixed set (a body that
// could not be read) counts as bad_payload, so the label stays bounded.
func (c outcomeCounters) inc(outcome string) {
	counter, ok := c[outcome]
	if !ok {
		counter = c[outcomeBadPayload]
	}
	if counter != nil {
		counter.Inc()
	}
	if outcome == outcomeAccepted {
		processTotals.received.Add(1)
	}
}

// deliveryObserver feeds the dispatcher's attempt results into the
// delivery metrics; it is shared by every config, like the dispatcher.
type deliveryObserver struct{}

// OnAttempt counts one attempt and observes its duration.
func (deliveryObserver) OnAttempt(target, result string, _ int, dur time.Duration) {
	metrics.deliveries.WithLabelValues(target, result).Inc()
	metrics.duration.WithLabelValues(target).Observe(dur.Seconds())
	switch result {
	case relay.ResultSuccess:
		processTotals.delivered.Add(1)
	case relay.ResultRetry:
		processTotals.retried.Add(1)
	case relay.ResultDead:
		processTotals.dead.Add(1)
	}
}

// OnCircuit does nothing: target_up is read from the dispatcher's
// circuits at scrape time, which is also right after a restart.
func (deliveryObserver) OnCircuit(string, bool) {}

// Descriptions of the gauges storeCollector computes at scrape time.
var (
	queueDepthDesc = prometheus.NewDesc(metricsPrefix+"queue_depth",
		"Deliveries waiting or in flight, by target.", []string{"target"}, nil)
	deadLettersDesc = prometheus.NewDesc(metricsPrefix+"dead_letters",
		"Dead letters still retained, by target.", []string{"target"}, nil)
	oldestPendingDesc = prometheus.NewDesc(metricsPrefix+"oldest_pending_seconds",
		"Age of the oldest pending delivery, by target; 0 when nothing is pending.", []string{"target"}, nil)
	targetUpDesc = prometheus.NewDesc(metricsPrefix+"target_up",
		"1 while a configured target's circuit is closed, 0 while it is open (deliveries paused).", []string{"target"}, nil)
	storeSizeDesc = prometheus.NewDesc(metricsPrefix+"store_size_bytes",
		"Disk space taken by the inbox's store.", nil, nil)
	freeSpaceDesc = prometheus.NewDesc(metricsPrefix+"free_space_bytes",
		"Free disk space on the store's filesystem.", nil, nil)
)

// storeCollector reports the store's gauges when scraped, from
// Inbox.Stats and the dispatcher's circuits, so ingress and delivery never
// pay for them. It reads the running app at scrape time and reports
// nothing while none runs. Targets are the configured ones (always, zero
// when idle) plus orphaned ones that still have pending or dead entries.
type storeCollector struct{}

// Describe sends the descriptions of every gauge.
func (storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{queueDepthDesc, deadLettersDesc, oldestPendingDesc, targetUpDesc, storeSizeDesc, freeSpaceDesc} {
		ch <- d
	}
}

// Collect reads the store and sends the gauges.
func (storeCollector) Collect(ch chan<- prometheus.Metric) {
	app := runningApps.current()
	if app == nil {
		return
	}
	st, disp := app.handle.store, app.handle.dispatcher
	now := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	if stats, err := st.Stats(ctx); err == nil {
		circuits := disp.Circuits()
		for _, name := range statsTargets(app, stats) {
			st := stats[name]
			ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(st.Pending), name)
			ch <- prometheus.MustNewConstMetric(deadLettersDesc, prometheus.GaugeValue, float64(st.Dead), name)
			ch <- prometheus.MustNewConstMetric(oldestPendingDesc, prometheus.GaugeValue, ageSeconds(st.OldestPending, now), name)
			if _, configured := app.Targets[name]; !configured {
				continue
			}
			if c, ok := circuits[name]; ok {
				up := 1.0
				if c.Open {
					up = 0
				}
				ch <- prometheus.MustNewConstMetric(targetUpDesc, prometheus.GaugeValue, up, name)
			}
		}
	} else {
		app.logger.Debug("reading webhook inbox stats for metrics", zap.Error(err))
	}
	du, ok := st.(store.DiskUser)
	if !ok {
		return
	}
	if size, err := du.Size(); err == nil {
		ch <- prometheus.MustNewConstMetric(storeSizeDesc, prometheus.GaugeValue, float64(size))
	}
	if free := du.FreeSpace(); free >= 0 {
		ch <- prometheus.MustNewConstMetric(freeSpaceDesc, prometheus.GaugeValue, float64(free))
	}
}

// collectTimeout bounds how long a scrape waits for a store that answers
// over the network.
const collectTimeout = 5 * time.Second

// ageSeconds is how long ago t was, in seconds; 0 for the zero time.
func ageSeconds(t, now time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return max(now.Sub(t).Seconds(), 0)
}

// Interface guards
var (
	_ relay.Observer       = deliveryObserver{}
	_ prometheus.Collector = storeCollector{}
)
