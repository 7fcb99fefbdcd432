package ingest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgevault/edgevault/codec"
	"github.com/edgevault/edgevault/deadletter"
	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store"
)

// fakeStore stores in memory, rejects string values and fails when told.
type fakeStore struct {
	mu     sync.Mutex // guards the fields below
	stored []point.Reading
	fail   error
}

func (s *fakeStore) AppendAsync(rs []point.Reading) store.Pending {
	return store.Completed(s.append(rs))
}

func (s *fakeStore) append(rs []point.Reading) (store.AppendResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return store.AppendResult{}, s.fail
	}
	var res store.AppendResult
	for i, r := range rs {
		if r.Value.Kind() == point.KindString {
			res.Rejected = append(res.Rejected, store.Rejection{Index: i, Err: errors.New("kind conflict on " + r.Metric)})
			continue
		}
		s.stored = append(s.stored, r)
		res.Stored++
	}
	return res, nil
}

type fakeDead struct {
	letters []deadletter.Letter
	fail    error
}

func (d *fakeDead) Add(l deadletter.Letter) error {
	if d.fail != nil {
		return d.fail
	}
	d.letters = append(d.letters, l)
	return nil
}

type fakeRegistry struct {
	observed []point.Reading
	status   map[string]bool
}

func (r *fakeRegistry) Observe(_ string, rs []point.Reading, _ string) {
	r.observed = append(r.observed, rs...)
}

func (r *fakeRegistry) SetStatus(device string, online bool, _ time.Time) { r.status[device] = online }

type fixture struct {
	p    *Pipeline
	db   *fakeStore
	dead *fakeDead
	reg  *fakeRegistry
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	set, err := codec.NewSet(codec.Presets())
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{db: &fakeStore{}, dead: &fakeDead{}, reg: &fakeRegistry{status: map[string]bool{}}}
	now := func() time.Time { return time.UnixMilli(1_700_000_000_000) }
	f.p = New(set, f.db, f.dead, f.reg, Options{Line: codec.DefaultLineOptions(), Now: now})
	return f
}

func TestHandle(t *testing.T) {
	tests := []struct {
		name                 string
		topic, payload       string
		storeErr, deadErr    error
		wantErr              bool
		wantStored, wantDead int
		wantObserved         int
		wantStatus           map[string]bool
	}{
		{name: "decoded readings are stored and observed", topic: "devices/d1/telemetry",
			payload: `{"t":1,"h":2}`, wantStored: 2, wantObserved: 2},
		{name: "undecodable payload is a dead letter, not an error", topic: "devices/d1/telemetry",
			payload: `{"t":`, wantDead: 1},
		{name: "topic without a contract is routed, not stored", topic: "home/lights/set",
			payload: `on`},
		{name: "store failure is returned so the publish is not acknowledged", topic: "devices/d1/telemetry",
			payload: `{"t":1}`, storeErr: errors.New("disk full"), wantErr: true},
		{name: "dead letter that cannot be kept is returned", topic: "devices/d1/telemetry",
			payload: `nope`, deadErr: errors.New("disk full"), wantErr: true},
		{name: "rejected readings become a dead letter, the rest is stored", topic: "devices/d1/telemetry",
			payload: `{"t":1,"mode":"eco"}`, wantStored: 1, wantDead: 1, wantObserved: 1},
		{name: "status payload sets presence", topic: "tele/plug/LWT", payload: `Offline`,
			wantStatus: map[string]bool{"plug": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.db.fail, f.dead.fail = tt.storeErr, tt.deadErr
			err := f.p.Handle(Message{ClientID: "c1", Topic: tt.topic, Payload: []byte(tt.payload)})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Handle error = %v, want error %v", err, tt.wantErr)
			}
			if len(f.db.stored) != tt.wantStored || len(f.dead.letters) != tt.wantDead || len(f.reg.observed) != tt.wantObserved {
				t.Fatalf("stored %d dead %d observed %d, want %d %d %d",
					len(f.db.stored), len(f.dead.letters), len(f.reg.observed), tt.wantStored, tt.wantDead, tt.wantObserved)
			}
			for _, l := range f.dead.letters {
				if l.Topic != tt.topic || l.Reason == "" || string(l.Payload) != tt.payload {
					t.Fatalf("dead letter %+v lacks topic, reason or payload", l)
				}
			}
			for dev, online := range tt.wantStatus {
				if got, ok := f.reg.status[dev]; !ok || got != online {
					t.Fatalf("status of %s = %v (set %v), want %v", dev, got, ok, online)
				}
			}
		})
	}
}

func TestWriteLines(t *testing.T) {
	f := newFixture(t)
	body := "env,device=a t=1 1700000000000\nnot line protocol\nenv,device=b t=2 1700000000000\n"
	n, err := f.p.WriteLines(context.Background(), []byte(body), "ms")
	var pe *PartialWriteError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *PartialWriteError", err)
	}
	if n != 2 || pe.Written != 2 || len(pe.Errors) != 1 || !strings.Contains(pe.Errors[0], "line 2") {
		t.Fatalf("written %d, %+v: want 2 written and line 2 reported", n, pe)
	}
	if len(f.db.stored) != 2 || len(f.dead.letters) != 1 {
		t.Fatalf("stored %d, dead letters %d; want 2 and 1", len(f.db.stored), len(f.dead.letters))
	}
	if n, err := f.p.WriteLines(context.Background(), []byte("env,device=c t=3\n"), "ns"); err != nil || n != 1 {
		t.Fatalf("clean body: %d, %v", n, err)
	}
	f.db.fail = errors.New("disk full")
	if _, err := f.p.WriteLines(context.Background(), []byte("env,device=c t=3\n"), "ns"); err == nil || errors.As(err, &pe) {
		t.Fatalf("store failure: err = %v, want a plain error", err)
	}
}

// TestRulesSeeReadingsWhenQueued: the rules get a message's readings when
// they are queued for the group commit, before the wait for durability;
// the registry only once wait has returned.
func TestRulesSeeReadingsWhenQueued(t *testing.T) {
	f := newFixture(t)
	var seen []point.Reading
	f.p.onQueued = func(rs []point.Reading, _ time.Time) { seen = append(seen, rs...) }
	wait, err := f.p.HandleAsync(Message{ClientID: "c1", Topic: "devices/d1/telemetry", Payload: []byte(`{"t":1,"h":2}`)})
	if err != nil || wait == nil {
		t.Fatalf("HandleAsync: wait %v, err %v", wait != nil, err)
	}
	if len(seen) != 2 || len(f.reg.observed) != 0 {
		t.Fatalf("before wait: rules saw %d, registry %d; want 2 and 0", len(seen), len(f.reg.observed))
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || len(f.reg.observed) != 2 {
		t.Fatalf("after wait: rules saw %d, registry %d; want 2 and 2", len(seen), len(f.reg.observed))
	}
	// A commit that fails was seen by the rules all the same: the client
	// is not acknowledged and resends.
	f.db.fail = errors.New("disk full")
	if err := f.p.Handle(Message{ClientID: "c1", Topic: "devices/d1/telemetry", Payload: []byte(`{"t":3}`)}); err == nil {
		t.Fatal("failed commit: no error")
	}
	if len(seen) != 3 || len(f.reg.observed) != 2 {
		t.Fatalf("failed commit: rules saw %d, registry %d; want 3 and 2", len(seen), len(f.reg.observed))
	}
	if _, err := f.p.WriteLines(context.Background(), []byte("env,device=c t=3\n"), "ns"); err == nil {
		t.Fatal("failed /write: no error")
	}
	if len(seen) != 4 {
		t.Fatalf("/write: rules saw %d, want 4", len(seen))
	}
}
