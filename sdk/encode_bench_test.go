package sdk

import "testing"

// BenchmarkAppendRecord is the guest's share of handing a record to the
// host; run it inside WebAssembly with
// GOOS=wasip1 GOARCH=wasm go test -tags kubeshark_noglue -exec go_wasip1_wasm_exec -bench AppendRecord ./sdk/
func BenchmarkAppendRecord(b *testing.B) {
	r := sampleRecord()
	var buf []byte
	for b.Loop() {
		buf = AppendRecord(buf[:0], r)
	}
}

func BenchmarkAppendRecordNoFields(b *testing.B) {
	r := sampleRecord()
	r.Response.Fields = nil
	var buf []byte
	for b.Loop() {
		buf = AppendRecord(buf[:0], r)
	}
}
