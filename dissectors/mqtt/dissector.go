package mqtt

import (
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Version is the dissector's version.
const Version = "1.0.0"

// Limits on what one connection may hold.
const (
	maxRemaining = 268435455 // the largest remaining length MQTT can encode
	maxParsed    = 128 << 10 // packets other than PUBLISH parsed whole up to this size
	bodyPreview  = 16 << 10  // payload bytes kept for the preview
	maxPending   = 1024      // unanswered packets per kind and direction
	maxFilters   = 64        // topic filters kept per (UN)SUBSCRIBE
	maxProps     = 64        // properties kept per packet
	maxString    = 1024      // bytes kept of a property or client id string
)

// Dissector implements sdk.Dissector for MQTT.
type Dissector struct{}

// New returns the MQTT dissector.
func New() *Dissector { return &Dissector{} }

// Manifest describes the dissector.
func (*Dissector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "mqtt",
		Version:     Version,
		Description: "MQTT 3.1, 3.1.1 and 5.0: all packet types, QoS handshakes, MQTT 5 properties",
		Protocols:   []string{"mqtt"},
		Transports:  []string{"tcp"},
		PortHints:   []uint16{1883, 8883, 1884},
		Fields: []sdk.FieldSpec{
			{Name: "mqtt_version", Type: "string", Description: "protocol version: 3.1, 3.1.1 or 5.0"},
			{Name: "mqtt_client_id", Type: "string", Description: "client identifier from CONNECT"},
			{Name: "mqtt_username", Type: "string", Description: "user name from CONNECT (the password is never kept)"},
			{Name: "mqtt_keep_alive", Type: "int", Description: "keep-alive seconds from CONNECT"},
			{Name: "mqtt_clean_session", Type: "bool", Description: "clean session / clean start flag from CONNECT"},
			{Name: "mqtt_qos", Type: "int", Description: "QoS of a PUBLISH (0, 1 or 2)"},
			{Name: "mqtt_packet_id", Type: "int", Description: "packet identifier"},
			{Name: "mqtt_retain", Type: "bool", Description: "retain flag of a PUBLISH"},
			{Name: "mqtt_dup", Type: "bool", Description: "duplicate delivery flag of a PUBLISH"},
			{Name: "mqtt_topic_filters", Type: "list", Description: "topic filters of SUBSCRIBE/UNSUBSCRIBE (with requested QoS for SUBSCRIBE)"},
			{Name: "mqtt_reason_codes", Type: "list", Description: "reason codes of SUBACK/UNSUBACK"},
			{Name: "mqtt_reason_code", Type: "int", Description: "reason code of an acknowledgement, DISCONNECT or AUTH"},
			{Name: "mqtt_session_present", Type: "bool", Description: "session present flag of CONNACK"},
			{Name: "mqtt_properties", Type: "map", Description: "MQTT 5 properties by name; user properties as a list of [name, value]"},
		},
	}
}

// Open starts a connection.
func (*Dissector) Open(info sdk.ConnInfo, out sdk.Emitter) sdk.Conn {
	return newConn(info, out)
}
