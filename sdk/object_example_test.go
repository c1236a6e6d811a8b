package sdk_test

import (
	"encoding/json"
	"fmt"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// A DNS answer as an Object: it encodes as the map it stands for, keys
// sorted, without a map being built.
func ExampleObject() {
	answer := sdk.Object{
		{Key: "name", Value: "example.com"},
		{Key: "type", Value: "A"},
		{Key: "ttl", Value: 300},
		{Key: "data", Value: "93.184.216.34"},
	}
	var m sdk.Message
	m.Set("dns_answers", []sdk.Object{answer})
	js, _ := json.Marshal(answer)
	fmt.Println(string(js))
	ttl, _ := answer.Get("ttl")
	fmt.Println(ttl)
	// Output:
	// {"data":"93.184.216.34","name":"example.com","ttl":300,"type":"A"}
	// 300
}
