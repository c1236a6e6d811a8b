package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
)

// WatchOptions adjusts Watch.
type WatchOptions struct {
	Logger *slog.Logger
	// CgroupRoot, when set, is a cgroup v2 hierarchy to scan for pods'
	// containers every CgroupEvery (default 5s) — on a worker, the node's
	// /sys/fs/cgroup — so that sockets' cgroup ids resolve to pods.
	CgroupRoot  string
	CgroupEvery time.Duration
	// SyncTimeout bounds the wait for the first listing (default 1m).
	SyncTimeout time.Duration
}

// Watcher feeds a History from a cluster's informers until its context
// ends.
type Watcher struct {
	h      *History
	log    *slog.Logger
	rs     appslisters.ReplicaSetLister
	jobs   batchlisters.JobLister
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	now    func() time.Time
	// nsErr says why namespaces are not watched (nil when they are).
	nsErr error
}

// Watch starts informers on client (pods, services, EndpointSlices, nodes,
// namespaces, and ReplicaSets and Jobs for owners), records what they list
// (objects present now bind from their creation time) and what they see
// change (from the moment they see it) into h, and returns once the first
// listing is in h. It stops when ctx ends or Stop is called. Without
// permission to list namespaces it runs without them (NamespacesErr says
// so); without any other permission it fails with ErrForbidden.
func Watch(ctx context.Context, client kubernetes.Interface, h *History, opts WatchOptions) (*Watcher, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SyncTimeout <= 0 {
		opts.SyncTimeout = time.Minute
	}
	if err := checkAccess(ctx, client, opts.SyncTimeout); err != nil {
		return nil, err
	}
	// Namespaces only add their labels: an account that may not list them
	// still gets every name, and the watcher says what is missing.
	nsErr := checkNamespaces(ctx, client, opts.SyncTimeout)
	if nsErr != nil && !errors.Is(nsErr, ErrNamespacesForbidden) {
		return nil, nsErr
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &Watcher{h: h, log: opts.Logger.With("component", "kube"), ctx: ctx, cancel: cancel, done: make(chan struct{}), now: time.Now, nsErr: nsErr}
	if nsErr != nil {
		w.log.Warn("namespaces are not watched: records get no namespace labels from this run", "err", nsErr)
	}
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(Strip))

	// Owners first, so a pod's workload is known when the pod arrives.
	rs := f.Apps().V1().ReplicaSets()
	jobs := f.Batch().V1().Jobs()
	w.rs, w.jobs = rs.Lister(), jobs.Lister()
	rsInf, jobInf := rs.Informer(), jobs.Informer()
	f.Start(ctx.Done())
	syncCtx, syncCancel := context.WithTimeout(ctx, opts.SyncTimeout)
	defer syncCancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), rsInf.HasSynced, jobInf.HasSynced) {
		cancel()
		f.Shutdown()
		return nil, fmt.Errorf("kube: listing ReplicaSets and Jobs: %w", cmpErr(syncCtx.Err()))
	}

	type kinded struct {
		inf    cache.SharedIndexInformer
		handle func(obj any, initial, deleted bool)
		kinds  []string
	}
	all := []kinded{
		{f.Core().V1().Pods().Informer(), w.pod, []string{KindPod, KindPodUID}},
		{f.Core().V1().Services().Informer(), w.service, []string{KindService}},
		{f.Discovery().V1().EndpointSlices().Informer(), w.slice, []string{KindEndpoint}},
		{f.Core().V1().Nodes().Informer(), w.node, []string{KindNode}},
	}
	if w.nsErr == nil {
		all = append(all, kinded{f.Core().V1().Namespaces().Informer(), w.namespace, []string{KindNamespace}})
	}
	var synced []cache.InformerSynced
	for _, k := range all {
		handle := k.handle
		reg, err := k.inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
			AddFunc:    func(obj any, initial bool) { handle(obj, initial, false) },
			UpdateFunc: func(_, obj any) { handle(obj, false, false) },
			DeleteFunc: func(obj any) {
				if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = d.Obj
				}
				handle(obj, false, true)
			},
		})
		if err != nil {
			cancel()
			f.Shutdown()
			return nil, fmt.Errorf("kube: informer handler: %w", err)
		}
		synced = append(synced, reg.HasSynced)
	}
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(syncCtx.Done(), synced...) {
		cancel()
		f.Shutdown()
		return nil, fmt.Errorf("kube: listing pods, services, EndpointSlices, nodes and namespaces: %w", cmpErr(syncCtx.Err()))
	}
	// What the history holds open but the cluster no longer has ended
	// while nobody watched: now is the best bound known.
	at := w.now()
	for _, k := range all {
		present := map[string]bool{}
		for _, o := range k.inf.GetStore().List() {
			if m, err := metaOf(o); err == nil {
				present[string(m.GetUID())] = true
			}
		}
		for _, kind := range k.kinds {
			if err := h.Reconcile(ctx, kind, present, at); err != nil {
				w.log.Warn("reconciling the workload history", "kind", kind, "err", err)
			}
		}
	}
	go func() {
		defer close(w.done)
		if opts.CgroupRoot != "" {
			w.scanCgroups(opts.CgroupRoot, opts.CgroupEvery)
		}
		<-ctx.Done()
		f.Shutdown()
	}()
	return w, nil
}

// ErrForbidden is returned by Watch when the account may not list what the
// history needs.
var ErrForbidden = errors.New("the account may not list and watch pods, services, nodes, endpointslices.discovery.k8s.io, replicasets.apps and jobs.batch, which workload names need")

// checkAccess lists one object of each kind the informers watch, so that an
// unreachable API server or a missing permission is one clear error rather
// than informers retrying until the sync times out.
func checkAccess(ctx context.Context, c kubernetes.Interface, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, min(timeout, 20*time.Second))
	defer cancel()
	one := metav1.ListOptions{Limit: 1}
	for _, l := range []struct {
		what string
		list func() error
	}{
		{"pods", func() error { _, err := c.CoreV1().Pods("").List(ctx, one); return err }},
		{"services", func() error { _, err := c.CoreV1().Services("").List(ctx, one); return err }},
		{"endpointslices", func() error { _, err := c.DiscoveryV1().EndpointSlices("").List(ctx, one); return err }},
		{"nodes", func() error { _, err := c.CoreV1().Nodes().List(ctx, one); return err }},
		{"replicasets", func() error { _, err := c.AppsV1().ReplicaSets("").List(ctx, one); return err }},
		{"jobs", func() error { _, err := c.BatchV1().Jobs("").List(ctx, one); return err }},
	} {
		err := l.list()
		switch {
		case err == nil:
		case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
			return fmt.Errorf("kube: listing %s: %w: %w", l.what, ErrForbidden, err)
		default:
			return fmt.Errorf("kube: listing %s (is the API server reachable?): %w", l.what, err)
		}
	}
	return nil
}

// ErrNamespacesForbidden is what Watcher.NamespacesErr wraps when the
// account may not list and watch namespaces: records then get every name
// but no namespace labels.
var ErrNamespacesForbidden = errors.New("the account may not list and watch namespaces, which namespace labels need")

// checkNamespaces is checkAccess for namespaces, apart because they are
// optional.
func checkNamespaces(ctx context.Context, c kubernetes.Interface, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, min(timeout, 20*time.Second))
	defer cancel()
	_, err := c.CoreV1().Namespaces().List(ctx, metav1.ListOptions{Limit: 1})
	switch {
	case err == nil:
		return nil
	case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
		return fmt.Errorf("kube: listing namespaces: %w: %w", ErrNamespacesForbidden, err)
	}
	return fmt.Errorf("kube: listing namespaces (is the API server reachable?): %w", err)
}

// NamespacesErr says why namespaces are not watched, so records carry no
// namespace labels (errors.Is ErrNamespacesForbidden when RBAC refused
// them); nil when they are watched.
func (w *Watcher) NamespacesErr() error { return w.nsErr }

func cmpErr(err error) error {
	if err == nil {
		return context.Canceled
	}
	return err
}

// Stop stops the informers and waits for them.
func (w *Watcher) Stop() {
	w.cancel()
	<-w.done
}

func (w *Watcher) scanCgroups(root string, every time.Duration) {
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		entries, err := ScanCgroups(root)
		if err != nil {
			w.log.Warn("scanning cgroups", "err", err)
		} else if err := w.h.ObserveCgroups(w.ctx, entries, w.now()); err != nil {
			w.log.Warn("recording cgroups", "err", err)
		}
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func metaOf(o any) (metav1.Object, error) {
	m, ok := o.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("kube: %T has no object metadata", o)
	}
	return m, nil
}

// times returns when new bindings of an object start: its creation when it
// comes in the first listing (it held them before we looked), the moment
// seen otherwise.
func (w *Watcher) times(m metav1.Object, initial bool) (from, at time.Time) {
	at = w.now()
	from = at
	if initial {
		if c := m.GetCreationTimestamp().Time; !c.IsZero() && c.Before(at) {
			from = c
		}
	}
	return from, at
}

func (w *Watcher) observe(kind string, m metav1.Object, want map[string]*Binding, initial bool) {
	from, at := w.times(m, initial)
	if err := w.h.Observe(w.ctx, kind, string(m.GetUID()), want, from, at); err != nil {
		w.log.Warn("recording in the workload history", "kind", kind, "object", m.GetNamespace()+"/"+m.GetName(), "err", err)
	}
}

func (w *Watcher) pod(obj any, initial, deleted bool) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	kind, name := w.workload(p)
	info := &Binding{Name: p.Name, Namespace: p.Namespace, Node: p.Spec.NodeName, WorkloadKind: kind, Workload: name, Labels: p.Labels}
	ips := map[string]*Binding{}
	// Only a Pending or Running pod holds its IP: a finished pod keeps a
	// stale podIP that the network may already have given to another.
	// A hostNetwork pod's IP is its node's, resolved as the node.
	if !deleted && !p.Spec.HostNetwork && (p.Status.Phase == corev1.PodPending || p.Status.Phase == corev1.PodRunning) {
		for _, ip := range p.Status.PodIPs {
			ips[canonIP(ip.IP)] = info
		}
		if p.Status.PodIP != "" {
			ips[canonIP(p.Status.PodIP)] = info
		}
	}
	w.observe(KindPod, p, ips, initial)
	uid := map[string]*Binding{}
	if !deleted {
		uid[string(p.UID)] = info
	}
	w.observe(KindPodUID, p, uid, initial)
}

// workload follows a pod's controller to the workload: ReplicaSet →
// Deployment, Job → CronJob; StatefulSet and DaemonSet own pods directly.
func (w *Watcher) workload(p *corev1.Pod) (kind, name string) {
	ref := metav1.GetControllerOf(p)
	if ref == nil {
		return "", ""
	}
	switch ref.Kind {
	case "ReplicaSet":
		if rs, err := w.rs.ReplicaSets(p.Namespace).Get(ref.Name); err == nil {
			if o := metav1.GetControllerOf(rs); o != nil {
				return o.Kind, o.Name
			}
			return ref.Kind, ref.Name
		}
		// Not listed (yet): a Deployment's ReplicaSet is named after it
		// and the pod template hash the pod carries as a label.
		if hash := p.Labels["pod-template-hash"]; hash != "" && strings.HasSuffix(ref.Name, "-"+hash) {
			return "Deployment", strings.TrimSuffix(ref.Name, "-"+hash)
		}
	case "Job":
		if j, err := w.jobs.Jobs(p.Namespace).Get(ref.Name); err == nil {
			if o := metav1.GetControllerOf(j); o != nil {
				return o.Kind, o.Name
			}
		}
	}
	return ref.Kind, ref.Name
}

func (w *Watcher) service(obj any, initial, deleted bool) {
	s, ok := obj.(*corev1.Service)
	if !ok {
		return
	}
	want := map[string]*Binding{}
	if !deleted {
		info := &Binding{Name: s.Name, Namespace: s.Namespace, Labels: s.Labels}
		for _, ip := range append([]string{s.Spec.ClusterIP}, s.Spec.ClusterIPs...) {
			if ip != "" && ip != corev1.ClusterIPNone {
				want[canonIP(ip)] = info
			}
		}
	}
	w.observe(KindService, s, want, initial)
}

func (w *Watcher) slice(obj any, initial, deleted bool) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	want := map[string]*Binding{}
	svc := s.Labels[discoveryv1.LabelServiceName]
	if !deleted && svc != "" {
		info := &Binding{Service: svc, Namespace: s.Namespace}
		for _, ep := range s.Endpoints {
			for _, a := range ep.Addresses {
				want[canonIP(a)] = info
			}
		}
	}
	w.observe(KindEndpoint, s, want, initial)
}

func (w *Watcher) node(obj any, initial, deleted bool) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	want := map[string]*Binding{}
	if !deleted {
		info := &Binding{Name: n.Name, Labels: n.Labels}
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP || a.Type == corev1.NodeExternalIP {
				want[canonIP(a.Address)] = info
			}
		}
	}
	w.observe(KindNode, n, want, initial)
}

func (w *Watcher) namespace(obj any, initial, deleted bool) {
	n, ok := obj.(*corev1.Namespace)
	if !ok {
		return
	}
	want := map[string]*Binding{}
	if !deleted {
		// Held by name, so that a pod's namespace finds it; a namespace
		// deleted and created again under the same name is a new UID and
		// a new binding, and older records keep the labels of theirs.
		want[n.Name] = &Binding{Name: n.Name, Labels: n.Labels}
	}
	w.observe(KindNamespace, n, want, initial)
}

// Strip is the informers' transform: it keeps only what resolution needs
// (names, namespace, UID, labels, owners, creation time, IPs, node, phase,
// hostNetwork, container ids) so a large cluster's objects cost little
// memory; managedFields, annotations, specs and most of status go.
func Strip(obj any) (any, error) {
	meta := func(m metav1.ObjectMeta) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
			Labels: m.Labels, OwnerReferences: m.OwnerReferences, CreationTimestamp: m.CreationTimestamp, DeletionTimestamp: m.DeletionTimestamp}
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		p := &corev1.Pod{TypeMeta: o.TypeMeta, ObjectMeta: meta(o.ObjectMeta)}
		p.Spec.NodeName, p.Spec.HostNetwork = o.Spec.NodeName, o.Spec.HostNetwork
		p.Status.Phase, p.Status.PodIP, p.Status.PodIPs, p.Status.HostIP = o.Status.Phase, o.Status.PodIP, o.Status.PodIPs, o.Status.HostIP
		for _, c := range o.Status.ContainerStatuses {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: c.Name, ContainerID: c.ContainerID})
		}
		return p, nil
	case *corev1.Service:
		s := &corev1.Service{TypeMeta: o.TypeMeta, ObjectMeta: meta(o.ObjectMeta)}
		s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.Type = o.Spec.ClusterIP, o.Spec.ClusterIPs, o.Spec.Type
		return s, nil
	case *discoveryv1.EndpointSlice:
		s := &discoveryv1.EndpointSlice{TypeMeta: o.TypeMeta, ObjectMeta: meta(o.ObjectMeta), AddressType: o.AddressType}
		for _, e := range o.Endpoints {
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: e.Addresses, TargetRef: e.TargetRef, NodeName: e.NodeName})
		}
		return s, nil
	case *corev1.Node:
		n := &corev1.Node{TypeMeta: o.TypeMeta, ObjectMeta: meta(o.ObjectMeta)}
		n.Status.Addresses = o.Status.Addresses
		return n, nil
	case *corev1.Namespace:
		return &corev1.Namespace{TypeMeta: o.TypeMeta, ObjectMeta: meta(o.ObjectMeta)}, nil
	case *appsv1.ReplicaSet:
		return &appsv1.ReplicaSet{TypeMeta: o.TypeMeta, ObjectMeta: meta(o.ObjectMeta)}, nil
	case *batchv1.Job:
		return &batchv1.Job{TypeMeta: o.TypeMeta, ObjectMeta: meta(o.ObjectMeta)}, nil
	}
	return obj, nil
}
