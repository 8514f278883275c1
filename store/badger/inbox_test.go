package badger

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestOpenHeldDirectory(t *testing.T) {
	dir := t.TempDir()
	openTest(t, dir, Options{})
	second, err := Open(dir, Options{})
	if err == nil {
		second.Close()
		t.Fatal("opened a directory another inbox holds")
	}
	if !strings.Contains(err.Error(), "opening inbox "+dir) {
		t.Errorf("error %q does not name the directory", err)
	}
}

func TestClosed(t *testing.T) {
	in := openTest(t, "", Options{})
	mustAccept(t, in, testEvent("before", "app"))
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
	}{
		{name: "Accept", call: func() error { _, err := in.Accept(context.Background(), testEvent("after", "app")); return err }},
		{name: "Lease", call: func() error { _, err := in.lease("app", time.Now(), 1, 0); return err }},
		{name: "Ack", call: func() error { return in.Ack(bg, store.Delivery{Target: "app"}, store.Attempt{}) }},
		{name: "Requeue", call: func() error { return in.Requeue(bg, "", "before", "") }},
		{name: "Get", call: func() error { _, err := in.Get(bg, "", "before"); return err }},
		{name: "List", call: func() error { _, _, err := in.List(bg, store.ListFilter{}); return err }},
		{name: "Stats", call: func() error { _, err := in.Stats(bg); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, store.ErrClosed) {
				t.Fatalf("%s after Close = %v, want store.ErrClosed", tc.name, err)
			}
		})
	}
	if err := in.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestLowDisk(t *testing.T) {
	in := openTest(t, "", Options{})
	tests := []struct {
		name    string
		min     int64
		wantErr error
	}{
		{name: "more than any disk has", min: 1 << 62, wantErr: store.ErrLowDisk},
		{name: "check disabled", min: 0, wantErr: nil},
		{name: "one byte", min: 1, wantErr: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in.SetPolicy(store.Policy{MinFreeSpace: tc.min})
			_, err := in.Accept(context.Background(), testEvent(tc.name, "app"))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Accept = %v, want %v", err, tc.wantErr)
			}
		})
	}
	if in.FreeSpace() <= 0 {
		t.Errorf("FreeSpace = %d, want a positive reading", in.FreeSpace())
	}
}

func TestPolicyDefaults(t *testing.T) {
	in := openTest(t, "", Options{Policy: store.Policy{Retention: time.Hour}})
	got := in.Policy()
	if got.DedupWindow != store.DefaultDedupWindow || got.Retention != time.Hour {
		t.Fatalf("policy %+v, want default dedup window and 1h retention", got)
	}
}

func TestRecoverPanicLogsStack(t *testing.T) {
	core, logs := observer.New(zapcore.ErrorLevel)
	in := openTest(t, "", Options{Logger: zap.New(core)})
	func() {
		defer in.recoverPanic("test worker")
		panic("boom")
	}()
	entries := logs.All()
	if len(entries) != 1 {
		t.Fatalf("%d log entries, want 1", len(entries))
	}
	fields := entries[0].ContextMap()
	if stack, _ := fields["stack"].(string); !strings.Contains(stack, "TestRecoverPanicLogsStack") {
		t.Errorf("logged stack %q does not show the panicking caller", stack)
	}
}

func TestValueLogGC(t *testing.T) {
	// Values above a tiny threshold go to the value log, so GC has files to
	// look at; it must run and return without error or panic.
	in := openTest(t, "", Options{ValueThreshold: 64, ValueLogFileSize: 1 << 20})
	for i := range 50 {
		mustAccept(t, in, testEvent(strings.Repeat("x", i+1), "app"))
	}
	in.collectGarbage()
}
