package uplink

import (
	"strings"
	"testing"
	"time"
)

func TestDecodeConfig(t *testing.T) {
	keys := "sign_key: " + strings.Repeat("ab", 32) + "\ndata_key: " + strings.Repeat("cd", 32) + "\n"
	tests := []struct {
		name    string
		yaml    string
		wantErr string // substring; empty means valid
		check   func(t *testing.T, c Config)
	}{
		{name: "empty is off", yaml: ""},
		{name: "full", yaml: "urls: [https://cloud.example, http://10.0.0.2:8080]\nedge_id: home-1\n" + keys +
			"batch_points: 5000\nflush_interval: 2s\ndrain_rate: 200000\ndisk_budget_bytes: 1000000\n" +
			"when_full: drop_oldest\ntimeout: 10s\n",
			check: func(t *testing.T, c Config) {
				if len(c.URLs) != 2 || c.BatchPoints != 5000 || c.FlushInterval != 2*time.Second ||
					c.WhenFull != WhenFullDropOldest || c.BatchBytes != 1<<20 {
					t.Errorf("decoded %+v", c)
				}
			}},
		{name: "unknown key", yaml: "urls: [http://a]\nbogus: 1\n", wantErr: "bogus"},
		{name: "bad url", yaml: "urls: [ftp://a]\nedge_id: e\n" + keys, wantErr: "uplink.urls"},
		{name: "no edge id", yaml: "urls: [http://a]\n" + keys, wantErr: "uplink.edge_id"},
		{name: "short sign key", yaml: "urls: [http://a]\nedge_id: e\nsign_key: abcd\ndata_key: " +
			strings.Repeat("cd", 32) + "\n", wantErr: "uplink.sign_key"},
		{name: "bad data key", yaml: "urls: [http://a]\nedge_id: e\nsign_key: " + strings.Repeat("ab", 32) +
			"\ndata_key: zz\n", wantErr: "uplink.data_key"},
		{name: "bad policy", yaml: "urls: [http://a]\nedge_id: e\n" + keys + "when_full: panic\n",
			wantErr: "uplink.when_full"},
		{name: "negative budget", yaml: "urls: [http://a]\nedge_id: e\n" + keys + "disk_budget_bytes: -1\n",
			wantErr: "uplink.disk_budget_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := DecodeConfig(strings.NewReader(tt.yaml))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one naming %q", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}
