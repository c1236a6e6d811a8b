package devkit

import (
	"fmt"
	"math"
	"sort"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// CheckFields compares the fields of recs with what the manifest declares
// and returns one line for each kind of disagreement (sorted): a field no
// manifest entry declares, which filters cannot use, and a value of
// another type than declared, which filters never match. The host stores
// such records as they are; this is for the plugin's author.
func CheckFields(m sdk.Manifest, recs []*sdk.Record) []string {
	declared := map[string]string{}
	for _, f := range m.Fields {
		declared[f.Name] = f.Type
	}
	seen := map[string]bool{}
	var out []string
	report := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, r := range recs {
		for _, side := range []struct {
			name string
			msg  *sdk.Message
		}{{"request", r.Request}, {"response", r.Response}} {
			if side.msg == nil {
				continue
			}
			for k, v := range side.msg.Fields {
				typ, ok := declared[k]
				if !ok {
					typ, ok = declared[side.name+"."+k]
				}
				if !ok {
					report(fmt.Sprintf("%s field %q is not in the manifest: filters cannot use it", side.name, k))
					continue
				}
				if got := typeOf(v); !fits(typ, v) {
					report(fmt.Sprintf("%s field %q is a %s, the manifest says %s: filters on it never match", side.name, k, got, typ))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func typeOf(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "bool"
	case float64:
		if v == math.Trunc(v) {
			return "int"
		}
		return "float"
	case int, int64, int32, uint, uint64, uint32:
		return "int"
	case float32:
		return "float"
	case []any:
		return "list"
	case map[string]any:
		return "map"
	}
	return fmt.Sprintf("%T", v)
}

// fits reports whether v can be a value of the declared type; null fits
// any (a field without a value), an int fits a float.
func fits(typ string, v any) bool {
	got := typeOf(v)
	switch {
	case got == "null", got == typ:
		return true
	case typ == "float" && got == "int":
		return true
	case typ != "string" && typ != "int" && typ != "bool" && typ != "float" && typ != "list" && typ != "map":
		return true // a type the filters take as dynamic
	}
	return false
}
