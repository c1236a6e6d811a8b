package hubauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/kubeshark-wasm/kubeshark/kube/hubauth"
	"github.com/kubeshark-wasm/kubeshark/kube/kubetest"
)

// clock is a settable clock for the cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestCheckOnARealAPIServer reviews real tokens: the audience is checked,
// RBAC decides, and results are reused only for their time.
func TestCheckOnARealAPIServer(t *testing.T) {
	env := kubetest.Start(t)
	ctx := context.Background()
	const ns = "kprx-auth"
	env.CreateNamespace(t, ns, nil)
	for _, sa := range []string{hubauth.ClientServiceAccount, "stranger"} {
		if _, err := env.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "hub-user", Namespace: ns}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"services/proxy"}, ResourceNames: []string{hubauth.ProxyResourceName}, Verbs: []string{"get"},
	}}}
	if _, err := env.Client.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "hub-user", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "hub-user"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: hubauth.ClientServiceAccount, Namespace: ns}}}
	if _, err := env.Client.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token := func(sa, aud string) string {
		tr, err := env.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authnv1.TokenRequest{
			Spec: authnv1.TokenRequestSpec{Audiences: []string{aud}, ExpirationSeconds: ptr.To[int64](600)},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	clk := &clock{t: time.Now()}
	a, err := hubauth.New(hubauth.Options{Client: env.Client, Namespace: ns, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	good := token(hubauth.ClientServiceAccount, hubauth.Audience)
	for _, tc := range []struct {
		name, token string
		want        error
	}{
		{"client token", good, nil},
		{"another audience", token(hubauth.ClientServiceAccount, "https://kubernetes.default.svc"), hubauth.ErrUnauthenticated},
		{"no RBAC", token("stranger", hubauth.Audience), hubauth.ErrForbidden},
		{"garbage", "not-a-token", hubauth.ErrUnauthenticated},
		{"none", "", hubauth.ErrNoToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user, err := a.Check(ctx, tc.token)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Check: %v, want %v", err, tc.want)
			}
			if tc.want == nil && user != "system:serviceaccount:"+ns+":"+hubauth.ClientServiceAccount {
				t.Fatalf("user %q", user)
			}
		})
	}

	// Revoking the binding takes effect once the cached answer expires.
	if err := env.Client.RbacV1().RoleBindings(ns).Delete(ctx, "hub-user", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// RBAC's authorizer watches bindings; give it a moment.
	time.Sleep(time.Second)
	if _, err := a.Check(ctx, good); err != nil {
		t.Fatalf("within the cache's 30 s the answer is reused: %v", err)
	}
	clk.add(31 * time.Second)
	if _, err := a.Check(ctx, good); !errors.Is(err, hubauth.ErrForbidden) {
		t.Fatalf("after revocation and 31 s: %v, want forbidden", err)
	}

	// The HTTP side: status codes a client can act on.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.Authorize(r); err != nil {
			w.WriteHeader(err.(interface{ HTTPStatus() int }).HTTPStatus())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	if _, err := env.Client.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	clk.add(10 * time.Second)
	for _, tc := range []struct {
		name, header, value string
		want                int
	}{
		{"header", hubauth.Header, good, http.StatusNoContent},
		{"bearer", "Authorization", "Bearer " + good, http.StatusNoContent},
		{"stranger", hubauth.Header, token("stranger", hubauth.Audience), http.StatusForbidden},
		{"none", "X-Other", "x", http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set(tc.header, tc.value)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}

	// An API server that cannot be asked is a failed review, never a
	// cached refusal.
	bad := rest.CopyConfig(env.Config)
	bad.BearerToken = "wrong"
	badClient, err := kubernetes.NewForConfig(bad)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := hubauth.New(hubauth.Options{Client: badClient, Namespace: ns})
	for range 2 {
		if _, err := b.Check(ctx, good); !errors.Is(err, hubauth.ErrReview) {
			t.Fatalf("reviews refused by the API server: %v, want ErrReview", err)
		}
	}
}
