package e2e

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCrashKeepsAcknowledgedReadings publishes QoS 1 from several clients,
// counts PUBACKs, kills the node with SIGKILL mid-stream, restarts it on the
// same data directory and checks every acknowledged reading is there.
func TestCrashKeepsAcknowledgedReadings(t *testing.T) {
	data := t.TempDir()
	n := startEdge(t, data)
	const publishers = 4
	base := time.Now().Add(-time.Hour).UnixMilli()

	var (
		mu    sync.Mutex // guards acked
		acked = map[string][]int64{}
		total atomic.Int64
		wg    sync.WaitGroup
	)
	for p := 0; p < publishers; p++ {
		device := fmt.Sprintf("crash-%d", p)
		c := n.client(t, device)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := int64(0); ; k++ {
				ts := base + k
				payload := fmt.Sprintf(`{"seq":%d,"ts":%d}`, k, ts)
				tok := c.Publish("devices/"+device+"/telemetry", 1, false, payload)
				if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
					return // the node is gone
				}
				mu.Lock()
				acked[device] = append(acked[device], ts)
				mu.Unlock()
				total.Add(1)
			}
		}()
	}
	eventually(t, 30*time.Second, "2000 acknowledged publishes", func() bool { return total.Load() >= 2000 })
	n.kill()
	wg.Wait()
	t.Logf("acknowledged %d readings before SIGKILL", total.Load())

	n = startEdge(t, data)
	for device, stamps := range acked {
		got := n.query(t, device, "seq")
		for i, ts := range stamps {
			v, ok := got[ts]
			if !ok {
				t.Fatalf("%s: acknowledged reading at %d (seq %d) lost after SIGKILL", device, ts, i)
			}
			if v != float64(ts-base) {
				t.Fatalf("%s at %d: value %v, want %d", device, ts, v, ts-base)
			}
		}
	}
	n.stop()
}
