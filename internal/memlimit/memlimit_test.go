package memlimit

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct{ floor, live, want int64 }{
		{100 * mib, 10 * mib, 100 * mib},
		{100 * mib, 50 * mib, 100 * mib},  // up to half: the floor
		{100 * mib, 60 * mib, 120 * mib},  // past it: 2 x live
		{100 * mib, 200 * mib, 400 * mib}, // a big site
	} {
		if got := Limit(tc.floor, tc.live); got != tc.want {
			t.Errorf("Limit(%d MiB, %d MiB) = %d MiB, want %d MiB", tc.floor/mib, tc.live/mib, got/mib, tc.want/mib)
		}
	}
}

// TestKeepRaises checks on the real runtime that a live heap past the floor
// raises the limit, and that it comes back down once the heap is freed.
func TestKeepRaises(t *testing.T) {
	t.Setenv("GOGC", "100") // keep the test binary's collector as it is
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	const floor = 16 << 20
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Keep(ctx, floor, 5*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
		close(done)
	}()
	defer func() { cancel(); <-done }()

	ballast := make([][]byte, 64)
	for i := range ballast {
		ballast[i] = make([]byte, 1<<20) // 64 MiB live
	}
	runtime.GC()
	waitLimit(t, func(l int64) bool { return l >= 64<<20 }, "raised past the 64 MiB live heap")
	runtime.KeepAlive(ballast)
	ballast = nil
	runtime.GC()
	waitLimit(t, func(l int64) bool { return l == floor }, "back at the floor")
}

func waitLimit(t *testing.T, ok func(int64) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l := debug.SetMemoryLimit(-1)
		if ok(l) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("limit %d MiB, want %s", l>>20, what)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKeepPacesByLimit checks that Keep turns GOGC's trigger off when the
// environment does not set it, and leaves it alone when it does.
func TestKeepPacesByLimit(t *testing.T) {
	oldLimit := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(oldLimit)
	for _, tc := range []struct {
		env  string
		want int
	}{{"", -1}, {"150", 150}} {
		t.Setenv("GOGC", tc.env)
		old := debug.SetGCPercent(150)
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // Keep sets up, then returns at once
		Keep(ctx, 64<<20, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
		got := debug.SetGCPercent(old)
		if got != tc.want {
			t.Errorf("GOGC=%q: GC percent %d after Keep, want %d", tc.env, got, tc.want)
		}
	}
}
