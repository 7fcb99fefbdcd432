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

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		limit, live int64
		want        int
	}{
		{100 * mib, 10 * mib, 400},  // small heap: capped
		{100 * mib, 20 * mib, 150},  // 20 -> 50 MiB before the next collection
		{100 * mib, 25 * mib, 100},  // half the limit is twice the heap
		{400 * mib, 200 * mib, 100}, // a big site: limit 2 x live
		{100 * mib, 0, 400},
	} {
		if got := Percent(tc.limit, tc.live); got != tc.want {
			t.Errorf("Percent(%d MiB, %d MiB) = %d, want %d", tc.limit/mib, tc.live/mib, got, tc.want)
		}
	}
}

// TestKeepTunesGOGC checks that Keep sets GOGC from the live heap when the
// environment does not set it, and leaves it alone when it does.
func TestKeepTunesGOGC(t *testing.T) {
	oldLimit := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(oldLimit)
	oldPct := debug.SetGCPercent(100)
	defer debug.SetGCPercent(oldPct)
	const floor = 1 << 30 // the test binary's live heap is far under an eighth of it
	for _, tc := range []struct {
		env  string
		want int
	}{{"", maxPercent}, {"150", 150}} {
		t.Setenv("GOGC", tc.env)
		debug.SetGCPercent(150)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			Keep(ctx, floor, 5*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
			close(done)
		}()
		deadline := time.Now().Add(5 * time.Second)
		for {
			runtime.GC()
			got := debug.SetGCPercent(150)
			debug.SetGCPercent(got)
			if got == tc.want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("GOGC=%q: GC percent %d, want %d", tc.env, got, tc.want)
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		<-done
	}
}
