package kube_test

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubeshark-wasm/kubeshark/kube"
)

// The transform keeps what resolution reads and drops the rest, which is
// most of an object's memory in a large cluster.
func TestStrip(t *testing.T) {
	created := metav1.NewTime(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC))
	meta := metav1.ObjectMeta{Name: "shop", UID: "u-1", ResourceVersion: "42", CreationTimestamp: created,
		Labels:        map[string]string{"team": "payments"},
		Annotations:   map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{…}"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}, Finalizers: []string{"x"}}
	kept := metav1.ObjectMeta{Name: "shop", UID: "u-1", ResourceVersion: "42", CreationTimestamp: created,
		Labels: map[string]string{"team": "payments"}}
	for _, c := range []struct {
		name     string
		in, want any
	}{
		{"namespace", &corev1.Namespace{ObjectMeta: meta, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}},
			Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
			&corev1.Namespace{ObjectMeta: kept}},
		{"node", &corev1.Node{ObjectMeta: meta, Spec: corev1.NodeSpec{PodCIDR: "10.244.0.0/24"},
			Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.2"}}, Images: []corev1.ContainerImage{{SizeBytes: 1}}}},
			&corev1.Node{ObjectMeta: kept, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.2"}}}}},
		{"anything else passes", &corev1.ConfigMap{ObjectMeta: meta}, &corev1.ConfigMap{ObjectMeta: meta}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := kube.Strip(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Strip:\n got %+v\nwant %+v", got, c.want)
			}
		})
	}
}
