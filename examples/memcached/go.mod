module memcached

go 1.24

require github.com/kubeshark-wasm/kubeshark v0.0.0

// The SDK is vendored by `kubeshark plugin new`, so the project builds
// offline and against the SDK of the kubeshark that made it.
replace github.com/kubeshark-wasm/kubeshark => ./kubeshark-sdk
