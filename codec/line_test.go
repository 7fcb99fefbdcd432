package codec

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseLineProtocol(t *testing.T) {
	tests := []struct {
		name, body, precision string
		opts                  LineOptions
		want                  string
		bad                   []string
	}{
		{name: "basic", body: "cpu,device=d1,host=h usage=0.5,idle=99.5 1700000000000000000",
			want: "d1 usage{host=h} 1700000000000 float:0.5\nd1 idle{host=h} 1700000000000 float:99.5\n"},
		{name: "types", body: `m,device=d i=-3i,u=7u,s="a \"q\" \\ b",t=t,T=TRUE,f=False,e=1e3 1`, precision: "s",
			want: `d i 1000 int:-3
d u 1000 int:7
d s 1000 string:"a \"q\" \\ b"
d t 1000 bool:true
d T 1000 bool:true
d f 1000 bool:false
d e 1000 float:1000
`},
		{name: "escapes", body: `my\ meas,device=d\,1,loc\=x=a\ b fi\ eld\,1=1 5`, precision: "ms",
			want: "d,1 fi eld,1{loc=x=a b} 5 float:1\n"},
		{name: "comments blank crlf and no timestamp", body: "# header\n\n  \r\nm,device=d v=1\r\n# end\n",
			want: "d v 99 float:1\n"},
		{name: "string with spaces and commas", body: `m,device=d msg="hello, world x=1",v=2 7`, precision: "ms",
			want: "d msg 7 string:\"hello, world x=1\"\nd v 7 float:2\n"},
		{name: "precisions us", body: "m,device=d v=1 1700000000000000", precision: "us", want: "d v 1700000000000 float:1\n"},
		{name: "precisions m", body: "m,device=d v=1 2", precision: "m", want: "d v 120000 float:1\n"},
		{name: "precisions h", body: "m,device=d v=1 1", precision: "h", want: "d v 3600000 float:1\n"},
		{name: "tags sorted", body: "m,z=1,device=d,a=2 v=1 0",
			want: "d v{a=2,z=1} 0 float:1\n"},
		{name: "measurement prefix", body: "cpu,device=d usage=1 0", opts: LineOptions{MetricFormat: "measurement_field"},
			want: "d cpu_usage 0 float:1\n"},
		{name: "measurement dot", body: "cpu,device=d usage=1 0", opts: LineOptions{MetricFormat: "measurement.field"},
			want: "d cpu.usage 0 float:1\n"},
		{name: "custom device tag and default", body: "cpu,host=h1 a=1 0\nmem b=2 0", opts: LineOptions{DeviceTag: "host", DefaultDevice: "edge"},
			want: "h1 a 0 float:1\nedge b 0 float:2\n"},
		{name: "bad lines kept apart", body: "m,device=d v=1 0\nm,device=d v=abc 0\nm v=1 0\nm,device=d v=2 0\nm,device=d\nm,device=d v=1 12x\nm,device=d v=1,w 0",
			want: "d v 0 float:1\nd v 0 float:2\n",
			bad: []string{`line 2: field "v": bad value "abc"`, `line 3: no "device" tag names the device`,
				`line 5: no fields after "m,device=d"`, `line 6: bad timestamp "12x"`, `line 7: field "w 0": missing key or '='`}},
		{name: "bad values", body: "m,device=d a=1u8 0\nm,device=d a=18446744073709551615u 0\nm,device=d a=\"open 0\nm,device=d a=NaN 0\nm,device=d a=1,a2=1e999 0\nm,device=d =1 0\nm,device=d,t v=1 0\nm,device=d,x=1,x=2 v=1",
			bad: []string{`line 1: field "a": bad number "1u8"`, `line 2: field "a": bad unsigned integer`,
				`line 3: field "a": unterminated string`, `line 4: field "a": bad value "NaN"`, `line 5: field "a2": bad number "1e999"`,
				`line 6: field "=1 0": missing key`, `line 7: tag "t": missing '='`, `line 8: tag "x" appears twice`}},
		{name: "timestamp overflow", body: "m,device=d v=1 9223372036854775807", precision: "s",
			bad: []string{"line 1: bad timestamp \"9223372036854775807\": out of range"}},
		{name: "negative timestamp", body: "m,device=d v=1 -1000", precision: "ms", want: "d v -1000 float:1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, bad, err := ParseLineProtocol([]byte(tt.body), tt.precision, tt.opts, 99)
			if err != nil {
				t.Fatal(err)
			}
			if got := show(rs); got != tt.want {
				t.Errorf("readings:\n%s\nwant:\n%s", got, tt.want)
			}
			if len(bad) != len(tt.bad) {
				t.Fatalf("bad lines %v, want %q", bad, tt.bad)
			}
			for i, b := range bad {
				if !strings.HasPrefix(b.Error(), tt.bad[i]) {
					t.Errorf("bad[%d] = %q, want prefix %q", i, b.Error(), tt.bad[i])
				}
			}
		})
	}
}

func TestParseLineProtocolErrors(t *testing.T) {
	if _, _, err := ParseLineProtocol([]byte("m v=1"), "fortnight", LineOptions{}, 0); err == nil {
		t.Error("bad precision accepted")
	}
	if _, _, err := ParseLineProtocol([]byte("m v=1"), "", LineOptions{MetricFormat: "x"}, 0); err == nil {
		t.Error("bad metric format accepted")
	}
	body := strings.Repeat("garbage\n", maxLineErrors+5)
	_, bad, _ := ParseLineProtocol([]byte(body), "", LineOptions{}, 0)
	if len(bad) != maxLineErrors+1 || bad[maxLineErrors].Error() != "and 5 more bad lines" {
		t.Errorf("got %d bad lines, last %v", len(bad), bad[len(bad)-1])
	}
}

func TestLineContract(t *testing.T) {
	s := presetSet(t)
	d, err := s.Decode(Message{Topic: "telegraf/h/mem", Payload: []byte("mem,device=x used=1i\nmem free=2i"), Received: 3})
	if err != nil {
		t.Fatal(err)
	}
	if want := "x used 3 int:1\nh free 3 int:2\n"; show(d.Readings) != want {
		t.Errorf("got\n%s\nwant\n%s", show(d.Readings), want)
	}
	_, err = s.Decode(Message{Topic: "telegraf/h/mem", Payload: []byte("mem a=1\nmem b=\nmem c=")})
	if err == nil || !strings.Contains(err.Error(), `contract telegraf@v1: payload: 2 bad lines, first line 2: field "b": missing value`) {
		t.Errorf("err %v", err)
	}
}

func lineBatch(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "cpu,device=d%d,host=h usage=0.%d,idle=99.5 %d\n", i%100, i%10, 1700000000000000000+int64(i)*1e9)
	}
	return []byte(b.String())
}

// BenchmarkParseLineProtocol parses 5000-line batches, two fields a line.
// ns/line = ns/op / 5000.
func BenchmarkParseLineProtocol(b *testing.B) {
	body := lineBatch(5000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rs, bad, err := ParseLineProtocol(body, "ns", DefaultLineOptions(), 0)
		if err != nil || len(bad) != 0 || len(rs) != 10000 {
			b.Fatal(err, bad, len(rs))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*5000), "ns/line")
}
