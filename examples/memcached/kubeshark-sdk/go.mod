module github.com/kubeshark-wasm/kubeshark

go 1.24
