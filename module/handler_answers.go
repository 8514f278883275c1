package module

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// The handler's answers to the sender and the log line of each decision.

// answer is the small JSON body of every response but 202.
type answer struct {
	Status string `json:"status"`
	ID     string `json:"id,omitempty"`
	Error  string `json:"error,omitempty"`
}

// acceptedAnswer is the body of a 202; targets is always present, empty
// for an unrouted event.
type acceptedAnswer struct {
	Status  string   `json:"status"`
	ID      string   `json:"id"`
	Targets []string `json:"targets"`
}

func (h *Handler) reject(w http.ResponseWriter, status int, msg, reason, clientIP string) error {
	h.received.inc(reason)
	if c := h.logger.Check(zapcore.InfoLevel, "webhook rejected"); c != nil {
		c.Write(zap.String("source", h.Source), zap.Int("status", status),
			zap.String("reason", reason), zap.String("client_ip", clientIP))
	}
	return writeJSON(w, status, answer{Status: "rejected", Error: msg})
}

func (h *Handler) unavailable(w http.ResponseWriter, err error, clientIP string) error {
	h.received.inc(outcomeUnavailable)
	h.logger.Error("webhook not stored", zap.String("source", h.Source),
		zap.String("client_ip", clientIP), zap.Error(err))
	w.Header().Set("Retry-After", storeRetryAfter)
	return writeJSON(w, http.StatusServiceUnavailable, answer{Status: "unavailable", Error: "inbox temporarily unavailable"})
}

func (h *Handler) logDecision(outcome, id, clientIP string, start time.Time) {
	if c := h.logger.Check(zapcore.DebugLevel, "webhook "+outcome); c != nil {
		c.Write(zap.String("source", h.Source), zap.String("event_id", id),
			zap.String("client_ip", clientIP), zap.Duration("latency", time.Since(start)))
	}
}

func writeJSON(w http.ResponseWriter, status int, a any) error {
	buf, err := json.Marshal(a)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(buf)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(buf, '\n'))
	return nil
}

func retryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// firstValues maps each canonical header name to its first value, which is
// what rules see as `headers`.
func firstValues(hdr http.Header) map[string]string {
	m := make(map[string]string, len(hdr))
	for k, v := range hdr {
		if len(v) > 0 {
			m[k] = v[0]
		}
	}
	return m
}
