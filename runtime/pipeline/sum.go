package pipeline

import (
	"reflect"

	"github.com/kubeshark-wasm/kubeshark/runtime/reassembly"
)

// addReassembly sums two workers' reassembly counters field by field, so
// that counters the reassembler adds later are summed without a change here.
func addReassembly(a, b reassembly.Stats) reassembly.Stats {
	va, vb := reflect.ValueOf(&a).Elem(), reflect.ValueOf(b)
	for i := 0; i < va.NumField(); i++ {
		f := va.Field(i)
		if !f.CanSet() {
			continue
		}
		switch f.Kind() {
		case reflect.Int, reflect.Int32, reflect.Int64:
			f.SetInt(f.Int() + vb.Field(i).Int())
		case reflect.Uint, reflect.Uint32, reflect.Uint64:
			f.SetUint(f.Uint() + vb.Field(i).Uint())
		}
	}
	return a
}
