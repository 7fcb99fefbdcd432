package codec

import "testing"

// checkDecoded asserts what every successful decode promises: storable
// readings and named devices.
func checkDecoded(t *testing.T, d Decoded) {
	for _, r := range d.Readings {
		if err := r.Validate(); err != nil {
			t.Fatalf("decoded an invalid reading %+v: %v", r, err)
		}
	}
	for _, s := range d.Status {
		if s.Device == "" {
			t.Fatal("status without a device")
		}
	}
}

func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"temperature":21.5,"humidity":40}`, `[{"metric":"t","value":1,"ts":1700000000}]`,
		`{"a":{"b":[1,true,"x",null]},"time":"2024-05-01T10:15:02Z"}`, `{"ts":1e300,"v":1}`, `"x"`, `{"":1}`,
		`{"meta":{"id":"w","t":1},"sensors":{"env":{"temp":1}}}`, `{"a":`} {
		f.Add([]byte(s))
	}
	set, err := NewSet(append(loadContracts(f, "contracts.yaml"), Presets()...))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, topic := range []string{"devices/d/telemetry", "site/s/weather", "zigbee2mqtt/z", "tele/t/SENSOR"} {
			d, err := set.Decode(Message{Topic: topic, Payload: b, Received: 1})
			if err == nil {
				checkDecoded(t, d)
			}
		}
	})
}

func FuzzLineProtocol(f *testing.F) {
	for _, s := range []string{"cpu,device=d1,host=h usage=0.5,idle=99.5 1700000000000000000",
		`m,device=d s="a \"b\"",i=1i,u=2u,b=t`, "# c\n\nm v=1\r\n", `a\ b,device=x\,y c\=d=1 5`,
		"m,device=d v=1 99999999999999999999", "m,device=d,x=1,x=2 v=1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, prec := range []string{"ns", "s", "h"} {
			rs, bad, err := ParseLineProtocol(b, prec, LineOptions{DefaultDevice: "dflt"}, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if err := r.Validate(); err != nil {
					t.Fatalf("invalid reading %+v: %v", r, err)
				}
			}
			for _, e := range bad {
				if e.Err == nil {
					t.Fatal("line error without a reason")
				}
			}
		}
	})
}

func FuzzBinary(f *testing.F) {
	f.Add(simPayload(2150, 4525, 87, 1, 612))
	f.Add([]byte{})
	f.Add(make([]byte, 24))
	cs := loadContracts(f, "contracts.yaml")
	cs = append(cs, Contract{Name: "wide", Topic: "w/{device}", Format: "binary", Binary: &BinarySpec{
		Endian: "little", Fields: []BinaryField{{Metric: "a", Type: "f64", Offset: 3}, {Metric: "b", Type: "bits", Offset: 1, Bit: 5, Bits: 40},
			{Metric: "c", Type: "u64", Offset: 9}}, Timestamp: &BinaryTime{Offset: 2, Type: "i64", Unit: "ns"}}})
	set, err := NewSet(cs)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, topic := range []string{"sim/s/bin", "w/x"} {
			if d, err := set.Decode(Message{Topic: topic, Payload: b}); err == nil {
				checkDecoded(t, d)
			}
		}
	})
}

func FuzzDecodeAnyTopic(f *testing.F) {
	f.Add("zigbee2mqtt/a/availability", []byte(`{"state":"online"}`))
	f.Add("tele/x/STATE", []byte(`{"POWER":"ON","Wifi":{"RSSI":70}}`))
	f.Add("telegraf/h/cpu", []byte("cpu usage=1"))
	f.Add("devices/d/status", []byte("offline"))
	f.Add("sim/s/bin", simPayload(1, 2, 3, 4, 5))
	f.Add("$SYS/x", []byte("1"))
	f.Add("site/\xff/weather", []byte(`{"meta":{"id":"w"},"v":1}`))
	set, err := NewSet(append(loadContracts(f, "contracts.yaml"), Presets()...))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, topic string, b []byte) {
		d, err := set.Decode(Message{Topic: topic, Payload: b})
		if err == nil {
			checkDecoded(t, d)
		}
	})
}
