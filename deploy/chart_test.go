package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"aead.dev/minisign"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubeshark-wasm/kubeshark/plugins"
)

func byKindName(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	m := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		m[o.GetKind()+"/"+o.GetName()] = o
	}
	return m
}

func container(t *testing.T, o *unstructured.Unstructured) map[string]any {
	t.Helper()
	cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
	if len(cs) != 1 {
		t.Fatalf("%s/%s: %d containers, want 1", o.GetKind(), o.GetName(), len(cs))
	}
	return cs[0].(map[string]any)
}

func TestRenderDefaults(t *testing.T) {
	objs, err := Render("kubeshark", "obs", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := byKindName(objs)
	want := []string{
		"ServiceAccount/kubeshark-hub", "ServiceAccount/kubeshark-worker",
		"ClusterRole/kubeshark-obs-hub", "ClusterRoleBinding/kubeshark-obs-hub",
		"ClusterRole/kubeshark-obs-worker", "ClusterRoleBinding/kubeshark-obs-worker",
		"Role/kubeshark-hub-workers", "RoleBinding/kubeshark-hub-workers",
		"Service/kubeshark-hub", "Deployment/kubeshark-hub", "DaemonSet/kubeshark-worker",
		"Secret/kubeshark-worker-token",
		"ServiceAccount/kubeshark-mcp-client", "Role/kubeshark-client", "RoleBinding/kubeshark-client",
	}
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("objects:\n got %v\nwant %v", got, want)
	}
	// Install order: accounts and RBAC before what runs under them.
	if k := objs[0].GetKind(); k != "ServiceAccount" {
		t.Errorf("first object is a %s", k)
	}
	for _, o := range objs {
		l := o.GetLabels()
		if l[labelInstance] != "kubeshark" || l[labelPartOf] != "kubeshark" || l[labelReleaseNamespace] != "obs" {
			t.Errorf("%s/%s lacks the labels clean selects by: %v", o.GetKind(), o.GetName(), l)
		}
		if ns := o.GetNamespace(); ns != "obs" && !strings.HasPrefix(o.GetKind(), "Cluster") {
			t.Errorf("%s/%s in namespace %q", o.GetKind(), o.GetName(), ns)
		}
	}

	ds := m["DaemonSet/kubeshark-worker"]
	if hp, _, _ := unstructured.NestedBool(ds.Object, "spec", "template", "spec", "hostPID"); !hp {
		t.Error("worker without hostPID")
	}
	c := container(t, ds)
	sc := c["securityContext"].(map[string]any)
	if sc["privileged"] != false {
		t.Errorf("worker privileged by default: %v", sc)
	}
	caps := sc["capabilities"].(map[string]any)
	add := fmt.Sprint(caps["add"])
	if add != "[BPF PERFMON NET_ADMIN SYS_PTRACE SYS_RESOURCE]" || fmt.Sprint(caps["drop"]) != "[ALL]" {
		t.Errorf("worker capabilities: %v", caps)
	}
	if strings.Contains(add, "SYS_ADMIN") {
		t.Error("SYS_ADMIN by default")
	}
	var mounts []string
	for _, vm := range c["volumeMounts"].([]any) {
		mounts = append(mounts, vm.(map[string]any)["mountPath"].(string))
	}
	for _, p := range []string{"/sys/fs/bpf", "/sys/fs/cgroup", "/sys/kernel/tracing", "/sys/kernel/btf", "/data", "/data/hub.token"} {
		if !slices.Contains(mounts, p) {
			t.Errorf("worker does not mount %s (mounts %v)", p, mounts)
		}
	}
	args := fmt.Sprint(c["args"])
	for _, a := range []string{"tap", "--kubernetes", "--hub-addr=0.0.0.0:8898", "--data=/data"} {
		if !strings.Contains(args, a) {
			t.Errorf("worker args %s lack %s", args, a)
		}
	}
	vols, _, _ := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", "volumes")
	if hp := vols[0].(map[string]any)["hostPath"]; hp == nil {
		t.Errorf("worker store is not a hostPath by default: %v", vols[0])
	}
	tol, _, _ := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", "tolerations")
	if len(tol) != 1 || tol[0].(map[string]any)["operator"] != "Exists" {
		t.Errorf("worker tolerations %v: want to run on every node", tol)
	}

	hub := container(t, m["Deployment/kubeshark-hub"])
	hargs := fmt.Sprint(hub["args"])
	for _, a := range []string{"hub", "--kubernetes", "--auth=kubernetes", "--addr=0.0.0.0:8898",
		"--worker-namespace=obs", "--worker-token-file=/etc/kubeshark/worker-token/token", "--worker-port=8898",
		"--worker-pods=app.kubernetes.io/name=kubeshark,app.kubernetes.io/instance=kubeshark,app.kubernetes.io/component=worker"} {
		if !strings.Contains(hargs, a) {
			t.Errorf("hub args %s lack %s", hargs, a)
		}
	}
	if strings.Contains(hargs, "--allow-destructive") || strings.Contains(args, "--allow-destructive") {
		t.Error("hub or workers destructive by default")
	}
	hsc := hub["securityContext"].(map[string]any)
	if fmt.Sprint(hsc["capabilities"]) != "map[drop:[ALL]]" {
		t.Errorf("hub capabilities %v", hsc["capabilities"])
	}
	// The Service's port is named as kubeshark mcp --proxy looks for it.
	ports, _, _ := unstructured.NestedSlice(m["Service/kubeshark-hub"].Object, "spec", "ports")
	if p := ports[0].(map[string]any); p["name"] != HubPortName || fmt.Sprint(p["port"]) != "8898" {
		t.Errorf("service port %v", p)
	}
	// The worker selector the hub discovers by matches the DaemonSet's pods.
	podLabels, _, _ := unstructured.NestedStringMap(ds.Object, "spec", "template", "metadata", "labels")
	for _, kv := range strings.Split("app.kubernetes.io/name=kubeshark,app.kubernetes.io/instance=kubeshark,app.kubernetes.io/component=worker", ",") {
		k, v, _ := strings.Cut(kv, "=")
		if podLabels[k] != v {
			t.Errorf("worker pods have %s=%q, the hub looks for %q", k, podLabels[k], v)
		}
	}
}

func TestRenderValues(t *testing.T) {
	tests := []struct {
		name  string
		set   []string
		check func(t *testing.T, m map[string]*unstructured.Unstructured)
	}{
		{"privileged", []string{"worker.privileged=true"}, func(t *testing.T, m map[string]*unstructured.Unstructured) {
			sc := container(t, m["DaemonSet/kubeshark-worker"])["securityContext"].(map[string]any)
			if sc["privileged"] != true || sc["capabilities"] != nil {
				t.Errorf("securityContext %v", sc)
			}
		}},
		{"emptyDir", []string{"worker.storage.type=emptyDir,worker.storage.sizeLimit=3Gi"}, func(t *testing.T, m map[string]*unstructured.Unstructured) {
			vols, _, _ := unstructured.NestedSlice(m["DaemonSet/kubeshark-worker"].Object, "spec", "template", "spec", "volumes")
			if fmt.Sprint(vols[0]) != "map[emptyDir:map[sizeLimit:3Gi] name:data]" {
				t.Errorf("data volume %v", vols[0])
			}
		}},
		{"image", []string{"image.repository=registry.example/ks", "image.tag=v9"}, func(t *testing.T, m map[string]*unstructured.Unstructured) {
			for _, k := range []string{"DaemonSet/kubeshark-worker", "Deployment/kubeshark-hub"} {
				if img := container(t, m[k])["image"]; img != "registry.example/ks:v9" {
					t.Errorf("%s image %v", k, img)
				}
			}
		}},
		{"no rbac", []string{"rbac.create=false"}, func(t *testing.T, m map[string]*unstructured.Unstructured) {
			for k := range m {
				if strings.Contains(k, "Role") {
					t.Errorf("%s rendered with rbac.create=false", k)
				}
			}
		}},
		{"destructive and extra args", []string{"hub.allowDestructive=true", "worker.extraArgs={--workers=2}"}, func(t *testing.T, m map[string]*unstructured.Unstructured) {
			if a := fmt.Sprint(container(t, m["Deployment/kubeshark-hub"])["args"]); !strings.Contains(a, "--allow-destructive") {
				t.Errorf("hub args %s", a)
			}
			// Workers take the plugin changes the hub sends on.
			if a := fmt.Sprint(container(t, m["DaemonSet/kubeshark-worker"])["args"]); !strings.Contains(a, "--workers=2") || !strings.Contains(a, "--allow-destructive") {
				t.Errorf("worker args %s", a)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals, err := ParseSet(tt.set)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := Render("kubeshark", "obs", vals)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, byKindName(objs))
		})
	}
}

func TestRenderNames(t *testing.T) {
	objs, err := Render("prod", "ns1", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := byKindName(objs)
	for _, k := range []string{"Deployment/prod-kubeshark-hub", "ClusterRole/prod-kubeshark-ns1-worker"} {
		if m[k] == nil {
			t.Errorf("no %s", k)
		}
	}
}

func TestRenderBadValues(t *testing.T) {
	vals, _ := ParseSet([]string{"worker.storage.type=nfs"})
	if _, err := Render("kubeshark", "obs", vals); err == nil || !strings.Contains(err.Error(), `worker.storage.type "nfs"`) {
		t.Fatalf("err = %v, want one naming worker.storage.type", err)
	}
	if _, err := ParseSet([]string{"a.b"}); err == nil {
		t.Fatal("--set a.b accepted")
	}
}

// mountsOf returns the volume mounts of a workload's container by path and
// its volumes by name.
func mountsOf(t *testing.T, o *unstructured.Unstructured) (mounts, vols map[string]map[string]any) {
	t.Helper()
	mounts, vols = map[string]map[string]any{}, map[string]map[string]any{}
	for _, vm := range container(t, o)["volumeMounts"].([]any) {
		m := vm.(map[string]any)
		mounts[m["mountPath"].(string)] = m
	}
	vs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "volumes")
	for _, v := range vs {
		m := v.(map[string]any)
		vols[m["name"].(string)] = m
	}
	return mounts, vols
}

func TestRenderTrustedKeys(t *testing.T) {
	workloads := []string{"Deployment/kubeshark-hub", "DaemonSet/kubeshark-worker"}

	t.Run("none by default", func(t *testing.T) {
		objs, err := Render("kubeshark", "obs", nil)
		if err != nil {
			t.Fatal(err)
		}
		m := byKindName(objs)
		if m["ConfigMap/kubeshark-trusted-keys"] != nil {
			t.Error("trusted-keys ConfigMap rendered with no keys")
		}
		for _, k := range workloads {
			mounts, vols := mountsOf(t, m[k])
			if mounts[plugins.SystemTrustDir] != nil || vols["trusted-keys"] != nil {
				t.Errorf("%s mounts a trust store with no keys", k)
			}
		}
	})

	// One key as `minisign -G`/`kubeshark plugin keygen` writes it (comment
	// line and all), one as the bare key line, which --set can carry.
	pub1, priv1 := genKey(t)
	pub2, _ := genKey(t)
	bare2 := strings.TrimSpace(pub2[strings.Index(pub2, "\n")+1:])
	vals, err := ParseSet([]string{"plugins.trustedKeys={" + bare2 + "}"})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(vals["plugins"].(map[string]any)["trustedKeys"]); got != "["+bare2+"]" {
		t.Fatalf("--set plugins.trustedKeys={KEY} parsed as %s", got)
	}
	vals["plugins"].(map[string]any)["trustedKeys"] = []any{pub1, bare2}
	objs, err := Render("kubeshark", "obs", vals)
	if err != nil {
		t.Fatal(err)
	}
	m := byKindName(objs)
	cm := m["ConfigMap/kubeshark-trusted-keys"]
	if cm == nil {
		t.Fatal("no trusted-keys ConfigMap")
	}
	if cm.GetNamespace() != "obs" || cm.GetLabels()[labelInstance] != "kubeshark" {
		t.Errorf("ConfigMap namespace %q labels %v: clean would not find it", cm.GetNamespace(), cm.GetLabels())
	}
	// Installed before the pods that mount it, as helm orders it.
	for i, o := range objs {
		if o == cm && (i == len(objs)-1 || !slices.ContainsFunc(objs[i+1:], func(o *unstructured.Unstructured) bool { return o.GetKind() == "DaemonSet" })) {
			t.Errorf("ConfigMap at %d of %d, after the workloads", i, len(objs))
		}
	}
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	if len(data) != 2 || strings.TrimSpace(data["key-0.pub"]) != strings.TrimSpace(pub1) || strings.TrimSpace(data["key-1.pub"]) != bare2 {
		t.Fatalf("ConfigMap data %q", data)
	}
	for _, k := range workloads {
		mounts, vols := mountsOf(t, m[k])
		mnt := mounts[plugins.SystemTrustDir]
		if mnt == nil || mnt["name"] != "trusted-keys" || mnt["readOnly"] != true {
			t.Errorf("%s trust-store mount %v, want trusted-keys read-only at %s", k, mnt, plugins.SystemTrustDir)
		}
		if v := vols["trusted-keys"]; fmt.Sprint(v["configMap"]) != "map[name:kubeshark-trusted-keys]" {
			t.Errorf("%s trusted-keys volume %v", k, v)
		}
	}

	// The rendered text, laid out as the kubelet projects a ConfigMap
	// (files are symlinks through ..data into a timestamped directory), is
	// what the plugins package's trust store reads and verifies with.
	dir := t.TempDir()
	ts := filepath.Join(dir, "..2026_12_06_09_00_00.1")
	if err := os.Mkdir(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range data {
		if err := os.WriteFile(filepath.Join(ts, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Base(ts), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	store := plugins.TrustStore{Dirs: []string{dir}}
	keys, err := store.Keys()
	if err != nil {
		t.Fatalf("trust store rejects the rendered keys: %v", err)
	}
	id1, _ := plugins.PublicKeyID([]byte(pub1))
	id2, _ := plugins.PublicKeyID([]byte(pub2))
	if len(keys) != 2 || keys[0].ID != id1 || keys[1].ID != id2 {
		t.Fatalf("trust store keys %v, want %s and %s", keys, id1, id2)
	}
	code := []byte("\x00asm\x01\x00\x00\x00")
	if k, err := store.Check(code, plugins.Sign(priv1, code, "p.wasm")); err != nil || k.ID != id1 {
		t.Errorf("a module signed by trusted key %s: key %v, err %v", id1, k.ID, err)
	}
}

func TestRenderTrustedKeysBad(t *testing.T) {
	pub, _ := genKey(t)
	for _, bad := range []string{"not a key", "untrusted comment: x\nRWxyz", strings.Replace(pub, "RW", "QW", 1)} {
		vals := map[string]any{"plugins": map[string]any{"trustedKeys": []any{pub, bad}}}
		if _, err := Render("kubeshark", "obs", vals); err == nil || !strings.Contains(err.Error(), "plugins.trustedKeys[1]: not a minisign public key") {
			t.Errorf("key %q: err = %v, want one naming plugins.trustedKeys[1]", bad, err)
		}
	}
}

func genKey(t *testing.T) (pub string, priv minisign.PrivateKey) {
	t.Helper()
	p, s, _, err := plugins.GenerateKey("")
	if err != nil {
		t.Fatal(err)
	}
	if err := priv.UnmarshalText(s); err != nil {
		t.Fatal(err)
	}
	return string(p), priv
}
