package broker

import (
	"net"
	"testing"
	"time"
)

// TestGuardedConnCoalescesWrites: writes made while the connection's
// goroutine processes what it read are held and leave together when it
// reads again; a write while it waits for input leaves at once.
func TestGuardedConnCoalescesWrites(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	c := &guardedConn{Conn: server, waiting: true}
	defer c.Close()

	got := make(chan []byte, 8)
	go func() {
		buf := make([]byte, 64)
		for {
			n, err := client.Read(buf)
			if err != nil {
				close(got)
				return
			}
			got <- append([]byte(nil), buf[:n]...)
		}
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case b := <-got:
			if string(b) != want {
				t.Fatalf("client read %q, want %q", b, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("client read nothing, want %q", want)
		}
	}

	// Waiting for input: a write goes straight out.
	if _, err := c.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	expect("a")

	// The goroutine read a packet and is processing: writes are held.
	go client.Write([]byte("x"))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("b"))
	c.Write([]byte("c"))
	select {
	case b := <-got:
		t.Fatalf("held write %q left before the next read", b)
	case <-time.After(50 * time.Millisecond):
	}
	// Reading again flushes both in one write.
	go client.Write([]byte("y"))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	expect("bc")

	// Close sends what is held.
	c.Write([]byte("bye"))
	go c.Close()
	expect("bye")
	if _, ok := <-got; ok {
		t.Fatal("connection not closed")
	}
}
