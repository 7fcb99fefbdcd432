package routing_test

import (
	"fmt"

	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/routing"
)

func ExampleRouter_Route() {
	rules, err := routing.ParseYAML([]byte(`
rules:
  - name: zigbee-linkquality
    match: {topic: "zigbee2mqtt/#", metric: linkquality}
    action: drop
  - name: smoke-alarm
    match: {metric: "*alarm"}
    action: forward
    forward: {topic: "site/alarms/{device}"}
    uplink_priority: high
`))
	if err != nil {
		panic(err)
	}
	r, err := routing.Compile(rules)
	if err != nil {
		panic(err)
	}
	rs := []point.Reading{
		{Device: "hall", Metric: "linkquality", Value: point.Int(87)},
		{Device: "hall", Metric: "smoke_alarm", Value: point.Bool(true)},
	}
	d := r.Route("zigbee2mqtt/hall", nil, rs)
	for i, rd := range rs {
		fmt.Println(rd.Metric, "stored:", d.Stored(i), "priority:", d.PriorityOf(i))
	}
	for _, f := range d.Forwards {
		fmt.Println("forward", len(f.Readings), "to", f.Topic)
	}
	fmt.Println("store", len(d.Keep(rs)), "of", len(rs))
	// Output:
	// linkquality stored: false priority: normal
	// smoke_alarm stored: true priority: high
	// forward 1 to site/alarms/hall
	// store 1 of 2
}
