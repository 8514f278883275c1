package storetest

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	c := NewClock(time.Time{})
	if !c.Now().Equal(Epoch) {
		t.Fatalf("Now = %s, want Epoch", c.Now())
	}
	fired := func(tm interface{ C() <-chan time.Time }) bool {
		select {
		case <-tm.C():
			return true
		default:
			return false
		}
	}

	now := c.NewTimer(0)
	if !fired(now) {
		t.Error("a timer of 0 did not fire at once")
	}
	soon, late, stopped := c.NewTimer(time.Second), c.NewTimer(time.Minute), c.NewTimer(time.Second)
	if n := c.Timers(); n != 3 {
		t.Fatalf("Timers = %d, want 3", n)
	}
	if next, ok := c.Next(); !ok || !next.Equal(Epoch.Add(time.Second)) {
		t.Errorf("Next = %s, %v; want Epoch+1s", next, ok)
	}
	if !stopped.Stop() || stopped.Stop() {
		t.Error("Stop of a waiting timer = false, or of a stopped one = true")
	}

	c.Advance(999 * time.Millisecond)
	if fired(soon) || fired(late) {
		t.Fatal("a timer fired early")
	}
	if got := c.Advance(time.Millisecond); !got.Equal(Epoch.Add(time.Second)) {
		t.Fatalf("Advance = %s, want Epoch+1s", got)
	}
	if !fired(soon) || fired(late) || fired(stopped) {
		t.Fatal("after 1s: want only the 1s timer fired")
	}
	if soon.Stop() {
		t.Error("Stop of a fired timer = true")
	}
	c.Set(Epoch.Add(time.Hour))
	if !fired(late) || c.Timers() != 0 {
		t.Fatalf("after Set past every timer: late not fired, or %d still waiting", c.Timers())
	}
	if _, ok := c.Next(); ok {
		t.Error("Next reports a timer when none waits")
	}
}
