package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestApp(t *testing.T) {
	a, err := startApp(0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.stop()
	url := "http://127.0.0.1:" + strconv.Itoa(a.port) + "/hook"
	tests := []struct {
		name       string
		method     string
		id         string
		wantStatus int
		want       appCounts // without lastNew
	}{
		{"first event", http.MethodPost, "evt_1", http.StatusOK, appCounts{requests: 1, unique: 1}},
		{"redelivery counts once", http.MethodPost, "evt_1", http.StatusOK, appCounts{requests: 2, unique: 1}},
		{"second event", http.MethodPost, "evt_2", http.StatusOK, appCounts{requests: 3, unique: 2}},
		{"no id", http.MethodPost, "", http.StatusOK, appCounts{requests: 4, unique: 2, noID: 1}},
		{"GET is not an event", http.MethodGet, "evt_3", http.StatusMethodNotAllowed, appCounts{requests: 4, unique: 2, noID: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, url, strings.NewReader(`{"event":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			if tt.id != "" {
				req.Header.Set("X-UniCraft-Event-Id", tt.id)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			got := a.counts()
			got.lastNew = time.Time{}
			if got != tt.want {
				t.Fatalf("counts %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := a.waitUnique(2, time.Second); got.unique != 2 || got.lastNew.IsZero() {
		t.Fatalf("waitUnique = %+v, want 2 distinct IDs and the time of the last", got)
	}
}

func TestAppLatency(t *testing.T) {
	const latency = 50 * time.Millisecond
	a, err := startApp(latency)
	if err != nil {
		t.Fatal(err)
	}
	defer a.stop()
	start := time.Now()
	resp, err := http.Post("http://127.0.0.1:"+strconv.Itoa(a.port)+"/hook", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if took := time.Since(start); took < latency {
		t.Fatalf("the answer came after %s, before the app's latency of %s", took, latency)
	}
}
