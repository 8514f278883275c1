// Command github-receiver is a GitHub webhook endpoint on go-github's
// ValidatePayload, as go-github documents it: it runs unchanged behind
// caddy-webhook-inbox, whose target re-signs each delivery as GitHub does
// (X-Hub-Signature-256) and passes on X-GitHub-Event and X-GitHub-Delivery.
//
//	GITHUB_WEBHOOK_SECRET=... PORT=3000 go run ./examples/github-receiver
//
// GITHUB_WEBHOOK_SECRET is the target's `secret`; the secret pasted into
// GitHub's webhook settings is the inbox handler's.
package main

import (
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/go-github/v84/github"
)

func main() {
	secret := os.Getenv("GITHUB_WEBHOOK_SECRET")
	if secret == "" {
		log.Fatal("GITHUB_WEBHOOK_SECRET is not set")
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	http.HandleFunc("POST /github/webhook", func(w http.ResponseWriter, r *http.Request) {
		payload, err := github.ValidatePayload(r, []byte(secret))
		if err != nil {
			log.Printf("invalid payload: %v", err)
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		event, err := github.ParseWebHook(github.WebHookType(r), payload)
		if err != nil {
			log.Printf("could not parse webhook: %v", err)
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		delivery := github.DeliveryID(r)
		switch e := event.(type) {
		case *github.PushEvent:
			log.Printf("received push %s: %s to %s", delivery, e.GetHeadCommit().GetID(), e.GetRef())
		case *github.PingEvent:
			log.Printf("received ping %s: hook %d", delivery, e.GetHookID())
		default:
			log.Printf("received %s %s: unhandled", github.WebHookType(r), delivery)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	addr := net.JoinHostPort("127.0.0.1", port)
	log.Printf("listening on %s", addr)
	srv := &http.Server{Addr: addr, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
