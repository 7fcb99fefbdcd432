package broker

import (
	"fmt"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// nopHandler accepts everything at once: the benchmark measures the broker.
type nopHandler struct{}

func (nopHandler) HandlePublish(Message) (func() error, error) { return nil, nil }
func (nopHandler) ClientConnected(string, string, string)      {}
func (nopHandler) ClientDisconnected(string, error)            {}

// BenchmarkPublishQoS1 publishes b.N QoS 1 messages spread over N paho
// clients (each keeping its publishes pipelined) and reports msgs/s.
func BenchmarkPublishQoS1(b *testing.B) {
	for _, clients := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			cfg := testConfig()
			_, addr := startBroker(b, cfg, nopHandler{})
			cs := make([]paho.Client, clients)
			for i := range cs {
				cs[i] = connect(b, pahoOpts(addr, fmt.Sprintf("bench%d", i)).SetWriteTimeout(0))
			}
			payload := []byte(`{"temp":21.5,"hum":40}`)
			b.ResetTimer()
			var wg sync.WaitGroup
			for i, c := range cs {
				n := b.N / clients
				if i < b.N%clients {
					n++
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					publishN(b, c, n, payload)
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// publishN publishes n messages keeping up to 64 unacknowledged.
func publishN(b *testing.B, c paho.Client, n int, payload []byte) {
	const window = 64
	toks := make([]paho.Token, 0, window)
	for i := 0; i < n; i++ {
		toks = append(toks, c.Publish("bench/t", 1, false, payload))
		if len(toks) == window || i == n-1 {
			for _, tok := range toks {
				if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
					b.Errorf("publish: %v", tok.Error())
					return
				}
			}
			toks = toks[:0]
		}
	}
}

// BenchmarkACLAllowed measures the per-publish ACL decision with
// substitution (it runs on every publish and every delivery).
func BenchmarkACLAllowed(b *testing.B) {
	a := newAuth(Config{
		Users: []User{{Username: "dev", PasswordHash: "x", ACL: []ACLRule{
			{Topic: "cmd/%u/#", Access: "read"},
			{Topic: "devices/%c/#", Access: "write"},
		}}},
		ACL: []ACLRule{{Topic: "public/#", Access: "read"}},
	})
	for b.Loop() {
		if !a.allowed("sensor-17", "dev", "devices/sensor-17/temp", accessWrite) {
			b.Fatal("denied")
		}
	}
}
