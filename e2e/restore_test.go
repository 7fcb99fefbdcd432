package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestRestoreFromCloud: an edge node syncs to the cloud; a replacement
// node built from the cloud alone answers the same queries and has the same
// devices, rules, alerts and declared configuration.
func TestRestoreFromCloud(t *testing.T) {
	cl := startCloud(t, t.TempDir())
	conf := edgeConfig(t, "http://"+cl.addr, `rules:
  - {id: cold, kind: alert, match: {metric: temperature}, threshold: {op: "<", value: 5}, severity: warning}
`)
	data := t.TempDir()
	a := startEdge(t, data, "--config", conf)
	if code := a.send(t, "POST", "/api/v1/rules",
		`{"id":"hot","kind":"alert","match":{"metric":"temperature"},"threshold":{"op":">","value":30},"severity":"critical"}`, nil); code != http.StatusCreated {
		t.Fatalf("create rule: %d", code)
	}
	c := a.client(t, "restore-pub")
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	for i := range 300 {
		for _, dev := range []string{"kitchen", "attic"} {
			temp := 20 + float64(i%7)/4
			if i == 150 {
				temp = 35 // fires "hot"
			}
			publish(t, c, "devices/"+dev+"/telemetry", 1,
				[]byte(fmt.Sprintf(`{"ts":%d,"temperature":%g,"door":%t,"count":%d}`, t0+int64(i)*1000, temp, i%2 == 0, i)))
		}
	}
	if code := a.send(t, "PATCH", "/api/v1/devices/kitchen", `{"name":"Kitchen","type":"thermometer","meta":{"floor":"1"}}`, nil); code != http.StatusOK {
		t.Fatalf("patch device: %d", code)
	}
	// A clean stop writes the registry; the restart sends what it queued.
	a.stop()
	a = startEdge(t, data, "--config", conf)
	eventually(t, 30*time.Second, "edge drained to the cloud", func() bool { return a.drained(t) })

	checkFleet(t, cl.addr)

	target := filepath.Join(t.TempDir(), "replacement")
	out, err := exec.Command(edgeBinary, "restore", "--from-cloud", "http://"+cl.addr, "--edge", testEdgeID,
		"--token", testAdminToken, "--data", target).CombinedOutput()
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	t.Logf("restore: %s", out)
	if _, err := os.Stat(filepath.Join(target, "restored.yaml")); err != nil {
		t.Fatalf("no restored.yaml: %v", err)
	}
	b := startEdge(t, target, "--config", filepath.Join(target, "restored.yaml"))

	for _, dev := range []string{"kitchen", "attic"} {
		for _, m := range []string{"temperature", "door", "count"} {
			want, got := a.query(t, dev, m), b.query(t, dev, m)
			if len(want) != 300 || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s/%s: replacement has %d points, original %d (want 300), or they differ", dev, m, len(got), len(want))
			}
		}
	}
	var devA, devB map[string]any
	a.get(t, "/api/v1/devices/kitchen", &devA)
	b.get(t, "/api/v1/devices/kitchen", &devB)
	for _, k := range []string{"name", "type", "meta"} {
		if fmt.Sprint(devA[k]) != fmt.Sprint(devB[k]) {
			t.Errorf("device kitchen %s: replacement %v, original %v", k, devB[k], devA[k])
		}
	}
	if ids := ruleIDs(t, b); !slices.Contains(ids, "hot") || !slices.Contains(ids, "cold") {
		t.Errorf("replacement rules %v, want hot (REST) and cold (config)", ids)
	}
	var alA, alB struct {
		Items []json.RawMessage `json:"items"`
	}
	a.get(t, "/api/v1/alerts", &alA)
	b.get(t, "/api/v1/alerts", &alB)
	if len(alA.Items) == 0 || len(alB.Items) != len(alA.Items) {
		t.Errorf("alerts: replacement %d, original %d", len(alB.Items), len(alA.Items))
	}
}

func ruleIDs(t *testing.T, n *node) []string {
	t.Helper()
	var rs struct {
		Items []struct {
			Rule struct {
				ID string `json:"id"`
			} `json:"rule"`
		} `json:"items"`
	}
	n.get(t, "/api/v1/rules", &rs)
	var ids []string
	for _, r := range rs.Items {
		ids = append(ids, r.Rule.ID)
	}
	return ids
}

// checkFleet reads the synced registry and alert history back through the
// cloud's fleet routes: devices by type, alerts across edges, and stats of
// one device type.
func checkFleet(t *testing.T, addr string) {
	t.Helper()
	cn := &node{t: t, http: addr, token: testAdminToken}
	var devs struct {
		Items []struct {
			Edge, ID, Name, Type string
		} `json:"items"`
	}
	if code := cn.get(t, "/api/v1/devices?type=thermometer", &devs); code != http.StatusOK ||
		len(devs.Items) != 1 || devs.Items[0].ID != "kitchen" || devs.Items[0].Edge != testEdgeID || devs.Items[0].Name != "Kitchen" {
		t.Fatalf("cloud devices of type thermometer: %d %+v", code, devs.Items)
	}
	var all struct{ Count int }
	if cn.get(t, "/api/v1/devices", &all); all.Count != 2 {
		t.Fatalf("cloud devices: %d, want kitchen and attic", all.Count)
	}
	var als struct {
		Items []struct {
			Edge, Rule, Device, State string
		} `json:"items"`
	}
	if code := cn.get(t, "/api/v1/alerts?rule=hot", &als); code != http.StatusOK || len(als.Items) != 2 {
		t.Fatalf("cloud alerts of rule hot: %d %+v, want one per device", code, als.Items)
	}
	for _, a := range als.Items {
		if a.Edge != testEdgeID || a.State == "" {
			t.Fatalf("cloud alert %+v", a)
		}
	}
	var st struct {
		Edges []struct {
			Edge   string `json:"edge"`
			Series int    `json:"series"`
		} `json:"edges"`
	}
	if code := cn.get(t, "/api/v1/stats?metric=temperature&from=0&type=thermometer", &st); code != http.StatusOK ||
		len(st.Edges) != 1 || st.Edges[0].Series != 1 {
		t.Fatalf("stats of thermometers: %d %+v, want kitchen's one series", code, st.Edges)
	}
}
