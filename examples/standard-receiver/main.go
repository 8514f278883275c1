// Command standard-receiver is a Standard Webhooks endpoint (the scheme of
// Svix, Clerk, Resend, OpenAI…) on the official Go library: it runs
// unchanged behind caddy-webhook-inbox, whose target re-signs each
// delivery in the same scheme at the time of each attempt and keeps the
// sender's webhook-id, so the library's five-minute tolerance passes
// however late a retry comes.
//
//	WEBHOOK_SECRET=whsec_... PORT=8000 go run ./examples/standard-receiver
//
// WEBHOOK_SECRET is the target's `secret` (whsec_ and base64, like the
// sender's).
package main

import (
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func main() {
	wh, err := standardwebhooks.NewWebhook(os.Getenv("WEBHOOK_SECRET"))
	if err != nil {
		log.Fatalf("WEBHOOK_SECRET: %v", err)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8000"
	}
	http.HandleFunc("POST /webhooks", func(w http.ResponseWriter, r *http.Request) {
		payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err := wh.Verify(payload, r.Header); err != nil {
			log.Printf("rejected %s: %v", r.Header.Get("webhook-id"), err)
			http.Error(w, "invalid signature", http.StatusBadRequest)
			return
		}
		var msg struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(payload, &msg); err != nil {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		log.Printf("received %s %s: %s", msg.Type, r.Header.Get("webhook-id"), msg.Data)
		w.WriteHeader(http.StatusNoContent)
	})
	addr := net.JoinHostPort("127.0.0.1", port)
	log.Printf("listening on %s", addr)
	srv := &http.Server{Addr: addr, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
