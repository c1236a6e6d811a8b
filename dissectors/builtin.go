package dissectors

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/kubeshark-wasm/kubeshark/dissectors/amqp"
	"github.com/kubeshark-wasm/kubeshark/dissectors/dns"
	"github.com/kubeshark-wasm/kubeshark/dissectors/http1"
	"github.com/kubeshark-wasm/kubeshark/dissectors/http2"
	"github.com/kubeshark-wasm/kubeshark/dissectors/kafka"
	"github.com/kubeshark-wasm/kubeshark/dissectors/mongodb"
	"github.com/kubeshark-wasm/kubeshark/dissectors/mqtt"
	"github.com/kubeshark-wasm/kubeshark/dissectors/mysql"
	"github.com/kubeshark-wasm/kubeshark/dissectors/postgres"
	"github.com/kubeshark-wasm/kubeshark/dissectors/redis"
	"github.com/kubeshark-wasm/kubeshark/dissectors/tls"
	"github.com/kubeshark-wasm/kubeshark/dissectors/websocket"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

//go:embed bin
var bin embed.FS

// Module is one embedded dissector build.
type Module struct {
	Name string // source directory, e.g. "http1"
	// Manifest is what the module's describe export returns, known
	// without running it: it comes from the same source, compiled into
	// this binary (natives below). A host that trusts it compiles a
	// built-in only when traffic needs it, even with nothing cached.
	Manifest sdk.Manifest
	// Probe is the module's probe compiled into the host from the same
	// source, for use as a prefilter, or nil where the source is not Go: where it says no (confidence 0,
	// nothing more wanted), the module would say the same, so the host
	// need not compile or start it to hear it. Any other answer is asked
	// of the module itself, which alone decides.
	Probe func(dir sdk.Direction, data []byte) sdk.Probe
}

// Wasm reads the module's code, a copy of the bytes embedded in the
// executable. It is read on demand rather than by Builtin because most
// commands compile one or two built-ins: reading all twelve (44 MB) put
// a copy of each on the heap and their pages of the executable in the
// resident set (wasm.Runtime.LoadDescribedFunc).
func (m Module) Wasm() ([]byte, error) {
	b, err := bin.ReadFile(path.Join("bin", m.Name+".wasm"))
	if err != nil {
		return nil, fmt.Errorf("embedded dissector %s: %w", m.Name, err)
	}
	return b, nil
}

// natives gives each built-in's Go source compiled into the host, by
// source directory, for two things that must not wait for its module to
// compile: its manifest (reading it from the module means compiling it
// first, seconds) and, where the source is Go, a prefilter of its probe
// (a Probe method). Only the Manifest and Probe methods and what they
// call are linked into the host. A built-in written in another language
// (http1 and dns, in C) gives its committed manifest alone, and its module
// is asked every probe. TestBuiltinManifests holds each manifest equal to
// its module's describe and checks that every module has an entry;
// TestBuiltinPrefilters holds the probes equal.
var natives = map[string]interface{ Manifest() sdk.Manifest }{
	"amqp":      amqp.New(),
	"dns":       manifestOnly(dns.Manifest),
	"http1":     manifestOnly(http1.Manifest),
	"http2":     http2.New(),
	"kafka":     kafka.New(),
	"mongodb":   mongodb.New(),
	"mqtt":      mqtt.New(),
	"mysql":     mysql.New(),
	"postgres":  postgres.New(),
	"redis":     redis.New(),
	"tls":       tls.New(),
	"websocket": websocket.New(),
}

// Builtin returns the dissector modules embedded in this binary. It fails
// when the binary was built without them (go build instead of make build).
func Builtin() ([]Module, error) {
	entries, err := fs.ReadDir(bin, "bin")
	if err != nil {
		return nil, fmt.Errorf("embedded dissectors: %w", err)
	}
	var mods []Module
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".wasm") {
			continue
		}
		name := strings.TrimSuffix(e.Name(), ".wasm")
		native, ok := natives[name]
		if !ok {
			return nil, fmt.Errorf("embedded dissector %s is missing from dissectors.natives (add it there)", e.Name())
		}
		mods = append(mods, Module{Name: name, Manifest: native.Manifest(), Probe: prefilter(native)})
	}
	if len(mods) == 0 {
		return nil, fmt.Errorf("this kubeshark binary has no built-in dissectors: build it with `make build`, which compiles them to WebAssembly first")
	}
	// Probe order only breaks exact ties, so a stable order is all that
	// matters.
	sort.Slice(mods, func(i, j int) bool { return mods[i].Name < mods[j].Name })
	return mods, nil
}

// manifestOnly is the natives entry of a built-in whose source is not Go:
// its committed manifest, and no prefilter.
type manifestOnly func() sdk.Manifest

func (m manifestOnly) Manifest() sdk.Manifest { return m() }

// prefilter is a native's probe, or nil when it has none.
func prefilter(native any) func(sdk.Direction, []byte) sdk.Probe {
	if p, ok := native.(interface {
		Probe(dir sdk.Direction, data []byte) sdk.Probe
	}); ok {
		return p.Probe
	}
	return nil
}
