// Command stripe-receiver is a Stripe webhook endpoint written the way
// Stripe's documentation shows it, on stripe-go's webhook.ConstructEvent:
// it runs unchanged behind caddy-webhook-inbox, whose target re-signs each
// delivery as Stripe does (`sign source`, the default, on a `verify
// stripe` source), at the time of each attempt.
//
//	STRIPE_WEBHOOK_SECRET=whsec_... PORT=4242 go run ./examples/stripe-receiver
//
// STRIPE_WEBHOOK_SECRET is the target's `secret`, not the one in Stripe's
// dashboard (that one is the inbox handler's `secret`).
package main

import (
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
)

func main() {
	endpointSecret := os.Getenv("STRIPE_WEBHOOK_SECRET")
	if endpointSecret == "" {
		log.Fatal("STRIPE_WEBHOOK_SECRET is not set")
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "4242"
	}
	http.HandleFunc("POST /webhook", func(w http.ResponseWriter, req *http.Request) {
		const MaxBodyBytes = int64(65536)
		req.Body = http.MaxBytesReader(w, req.Body, MaxBodyBytes)
		payload, err := io.ReadAll(req.Body)
		if err != nil {
			log.Printf("error reading request body: %v", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		// ConstructEvent checks the signature and that its timestamp is
		// at most five minutes old.
		event, err := webhook.ConstructEvent(payload, req.Header.Get("Stripe-Signature"), endpointSecret)
		if err != nil {
			log.Printf("webhook signature verification failed: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		switch event.Type {
		case "payment_intent.succeeded":
			var pi stripe.PaymentIntent
			if err := json.Unmarshal(event.Data.Raw, &pi); err != nil {
				log.Printf("error parsing webhook JSON: %v", err)
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			log.Printf("received %s %s: payment intent %s for %d %s", event.Type, event.ID, pi.ID, pi.Amount, pi.Currency)
		default:
			log.Printf("received %s %s: unhandled event type", event.Type, event.ID)
		}
		w.WriteHeader(http.StatusOK)
	})
	addr := net.JoinHostPort("127.0.0.1", port)
	log.Printf("listening on %s", addr)
	srv := &http.Server{Addr: addr, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
