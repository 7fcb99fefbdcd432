package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/edgevault/edgevault/internal/pgtest"
)

// TestEdgeToPostgresClouds: two cloud processes serve one PostgreSQL; the
// edge knows both URLs. The first cloud is killed mid-stream, the edge fails
// over to the second, and every reading is in PostgreSQL once, queryable
// through either process.
func TestEdgeToPostgresClouds(t *testing.T) {
	url := pgtest.URL(t)
	c1 := startCloud(t, t.TempDir(), "--postgres", url)
	c2 := startCloud(t, t.TempDir(), "--postgres", url)
	conf := edgeConfigURLs(t, []string{"http://" + c1.addr, "http://" + c2.addr})
	edge := startEdge(t, t.TempDir(), "--config", conf)

	c := edge.client(t, "pg-pub")
	send := func(from, n int) {
		for i := from; i < from+n; i++ {
			publish(t, c, "devices/boiler/telemetry", 1,
				[]byte(fmt.Sprintf(`{"ts": %d, "flow": %d.5, "on": %t}`, 1_790_000_000_000+int64(i)*1000, i%50, i%3 == 0)))
		}
	}
	send(0, 200)
	eventually(t, 30*time.Second, "first readings in PostgreSQL", func() bool { return edge.drained(t) })
	c1.kill()
	send(200, 200)
	eventually(t, 30*time.Second, "failover to the second cloud", func() bool { return edge.drained(t) })

	for _, cl := range []*cloudProc{c2} {
		for _, m := range []string{"flow", "on"} {
			got := cloudQuery(t, cl.addr, "boiler", m)
			want := edge.query(t, "boiler", m)
			if len(want) != 400 || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("boiler/%s: cloud has %d points, edge %d (want 400), or they differ", m, len(got), len(want))
			}
		}
	}
}
