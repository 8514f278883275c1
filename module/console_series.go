package module

import (
	"runtime/debug"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
)

// Shape of the console's delivery chart: one bucket a minute over the
// last hour.
const (
	seriesBucket  = time.Minute
	seriesBuckets = 60
)

// samplerPool holds the one delivery sampler of the process, shared by
// every console handler and every config, so a reload keeps the chart's
// hour of history.
var samplerPool = caddy.NewUsagePool()

const samplerKey = "deliveries"

// seriesKey names one deliveries_total counter.
type seriesKey struct{ target, result string }

// deliverySample is the value of every deliveries_total counter at a time.
type deliverySample struct {
	at     time.Time
	counts map[seriesKey]float64
}

// deliverySampler reads the app's own deliveries_total counters once per
// bucket and keeps an hour of samples in memory: enough for the console's
// chart, with no second count of deliveries to keep in step with the
// metrics.
type deliverySampler struct {
	logger *zap.Logger
	read   func() map[seriesKey]float64

	mu      sync.Mutex
	samples []deliverySample // oldest first

	stop chan struct{}
	done chan struct{}
}

// newDeliverySampler takes a first sample at now and samples every
// seriesBucket until Destruct.
func newDeliverySampler(logger *zap.Logger, now time.Time) *deliverySampler {
	s := &deliverySampler{
		logger: logger,
		read:   readDeliveryCounters,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	s.sample(now)
	go s.run()
	return s
}

func (s *deliverySampler) run() {
	defer close(s.done)
	ticker := time.NewTicker(seriesBucket)
	defer ticker.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-ticker.C:
			s.safeSample(now)
		}
	}
}

// safeSample samples, logging a panic instead of ending the process.
func (s *deliverySampler) safeSample(now time.Time) {
	defer func() {
		if v := recover(); v != nil {
			s.logger.Error("panic sampling delivery counters", zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
		}
	}()
	s.sample(now)
}

// sample records the counters at now and forgets samples older than the
// chart's hour.
func (s *deliverySampler) sample(now time.Time) {
	counts := s.read()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples = append(s.samples, deliverySample{at: now, counts: counts})
	if len(s.samples) > seriesBuckets+1 {
		s.samples = s.samples[len(s.samples)-seriesBuckets-1:]
	}
}

// Destruct stops the sampling goroutine.
func (s *deliverySampler) Destruct() error {
	close(s.stop)
	<-s.done
	return nil
}

// seriesAnswer is the body of GET <root>api/series: for each target and
// result (success, retry, dead), the deliveries in each of the last
// seriesBuckets buckets, oldest first; the last bucket ends now.
type seriesAnswer struct {
	BucketSeconds float64                         `json:"bucket_seconds"`
	Until         time.Time                       `json:"until"`
	Targets       map[string]map[string][]float64 `json:"targets"`
}

// series turns the samples plus the counters now into per-bucket
// increases for targets. Each increase between two samples lands in the
// bucket of the later one; a counter that went down (a process restart
// cannot, since the sampler lives in the process) counts as zero.
func (s *deliverySampler) series(now time.Time, targets []string) seriesAnswer {
	current := deliverySample{at: now, counts: s.read()}
	s.mu.Lock()
	samples := append(append([]deliverySample(nil), s.samples...), current)
	s.mu.Unlock()

	out := seriesAnswer{BucketSeconds: seriesBucket.Seconds(), Until: now, Targets: make(map[string]map[string][]float64, len(targets))}
	for _, t := range targets {
		m := make(map[string][]float64, len(deliveryResults))
		for _, r := range deliveryResults {
			m[r] = make([]float64, seriesBuckets)
		}
		out.Targets[t] = m
	}
	for i := 1; i < len(samples); i++ {
		prev, next := samples[i-1], samples[i]
		// bucket seriesBuckets-1 ends at now; earlier ones a bucket apart
		back := int(now.Sub(next.at) / seriesBucket)
		b := seriesBuckets - 1 - back
		if b < 0 || b >= seriesBuckets {
			continue
		}
		for _, t := range targets {
			for _, r := range deliveryResults {
				k := seriesKey{t, r}
				if d := next.counts[k] - prev.counts[k]; d > 0 {
					out.Targets[t][r][b] += d
				}
			}
		}
	}
	return out
}

// readDeliveryCounters reads every deliveries_total counter.
func readDeliveryCounters() map[seriesKey]float64 {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		metrics.deliveries.Collect(ch)
		close(ch)
	}()
	out := make(map[seriesKey]float64)
	for m := range ch {
		var pb dto.Metric
		if m.Write(&pb) != nil || pb.GetCounter() == nil {
			continue
		}
		var k seriesKey
		for _, lp := range pb.GetLabel() {
			switch lp.GetName() {
			case "target":
				k.target = lp.GetValue()
			case "result":
				k.result = lp.GetValue()
			}
		}
		out[k] = pb.GetCounter().GetValue()
	}
	return out
}

// Interface guards
var _ caddy.Destructor = (*deliverySampler)(nil)
