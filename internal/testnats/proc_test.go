package testnats

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestProcsKill9 kills a node of a process cluster with SIGKILL while an
// R3 stream takes messages, starts it again, and finds every
// acknowledged message in the stream.
func TestProcsKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds nats-server and runs three processes: not with -short")
	}
	ps := StartProcs(t, 3)
	nc, err := nats.Connect(ps.URLs()[1]+","+ps.URLs()[2], nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "K", Subjects: []string{"k.>"}, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	acked := 0
	publish := func(n int) {
		for i := range n {
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := js.Publish(pctx, "k.x", fmt.Appendf(nil, "%d", i))
			pcancel()
			if err == nil {
				acked++
			}
		}
	}
	publish(50)
	ps.Kill(0)
	publish(50)
	ps.Restart(0)
	publish(50)
	if acked < 100 {
		t.Fatalf("only %d of 150 publishes acknowledged", acked)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if int(info.State.Msgs) < acked {
		t.Fatalf("stream holds %d messages, %d were acknowledged", info.State.Msgs, acked)
	}
	t.Logf("acknowledged %d, stream holds %d", acked, info.State.Msgs)
}
