package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCommand(t *testing.T) {
	b := startBroker(t, nil)
	record := filepath.Join(t.TempDir(), "sent.txt")
	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"help", []string{"-h"}, 0, "", "usage: edgevault sim"},
		{"unknown flag", []string{"--nope"}, 2, "", "flag provided but not defined"},
		{"bad format", []string{"--format", "xml", "--count", "1"}, 2, "", "unknown format"},
		{"bad qos", []string{"--qos", "3", "--count", "1"}, 2, "", "--qos must be"},
		{"no end", []string{"--broker", b.addr}, 2, "", "need a duration or a count"},
		{"text summary", []string{"--broker", b.addr, "--count", "3", "--rate", "0"}, 0, "acked       3 msgs (15 points)", ""},
		{"json summary", []string{"--broker", b.addr, "--devices", "2", "--count", "2", "--rate", "0", "--json",
			"--format", "line", "--start", "1000", "--record", record}, 0, `"points_acked": 8`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Command(tt.args, &stdout, &stderr); code != tt.code {
				t.Fatalf("code = %d, want %d\nstderr: %s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.inStdout) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tt.inStdout)
			}
			if !strings.Contains(stderr.String(), tt.inStderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.inStderr)
			}
			if slices.Contains(tt.args, "--json") {
				var r Report
				if err := json.Unmarshal(stdout.Bytes(), &r); err != nil || r.Acked != 4 {
					t.Errorf("json report %+v, err %v", r, err)
				}
			}
		})
	}
	got, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sim-0000 1000 ack", "sim-0000 2000 ack", "sim-0001 1000 ack", "sim-0001 2000 ack"} {
		if !strings.Contains(string(got), want+"\n") {
			t.Errorf("record %q lacks %q", got, want)
		}
	}
}

// TestConnectConcurrencyFlag: a fleet connects 64 at a time unless told
// otherwise, so one larger than the node's limit on connections not yet
// through CONNECT (256) is not refused in part.
func TestConnectConcurrencyFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"--count", "1"}, 64},
		{[]string{"--count", "1", "--connect-concurrency", "0"}, 0},
		{[]string{"--count", "1", "--connect-concurrency", "300"}, 300},
	} {
		o, _, _, err := parseFlags(c.args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if o.ConnectConcurrency != c.want {
			t.Errorf("%v: ConnectConcurrency %d, want %d", c.args, o.ConnectConcurrency, c.want)
		}
	}
}
