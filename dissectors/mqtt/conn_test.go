package mqtt

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

const (
	cli = sdk.DirA
	srv = sdk.DirB
)

func brief(r *sdk.Record) string {
	s := fmt.Sprintf("%s %q %d", r.Method, r.Path, r.Status)
	if r.Response != nil {
		s += " ok"
	}
	if r.Failed {
		s += " failed"
	}
	if r.RequestDir == srv {
		s = "s:" + s
	}
	return s
}

func TestExchanges(t *testing.T) {
	type feed struct {
		dir  sdk.Direction
		data string
	}
	connect311 := "\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04test"
	connect5 := "\x10\x11\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x04test"
	tests := []struct {
		name  string
		feeds []feed
		want  []string
	}{
		{"connect publish qos1", []feed{
			{cli, connect311}, {srv, "\x20\x02\x00\x00"},
			{cli, "\x32\x0a\x00\x03a/b\x00\x07hi!"}, {srv, "\x40\x02\x00\x07"},
		}, []string{`CONNECT "" 0 ok`, `PUBLISH "a/b" 0 ok`}},
		{"refused connect", []feed{{cli, connect311}, {srv, "\x20\x02\x00\x05"}}, []string{`CONNECT "" 5 ok failed`}},
		{"qos2 and release", []feed{
			{cli, "\x34\x07\x00\x01t\x00\x09xy"}, {srv, "\x50\x02\x00\x09"}, {cli, "\x62\x02\x00\x09"}, {srv, "\x70\x02\x00\x09"},
		}, []string{`PUBLISH "t" 0 ok`}},
		{"qos0, ping, subscribe, unsubscribe, disconnect in one segment", []feed{
			{cli, "\x30\x05\x00\x01tab\xc0\x00\x82\x06\x00\x02\x00\x01t\x01\xa2\x05\x00\x03\x00\x01t\xe0\x00"},
			{srv, "\xd0\x00\x90\x03\x00\x02\x80\xb0\x02\x00\x03"},
		}, []string{`PUBLISH "t" 0`, `DISCONNECT "" 0`, `PINGREQ "" 0 ok`, `SUBSCRIBE "" 128 ok failed`, `UNSUBSCRIBE "" 0 ok`}},
		{"server publishes to client", []feed{{srv, "\x32\x06\x00\x01t\x00\x01x"}, {cli, "\x40\x02\x00\x01"}},
			[]string{`s:PUBLISH "t" 0 ok`}},
		{"v5 properties and puback reason", []feed{
			{cli, connect5}, {srv, "\x20\x06\x00\x00\x03\x21\x00\x0a"},
			{cli, "\x32\x0d\x00\x01t\x00\x02\x05\x02\x00\x00\x00\x3cpay"}, {srv, "\x40\x04\x00\x02\x87\x00"},
		}, []string{`CONNECT "" 0 ok`, `PUBLISH "t" 135 ok failed`}},
		{"orphan ack", []feed{{srv, "\x40\x02\x00\x01"}}, []string{` "" 0 ok`}},
		{"no answer", []feed{{cli, connect311}}, []string{`CONNECT "" 0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, split := range []int{0, 1, 3} {
				dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
				ts := int64(1)
				for _, f := range tt.feeds {
					if split == 0 {
						dr.Feed(f.dir, []byte(f.data), ts)
						ts++
						continue
					}
					for i := 0; i < len(f.data); i += split {
						dr.Feed(f.dir, []byte(f.data[i:min(i+split, len(f.data))]), ts)
						ts++
					}
				}
				dr.Close(ts)
				got := []string{}
				for _, r := range dr.Records {
					got = append(got, brief(r))
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("split %d:\n got  %q\n want %q", split, got, tt.want)
				}
			}
		})
	}
}

func TestFields(t *testing.T) {
	dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
	dr.Feed(cli, []byte("\x10\x11\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x04test"), 1)
	dr.Feed(srv, []byte("\x20\x03\x00\x00\x00"), 2)
	dr.Feed(cli, []byte("\x33\x16\x00\x01t\x00\x02\x09\x26\x00\x01k\x00\x01v\x01\x01{\"a\":1}"), 3)
	dr.Close(4)
	if len(dr.Records) != 2 {
		t.Fatalf("%d records", len(dr.Records))
	}
	c := dr.Records[0].Request.Fields
	if c["mqtt_version"] != "5.0" || c["mqtt_client_id"] != "test" {
		t.Fatalf("connect fields %v", c)
	}
	p := dr.Records[1].Request
	props := p.Fields["mqtt_properties"].(map[string]any)
	if p.Body != `{"a":1}` || p.Fields["mqtt_qos"] != 1 || p.Fields["mqtt_retain"] != true || p.Fields["mqtt_packet_id"] != 2 ||
		props["payload_format_indicator"] != 1 || !reflect.DeepEqual(props["user_property"], [][2]string{{"k", "v"}}) {
		t.Fatalf("publish %+v %v", p, props)
	}
	if dr.Records[1].Error != "no response captured" {
		t.Fatalf("error %q", dr.Records[1].Error)
	}
}

func TestProbe(t *testing.T) {
	d := New()
	tests := []struct {
		name       string
		data       string
		min, max   uint8
		fromServer bool
	}{
		{"connect 3.1.1", "\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04test", 95, 95, false},
		{"connect 3.1", "\x10\x12\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x04test", 95, 95, false},
		{"partial connect", "\x10\x10\x00\x04MQ", 0, 49, false},
		{"connack", "\x20\x02\x00\x00", 50, 60, true},
		{"publish midstream", "\x30\x05\x00\x01tab", 60, 85, false},
		{"pingreq", "\xc0\x00", 50, 50, false},
		{"http", "GET / HTTP/1.1\r\n", 0, 0, false},
		{"redis", "*1\r\n$4\r\nPING\r\n", 0, 0, false},
		{"tls", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 0, 0, false},
		{"bad connect name", "\x10\x10\x00\x04MQTX\x04\x02\x00\x3c\x00\x04test", 0, 0, false},
		{"publish binary topic", "\x30\x05\x00\x01\x01ab", 0, 49, false},
	}
	for _, tt := range tests {
		p := d.Probe(sdk.DirA, []byte(tt.data))
		if p.Confidence < tt.min || p.Confidence > tt.max || p.Confidence >= 50 && p.FromServer != tt.fromServer {
			t.Errorf("%s: %+v", tt.name, p)
		}
	}
}
