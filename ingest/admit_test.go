package ingest

import (
	"errors"
	"testing"
	"time"

	"github.com/edgevault/edgevault/codec"
	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/routing"
)

var errFull = errors.New("backlog full")

// TestAdmitRefuses: while Admit refuses, nothing is stored and the caller
// gets the error (the broker then withholds the PUBACK, /write answers 503).
func TestAdmitRefuses(t *testing.T) {
	set, err := codec.NewSet(codec.Presets())
	if err != nil {
		t.Fatal(err)
	}
	db, dead, reg := &fakeStore{}, &fakeDead{}, &fakeRegistry{status: map[string]bool{}}
	var full bool
	p := New(set, db, dead, reg, Options{Line: codec.DefaultLineOptions(), Admit: func() error {
		if full {
			return errFull
		}
		return nil
	}})
	msg := Message{Topic: "devices/d1/telemetry", Payload: []byte(`{"t": 1}`), Received: time.UnixMilli(1000)}
	full = true
	if err := p.Handle(msg); !errors.Is(err, errFull) {
		t.Fatalf("Handle while full = %v, want %v", err, errFull)
	}
	if _, err := p.WriteLines(t.Context(), []byte("m,device=d2 v=1 1"), "s"); !errors.Is(err, errFull) {
		t.Fatalf("WriteLines while full = %v, want %v", err, errFull)
	}
	if len(db.stored) != 0 || len(dead.letters) != 0 {
		t.Fatalf("stored %d readings and %d dead letters while refusing", len(db.stored), len(dead.letters))
	}
	full = false
	if err := p.Handle(msg); err != nil || len(db.stored) != 1 {
		t.Fatalf("after room: err %v, stored %d", err, len(db.stored))
	}
}

type highRouter struct{}

func (highRouter) Route(_ string, _ func(string) string, rs []point.Reading) routing.Decision {
	d := routing.Decision{Priority: make([]routing.Priority, len(rs))}
	for i, r := range rs {
		if r.Metric == "gas" {
			d.Priority[i] = routing.PriorityHigh
		}
	}
	return d
}

func TestMarkHigh(t *testing.T) {
	set, err := codec.NewSet(codec.Presets())
	if err != nil {
		t.Fatal(err)
	}
	var marked []string
	p := New(set, &fakeStore{}, &fakeDead{}, &fakeRegistry{status: map[string]bool{}}, Options{
		Router: highRouter{}, MarkHigh: func(r *point.Reading) { marked = append(marked, r.Device+"/"+r.Metric) }})
	if err := p.Handle(Message{Topic: "devices/d1/telemetry", Payload: []byte(`{"gas": 1, "t": 2}`)}); err != nil {
		t.Fatal(err)
	}
	if len(marked) != 1 || marked[0] != "d1/gas" {
		t.Fatalf("marked %v, want [d1/gas]", marked)
	}
}
