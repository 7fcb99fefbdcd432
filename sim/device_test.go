package sim

import (
	"context"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// heldToken completes only when the test closes done.
type heldToken struct{ done chan struct{} }

func (t heldToken) Wait() bool                     { <-t.done; return true }
func (t heldToken) WaitTimeout(time.Duration) bool { return true }
func (t heldToken) Done() <-chan struct{}          { return t.done }
func (t heldToken) Error() error                   { return nil }

// holdingClient is an MQTT client whose publishes complete on release.
type holdingClient struct {
	mqtt.Client            // nil: only Publish is used by device
	mu          sync.Mutex // guards tokens
	tokens      []heldToken
}

func (c *holdingClient) Publish(string, byte, bool, any) mqtt.Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	tok := heldToken{done: make(chan struct{})}
	c.tokens = append(c.tokens, tok)
	return tok
}

func (c *holdingClient) published() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.tokens)
}

func (c *holdingClient) release(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.tokens[i].done)
}

// waitPublished waits until n publishes happened, then checks no more follow.
func waitPublished(t *testing.T, c *holdingClient, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); c.published() < n && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if got := c.published(); got != n {
		t.Fatalf("%d publishes outstanding, want %d", got, n)
	}
}

func TestDeviceInflightWindow(t *testing.T) {
	opts, err := Options{Broker: "x:1", Count: 10, QoS: 1, Inflight: 3, AckTimeout: time.Minute}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	c := &holdingClient{}
	d := &device{opts: opts, id: "d", client: c, stats: &deviceStats{}}
	done := make(chan struct{})
	go func() { d.run(context.Background()); close(done) }()

	waitPublished(t, c, 3) // the window is full
	c.release(0)
	waitPublished(t, c, 4) // one ack frees one slot
	for i := 1; i < 10; i++ {
		c.release(i)
		if i < 9 {
			waitPublished(t, c, min(i+4, 10))
		}
	}
	<-done
	if d.stats.sent != 10 || d.stats.acked != 10 || len(d.stats.lat) != 10 {
		t.Fatalf("stats %+v", d.stats)
	}
}
