package devkit

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

//go:embed templates
var templates embed.FS

// validName is what a plugin name must look like: it becomes the protocol
// name, a filter flag and the prefix of filter variables.
var validName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// CheckName reports whether name can name a plugin.
func CheckName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("plugin name %q: want a lower-case letter then up to 31 letters, digits or _ (it becomes the protocol's name and the prefix of its filter fields)", name)
	}
	return nil
}

type scaffoldData struct {
	Name, Lang, LangName, Source, SDK, Toolchain string
}

// Scaffold writes a new plugin project for lang in dir (which must not
// exist or be empty): a dissector for a simple line protocol with probe,
// feed and close filled in, the SDK vendored, a Makefile, a README and a
// testdata directory for captures and the golden records. It returns the
// files written, relative to dir.
func Scaffold(dir, name string, lang Lang) ([]string, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s exists and is not empty: refusing to overwrite it", dir)
	}
	d := scaffoldData{Name: name, Lang: string(lang)}
	files := map[string][]byte{}
	tmpl := func(src string) []byte {
		b, err := templates.ReadFile("templates/" + src)
		if err != nil {
			panic(err) // the embedded set is fixed at build time
		}
		t := template.Must(template.New(src).Delims("[[", "]]").Parse(string(b)))
		var out bytes.Buffer
		if err := t.Execute(&out, d); err != nil {
			panic(err)
		}
		return out.Bytes()
	}
	sdkFile := func(p string) []byte {
		b, err := sdk.Sources.ReadFile(p)
		if err != nil {
			panic(err)
		}
		return b
	}
	switch lang {
	case Go:
		d.LangName, d.Source, d.SDK, d.Toolchain = "Go", "`main.go`", "`kubeshark-sdk/`, the Go package github.com/kubeshark-wasm/kubeshark/sdk", "GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared"
		files["main.go"] = tmpl("go/main.go.tmpl")
		files["go.mod"] = tmpl("go/go.mod.tmpl")
		files["main_test.go"] = tmpl("go/main_test.go.tmpl")
		files["kubeshark-sdk/go.mod"] = []byte("module github.com/kubeshark-wasm/kubeshark\n\ngo 1.24\n")
		err := fs.WalkDir(sdk.Sources, ".", func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || path.Dir(p) != "." {
				return err
			}
			// Test files and the embedding file itself (whose sources are
			// not vendored) stay behind.
			if strings.HasSuffix(p, "_test.go") || p == "sources.go" {
				return nil
			}
			files["kubeshark-sdk/sdk/"+p] = sdkFile(p)
			return nil
		})
		if err != nil {
			return nil, err
		}
	case C:
		d.LangName, d.Source, d.SDK, d.Toolchain = "C", "`"+name+".c`", "`kubeshark.h`, one header", "clang --target=wasm32-wasi -mexec-model=reactor"
		files[name+".c"] = tmpl("c/main.c.tmpl")
		files["kubeshark.h"] = sdkFile("c/kubeshark.h")
	case Rust:
		d.LangName, d.Source, d.SDK, d.Toolchain = "Rust", "`src/lib.rs`", "`kubeshark-sdk/`, the kubeshark crate", "rustc --target wasm32-wasi --crate-type cdylib"
		files["src/lib.rs"] = tmpl("rust/src/lib.rs.tmpl")
		files["Cargo.toml"] = tmpl("rust/Cargo.toml.tmpl")
		files["kubeshark-sdk/lib.rs"] = sdkFile("rust/src/lib.rs")
		files["kubeshark-sdk/Cargo.toml"] = bytes.Replace(sdkFile("rust/Cargo.toml"), []byte(`path = "src/lib.rs"`), []byte(`path = "lib.rs"`), 1)
	default:
		return nil, fmt.Errorf("language %q: want go, c or rust", lang)
	}
	files["Makefile"] = tmpl("common/Makefile.tmpl")
	files["README.md"] = tmpl("common/README.md.tmpl")
	files[".gitignore"] = tmpl("common/gitignore.tmpl")
	files["testdata/README"] = tmpl("common/testdata-README.tmpl")
	files["testdata/capture.sh"] = tmpl("common/capture.sh.tmpl")

	var written []string
	for rel, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(rel, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(p, b, mode); err != nil {
			return nil, err
		}
		written = append(written, rel)
	}
	sortStrings(written)
	return written, nil
}
