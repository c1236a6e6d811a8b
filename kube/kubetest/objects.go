package kubetest

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// CreatePod creates pod and, since no kubelet will, sets its status: phase
// and, when podIP is not empty, its IP (and the node's IP as hostIP when the
// pod is on hostNetwork). It returns the pod as stored.
func (e *Env) CreatePod(t testing.TB, pod *corev1.Pod, phase corev1.PodPhase, podIP string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	ns := pod.Namespace
	if ns == "" {
		ns = "default"
	}
	created, err := e.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("kubetest: creating pod %s/%s: %v", ns, pod.Name, err)
	}
	return e.SetPodStatus(t, created, phase, podIP)
}

// SetPodStatus sets a pod's phase and IP through the status subresource.
func (e *Env) SetPodStatus(t testing.TB, pod *corev1.Pod, phase corev1.PodPhase, podIP string) *corev1.Pod {
	t.Helper()
	pod = pod.DeepCopy()
	pod.Status.Phase = phase
	pod.Status.PodIP = podIP
	pod.Status.PodIPs = nil
	if podIP != "" {
		pod.Status.PodIPs = []corev1.PodIP{{IP: podIP}}
	}
	if pod.Spec.HostNetwork {
		pod.Status.HostIP = podIP
	}
	updated, err := e.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(context.Background(), pod, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("kubetest: setting status of pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	return updated
}

// CreateNamespace creates a namespace with the given labels.
func (e *Env) CreateNamespace(t testing.TB, name string, labels map[string]string) {
	t.Helper()
	_, err := e.Client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("kubetest: creating namespace %s: %v", name, err)
	}
}

// As returns a client that impersonates user (e.g.
// "system:serviceaccount:NS:NAME") with groups, for RBAC checks.
func (e *Env) As(t testing.TB, user string, groups ...string) kubernetes.Interface {
	t.Helper()
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// AsServiceAccount is As for a ServiceAccount, with the groups the API
// server gives ServiceAccounts.
func (e *Env) AsServiceAccount(t testing.TB, namespace, name string) kubernetes.Interface {
	t.Helper()
	return e.As(t, "system:serviceaccount:"+namespace+":"+name,
		"system:serviceaccounts", "system:serviceaccounts:"+namespace, "system:authenticated")
}
