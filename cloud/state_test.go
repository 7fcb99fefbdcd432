package cloud

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/edgevault/edgevault/batch"
)

// sendChanges seals edge change records into batch seq of edge e1.
func sendChanges(t *testing.T, e *env, seq uint64, kind string, changes ...string) {
	t.Helper()
	k := keysOf(1)
	recs := make([][]byte, len(changes))
	for i, c := range changes {
		recs[i] = []byte(c)
	}
	body, err := batch.Seal(batch.Batch{Header: batch.Header{EdgeID: "e1", Seq: seq, Kind: kind}, Records: recs}, k)
	if err != nil {
		t.Fatal(err)
	}
	if rec := e.do(signed(t, "e1", seq, k, body, e.now)); rec.Code != 200 {
		t.Fatalf("send %d = %d %s", seq, rec.Code, rec.Body)
	}
}

func getState(t *testing.T, e *env, query string) (items []StateEntry, next any) {
	t.Helper()
	code, body := e.get("/api/v1/edges/e1/state?" + query)
	if code != 200 {
		t.Fatalf("state %s = %d %s", query, code, body)
	}
	var page struct {
		Items []StateEntry `json:"items"`
		Next  any          `json:"next"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	return page.Items, page.Next
}

func TestStateKeepsLatestChange(t *testing.T) { testState(t, nil) }

func testState(t *testing.T, mod func(*Config)) {
	e := newEnv(t, mod)
	put := func(key, val string) string { return fmt.Sprintf(`{"op":"put","key":%q,"value":%s}`, key, val) }
	sendChanges(t, e, 3, batch.KindRegistry,
		put("registry/dev/a", `{"id":"a","type":"plug"}`),
		put("registry/dev/b", `{"id":"b"}`),
		put("registry/dev/a", `{"id":"a","type":"meter"}`)) // later in the same batch wins
	sendChanges(t, e, 2, batch.KindRegistry, put("registry/dev/a", `{"id":"a","type":"old"}`)) // older batch: ignored
	sendChanges(t, e, 4, batch.KindRegistry, `{"op":"delete","key":"registry/dev/b"}`,
		fmt.Sprintf(`{"op":"put","key":"rules/x","value_b64":%q}`, "AAEC"), `{"not":"a change"}`)
	sendChanges(t, e, 1, batch.KindRegistry, put("registry/dev/b", `{"id":"b","type":"zombie"}`)) // must not come back

	items, next := getState(t, e, "kind=registry")
	if next != nil || len(items) != 2 {
		t.Fatalf("state = %+v next %v, want registry/dev/a and rules/x", items, next)
	}
	if items[0].Key != "registry/dev/a" || string(items[0].Value) != `{"id":"a","type":"meter"}` || items[0].Seq != 3 {
		t.Errorf("a = %+v", items[0])
	}
	if items[1].Key != "rules/x" || string(items[1].ValueB64) != "\x00\x01\x02" {
		t.Errorf("rules/x = %+v", items[1])
	}
	if page, next := getState(t, e, "kind=registry&limit=1"); len(page) != 1 || next != "registry/dev/a" {
		t.Errorf("first page %+v next %v", page, next)
	}
	if page, _ := getState(t, e, "kind=registry&after=registry/dev/a"); len(page) != 1 || page[0].Key != "rules/x" {
		t.Errorf("second page %+v", page)
	}
	if page, _ := getState(t, e, "kind=registry&prefix=rules/"); len(page) != 1 {
		t.Errorf("prefix page %+v", page)
	}
	// A record that is not an edge change still goes to the record log.
	code, body := e.get("/api/v1/edges/e1/records?kind=registry")
	if code != 200 || string(body) == "[]\n" {
		t.Errorf("records = %d %s, want the non-change record", code, body)
	}
	if code, _ := e.get("/api/v1/edges/e1/state?kind=telemetry"); code != 400 {
		t.Errorf("telemetry state = %d, want 400", code)
	}
}
