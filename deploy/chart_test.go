package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
