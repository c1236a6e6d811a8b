package deploy

import (
	"embed"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	"helm.sh/helm/v4/pkg/strvals"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

//go:embed all:chart/kubeshark
var chartFS embed.FS

// DefaultRelease is the release name `kubeshark tap --cluster` installs
// under; DefaultNamespace the namespace it installs into.
const (
	DefaultRelease   = "kubeshark"
	DefaultNamespace = "kubeshark"
)

// LoadChart returns the chart built into the binary.
func LoadChart() (*chart.Chart, error) {
	const root = "chart/kubeshark"
	var files []*archive.BufferedFile
	err := fs.WalkDir(chartFS, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := chartFS.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, &archive.BufferedFile{Name: strings.TrimPrefix(p, root+"/"), Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("deploy: reading the embedded chart: %w", err)
	}
	c, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("deploy: loading the embedded chart: %w", err)
	}
	return c, nil
}

// ParseSet turns --set arguments (helm's key=value syntax: a.b=c, lists
// with {x,y}, several pairs separated by commas) into values.
func ParseSet(sets []string) (map[string]any, error) {
	vals := map[string]any{}
	for _, s := range sets {
		if err := strvals.ParseInto(s, vals); err != nil {
			return nil, fmt.Errorf("--set %q: %w", s, err)
		}
	}
	return vals, nil
}

// Render renders the chart for a release without a cluster, as `helm
// template` does, and returns its objects in install order (ServiceAccounts
// and RBAC before the workloads).
func Render(release, namespace string, values map[string]any) ([]*unstructured.Unstructured, error) {
	c, err := LoadChart()
	if err != nil {
		return nil, err
	}
	opts := common.ReleaseOptions{Name: release, Namespace: namespace, IsInstall: true, Revision: 1}
	top, err := util.ToRenderValues(c, values, opts, nil)
	if err != nil {
		return nil, fmt.Errorf("deploy: values: %w", err)
	}
	files, err := engine.Render(c, top)
	if err != nil {
		return nil, fmt.Errorf("deploy: rendering the chart: %w", err)
	}
	var objs []*unstructured.Unstructured
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if strings.HasSuffix(name, "NOTES.txt") {
			continue
		}
		docs := releaseutil.SplitManifests(files[name])
		keys := slices.Collect(maps.Keys(docs))
		sort.Sort(releaseutil.BySplitManifestsOrder(keys))
		for _, k := range keys {
			doc := strings.TrimSpace(docs[k])
			if doc == "" {
				continue
			}
			m := map[string]any{}
			if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
				return nil, fmt.Errorf("deploy: %s does not parse: %w", name, err)
			}
			if len(m) == 0 {
				continue
			}
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
	slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int {
		return kindOrder(a.GetKind()) - kindOrder(b.GetKind())
	})
	return objs, nil
}

// installOrder is the order helm installs kinds in (its InstallOrder), for
// the kinds this chart has.
var installOrder = []string{"Namespace", "ServiceAccount", "Secret", "ConfigMap", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "DaemonSet", "Deployment"}

func kindOrder(kind string) int {
	if i := slices.Index(installOrder, kind); i >= 0 {
		return i
	}
	return len(installOrder)
}
