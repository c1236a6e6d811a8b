package mqtt

import (
	"encoding/binary"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// BenchmarkMQTTNative runs 1000 QoS 1 PUBLISH/PUBACK exchanges with 512-byte
// JSON-ish payloads, one segment per packet.
func BenchmarkMQTTNative(b *testing.B) {
	const exchanges = 1000
	payload := make([]byte, 512)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	topic := "sensors/building-7/floor-3/temperature"
	reqs := make([][]byte, exchanges)
	acks := make([][]byte, exchanges)
	total := 0
	for i := range exchanges {
		rem := 2 + len(topic) + 2 + len(payload)
		p := []byte{0x32, byte(rem&0x7f | 0x80), byte(rem >> 7)}
		p = binary.BigEndian.AppendUint16(p, uint16(len(topic)))
		p = append(p, topic...)
		p = binary.BigEndian.AppendUint16(p, uint16(i+1))
		reqs[i] = append(p, payload...)
		acks[i] = []byte{0x40, 0x02, byte((i + 1) >> 8), byte(i + 1)}
		total += len(reqs[i]) + len(acks[i])
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	records := 0
	for b.Loop() {
		dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
		for i := range exchanges {
			dr.Feed(sdk.DirA, reqs[i], int64(2*i+1))
			dr.Feed(sdk.DirB, acks[i], int64(2*i+2))
		}
		dr.Close(2*exchanges + 1)
		if len(dr.Records) != exchanges {
			b.Fatalf("%d records", len(dr.Records))
		}
		records += len(dr.Records)
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
