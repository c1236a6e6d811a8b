package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/kubeshark-wasm/kubeshark/storage/fanout"
)

// DefaultSelector selects the worker DaemonSet's pods, as the chart labels
// them.
const DefaultSelector = "app.kubernetes.io/name=kubeshark,app.kubernetes.io/component=worker"

// Options configures Start.
type Options struct {
	// Client reaches the API server. Required.
	Client kubernetes.Interface
	// Namespace is where the DaemonSet runs. Required.
	Namespace string
	// Selector is the label selector of its pods; DefaultSelector when
	// empty.
	Selector string
	// Port is the port the workers' hubs listen on. Required.
	Port int
	// Scheme is "http" (the default) or "https".
	Scheme string
	// SyncTimeout bounds the wait for the first list; 30s when zero.
	SyncTimeout time.Duration
	Logger      *slog.Logger
}

// Pods is a fanout.Discovery over the worker pods.
type Pods struct {
	opts   Options
	lister corelisters.PodLister
	sel    labels.Selector
}

var _ fanout.Discovery = (*Pods)(nil)

// Start watches the worker pods until ctx is done, and returns once the
// first list is in: a hub that could not list its workers (no permission,
// wrong namespace) fails at start, saying why, rather than at its first
// query.
func Start(ctx context.Context, opts Options) (*Pods, error) {
	if opts.Client == nil || opts.Namespace == "" || opts.Port <= 0 || opts.Port > 65535 {
		return nil, errors.New("discovery: Options.Client, Namespace and a Port are required")
	}
	if opts.Selector == "" {
		opts.Selector = DefaultSelector
	}
	if opts.Scheme == "" {
		opts.Scheme = "http"
	}
	if opts.SyncTimeout <= 0 {
		opts.SyncTimeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	sel, err := labels.Parse(opts.Selector)
	if err != nil {
		return nil, fmt.Errorf("discovery: worker selector %q: %w", opts.Selector, err)
	}
	// One list first, so that a refusal is an error with the server's
	// words instead of an informer retrying in the background.
	if _, err := opts.Client.CoreV1().Pods(opts.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String(), Limit: 1}); err != nil {
		return nil, fmt.Errorf("discovery: list the worker pods (%s) in namespace %s: %w", sel, opts.Namespace, err)
	}
	factory := informers.NewSharedInformerFactoryWithOptions(opts.Client, 0,
		informers.WithNamespace(opts.Namespace),
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) { lo.LabelSelector = sel.String() }),
		informers.WithTransform(trim))
	inf := factory.Core().V1().Pods()
	p := &Pods{opts: opts, lister: inf.Lister(), sel: sel}
	informer := inf.Informer()
	factory.Start(ctx.Done())
	sctx, cancel := context.WithTimeout(ctx, opts.SyncTimeout)
	defer cancel()
	if !cache.WaitForCacheSync(sctx.Done(), informer.HasSynced) {
		return nil, fmt.Errorf("discovery: the worker pods in namespace %s were not listed within %s", opts.Namespace, opts.SyncTimeout)
	}
	return p, nil
}

// trim keeps of a pod what discovery reads: the informer's cache then
// holds a few hundred bytes per worker, not its whole spec.
func trim(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil // a tombstone
	}
	out := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID, ResourceVersion: pod.ResourceVersion,
			Labels: pod.Labels, CreationTimestamp: pod.CreationTimestamp, DeletionTimestamp: pod.DeletionTimestamp},
		Spec:   corev1.PodSpec{NodeName: pod.Spec.NodeName},
		Status: corev1.PodStatus{Phase: pod.Status.Phase, PodIP: pod.Status.PodIP},
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			out.Status.Conditions = []corev1.PodCondition{{Type: c.Type, Status: c.Status}}
		}
	}
	return out, nil
}

// Workers lists one worker per node, by node name: the pod's hub, or why
// it cannot be asked.
func (p *Pods) Workers(context.Context) ([]fanout.Worker, error) {
	pods, err := p.lister.List(p.sel)
	if err != nil {
		return nil, fmt.Errorf("discovery: worker pods: %w", err)
	}
	best := map[string]*corev1.Pod{}
	for _, pod := range pods {
		node := nodeOf(pod)
		if cur, ok := best[node]; !ok || better(pod, cur) {
			best[node] = pod
		}
	}
	out := make([]fanout.Worker, 0, len(best))
	for node, pod := range best {
		w := fanout.Worker{Node: node}
		if why := unavailable(pod); why != "" {
			w.Unavailable = why
		} else {
			w.URL = p.opts.Scheme + "://" + net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(p.opts.Port))
		}
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, nil
}

// nodeOf names a pod's node; a pod not scheduled yet stands for a node
// of its own, named after it.
func nodeOf(pod *corev1.Pod) string {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName
	}
	return "(unscheduled " + pod.Name + ")"
}

// unavailable says why a pod cannot be asked, "" when it can.
func unavailable(pod *corev1.Pod) string {
	name := pod.Namespace + "/" + pod.Name
	switch {
	case pod.DeletionTimestamp != nil:
		return "pod " + name + " is terminating"
	case pod.Spec.NodeName == "":
		return "pod " + name + " is not scheduled on a node"
	case pod.Status.Phase != corev1.PodRunning:
		return fmt.Sprintf("pod %s is %s", name, pod.Status.Phase)
	case pod.Status.PodIP == "":
		return "pod " + name + " has no IP yet"
	case !ready(pod):
		return "pod " + name + " is not ready"
	}
	return ""
}

func ready(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// better picks between two pods on one node (a rollout replaces one with
// the other): one that can be asked, else the newer.
func better(a, b *corev1.Pod) bool {
	ua, ub := unavailable(a) == "", unavailable(b) == ""
	if ua != ub {
		return ua
	}
	return b.CreationTimestamp.Before(&a.CreationTimestamp)
}
