// Command go-receiver is a downstream app for caddy-webhook-inbox: it
// verifies X-UniCraft-Signature over the raw request body, the bytes the
// inbox signed, so its target keeps the default `body raw` and the app
// sees exactly what UniCraft sent.
//
//	WEBHOOK_SECRET=... PORT=3000 go run ./examples/go-receiver
//
// It logs one line per accepted event and answers 401 to a missing or
// wrong signature. Deliveries are at least once: a real app keys its
// work on X-UniCraft-Event-Id so a repeated delivery does nothing twice.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// maxBody is the largest body accepted, the inbox's default max_body.
const maxBody = 1 << 20

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, nil))
	secret := os.Getenv("WEBHOOK_SECRET")
	if secret == "" {
		logger.Error("WEBHOOK_SECRET is not set")
		os.Exit(2)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/unicraft", newReceiver([]byte(secret), logger))
	srv := &http.Server{
		Addr:              net.JoinHostPort("127.0.0.1", port),
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	logger.Info("webhook server running", "addr", srv.Addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("serving", "err", err)
		os.Exit(1)
	}
}

// receiver accepts UniCraft events whose signature verifies.
type receiver struct {
	secret []byte
	logger *slog.Logger
}

func newReceiver(secret []byte, logger *slog.Logger) http.Handler {
	return &receiver{secret: secret, logger: logger}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading body", http.StatusBadRequest)
		return
	}
	// Verify before parsing: an unsigned body is not worth the work.
	if !validSignature(rc.secret, body, r.Header.Get("X-UniCraft-Signature")) {
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	var event struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &event); err != nil {
		http.Error(w, "body is not a JSON object", http.StatusBadRequest)
		return
	}
	rc.logger.Info("webhook accepted", "event", event.Event, "id", r.Header.Get("X-UniCraft-Event-Id"))
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "OK")
}

// validSignature reports whether sig is the hex HMAC-SHA256 of the raw
// body with secret, compared in constant time.
func validSignature(secret, body []byte, sig string) bool {
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}
