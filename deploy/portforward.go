package deploy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// portForward forwards a local port on 127.0.0.1 to a ready pod behind
// svc (kubectl port-forward's mechanism: the kubelet streams the
// connection), for clusters whose API server cannot reach pod IPs.
//
// Not exercised by the tests: the test API server has no kubelet to stream
// through.
func portForward(ctx context.Context, c clients, svc *corev1.Service, token func(context.Context) (string, error)) (*Proxy, error) {
	if len(svc.Spec.Selector) == 0 {
		return nil, fmt.Errorf("service %s selects no pods (no selector) to forward to", svc.Name)
	}
	pods, err := c.typed.CoreV1().Pods(svc.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	if err != nil {
		return nil, fmt.Errorf("listing the hub's pods: %w", err)
	}
	var pod *corev1.Pod
	for i := range pods.Items {
		if podReady(&pods.Items[i]) {
			pod = &pods.Items[i]
			break
		}
	}
	if pod == nil {
		return nil, fmt.Errorf("no ready hub pod in namespace %s (%d found)", svc.Namespace, len(pods.Items))
	}
	port, err := containerPort(pod, svc)
	if err != nil {
		return nil, err
	}
	rt, upgrader, err := spdy.RoundTripperFor(c.cfg)
	if err != nil {
		return nil, fmt.Errorf("port-forward transport: %w", err)
	}
	u, err := url.Parse(c.cfg.Host)
	if err != nil {
		return nil, err
	}
	u.Path += fmt.Sprintf("/api/v1/namespaces/%s/pods/%s/portforward", pod.Namespace, pod.Name)
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
	stop, ready := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(int(port))}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("port-forward to pod %s: %w", pod.Name, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-errc:
		return nil, fmt.Errorf("port-forward to pod %s: %w", pod.Name, err)
	case <-ctx.Done():
		close(stop)
		return nil, ctx.Err()
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		close(stop)
		return nil, fmt.Errorf("port-forward to pod %s: no local port: %v", pod.Name, err)
	}
	local := &url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(int(ports[0].Local))}
	h := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(local)
			r.Out.Host = r.In.Host
			if token != nil && r.In.Header.Get("Authorization") == "" && r.In.Header.Get(TokenHeader) == "" {
				if tok, err := token(r.In.Context()); err == nil {
					r.Out.Header.Set(TokenHeader, tok)
				}
			}
		},
		FlushInterval: -1,
	}
	return &Proxy{Handler: h, Via: "port-forward to pod " + pod.Name, Close: func() { close(stop) }}, nil
}

func podReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// containerPort resolves the Service's api port to the pod's port number.
func containerPort(pod *corev1.Pod, svc *corev1.Service) (int32, error) {
	for _, sp := range svc.Spec.Ports {
		if sp.Name != HubPortName && len(svc.Spec.Ports) > 1 {
			continue
		}
		if sp.TargetPort.IntVal != 0 {
			return sp.TargetPort.IntVal, nil
		}
		name := sp.TargetPort.StrVal
		if name == "" {
			return sp.Port, nil
		}
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == name {
					return p.ContainerPort, nil
				}
			}
		}
		return 0, fmt.Errorf("pod %s has no port named %s", pod.Name, name)
	}
	return 0, fmt.Errorf("service %s has no port %s", svc.Name, HubPortName)
}
