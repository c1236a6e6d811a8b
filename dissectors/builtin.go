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
	Wasm []byte
	// Manifest is what the module's describe export returns, known
	// without running it: it comes from the same source, compiled into
	// this binary (manifests below). A host that trusts it compiles a
	// built-in only when traffic needs it, even with nothing cached.
	Manifest sdk.Manifest
}

// manifests gives each built-in's manifest from its Go source, by source
// directory. Reading the manifest natively costs nothing at start-up,
// where running a module's describe means compiling it first (seconds);
// only the Manifest methods and what they return are linked into the
// host, ~80 KB. TestBuiltinManifests holds each one equal to its module's
// describe and checks that every module has one.
var manifests = map[string]func() sdk.Manifest{
	"amqp":      amqp.New().Manifest,
	"dns":       dns.New().Manifest,
	"http1":     http1.New().Manifest,
	"http2":     http2.New().Manifest,
	"kafka":     kafka.New().Manifest,
	"mongodb":   mongodb.New().Manifest,
	"mqtt":      mqtt.New().Manifest,
	"mysql":     mysql.New().Manifest,
	"postgres":  postgres.New().Manifest,
	"redis":     redis.New().Manifest,
	"tls":       tls.New().Manifest,
	"websocket": websocket.New().Manifest,
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
		b, err := bin.ReadFile(path.Join("bin", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("embedded dissector %s: %w", e.Name(), err)
		}
		name := strings.TrimSuffix(e.Name(), ".wasm")
		manifest, ok := manifests[name]
		if !ok {
			return nil, fmt.Errorf("embedded dissector %s has no manifest in dissectors.manifests (add it there)", e.Name())
		}
		mods = append(mods, Module{Name: name, Wasm: b, Manifest: manifest()})
	}
	if len(mods) == 0 {
		return nil, fmt.Errorf("this kubeshark binary has no built-in dissectors: build it with `make build`, which compiles them to WebAssembly first")
	}
	// Probe order only breaks exact ties, so a stable order is all that
	// matters.
	sort.Slice(mods, func(i, j int) bool { return mods[i].Name < mods[j].Name })
	return mods, nil
}
