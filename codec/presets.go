package codec

// Presets returns the built-in contracts, tried after the user's in this
// order. Each is an ordinary contract: copy one into the config to change it.
func Presets() []Contract {
	return []Contract{
		{Name: "generic-telemetry", Version: 1, Format: FormatJSON, Topic: "devices/{device}/telemetry",
			Description: "flat JSON object, or array of objects or of {metric,value,ts}"},
		{Name: "generic-status", Version: 1, Format: FormatStatus, Topic: "devices/{device}/status",
			Description: `"online"/"offline" or {"online":true}`},
		{Name: "zigbee2mqtt-bridge", Version: 1, Format: FormatIgnore, Topic: "zigbee2mqtt/bridge/#",
			Description: "bridge state and logs, not telemetry"},
		{Name: "zigbee2mqtt-availability", Version: 1, Format: FormatStatus, Topic: "zigbee2mqtt/{device}/availability",
			Description: `"online"/"offline" or {"state":"online"}`},
		{Name: "zigbee2mqtt-set", Version: 1, Format: FormatIgnore, Topic: "zigbee2mqtt/+/set/#",
			Description: "commands sent to devices"},
		{Name: "zigbee2mqtt-get", Version: 1, Format: FormatIgnore, Topic: "zigbee2mqtt/+/get/#",
			Description: "state requests sent to devices"},
		{Name: "zigbee2mqtt", Version: 1, Format: FormatZigbee2MQTT, Topic: "zigbee2mqtt/{device}",
			Description: `device state; "ON"/"OFF" become booleans, nested objects flattened with _`},
		{Name: "tasmota-sensor", Version: 1, Format: FormatTasmota, Topic: "tele/{device}/SENSOR",
			Description: "sensor readings named <sensor>_<quantity>, stamped with the receive time"},
		{Name: "tasmota-state", Version: 1, Format: FormatTasmota, Topic: "tele/{device}/STATE",
			Description: "uptime, heap, Wifi_RSSI, POWER as boolean"},
		{Name: "tasmota-lwt", Version: 1, Format: FormatStatus, Topic: "tele/{device}/LWT",
			Description: `"Online"/"Offline"`},
		{Name: "telegraf", Version: 1, Format: FormatLine, Topic: "telegraf/{device}/#",
			Description: "Telegraf MQTT output (topic telegraf/<host>/<plugin>), line protocol"},
	}
}

// presetJSON is the JSON behaviour of a json-family format when the
// contract has no json section.
func presetJSON(format string) JSONSpec {
	switch format {
	case FormatZigbee2MQTT:
		// last_seen is a time the bridge adds; the receive time is used.
		return JSONSpec{OnOffBool: true, Timestamp: "-", Ignore: []string{"last_seen"}}
	case FormatTasmota:
		// Time is device local time without a zone: the edge clock is the
		// better source. Units are constants, not readings.
		return JSONSpec{OnOffBool: true, Timestamp: "-",
			Ignore: []string{"Time", "TempUnit", "PressureUnit", "SpeedUnit", "Uptime", "Wifi.BSSId"}}
	}
	return JSONSpec{}
}
