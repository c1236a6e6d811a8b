package hubproxy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubeshark-wasm/kubeshark/kube/hubauth"
	"github.com/kubeshark-wasm/kubeshark/kube/kubetest"
)

func createSA(t *testing.T, env *kubetest.Env, ns string) {
	t.Helper()
	if _, err := env.Client.CoreV1().ServiceAccounts(ns).Create(context.Background(),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: hubauth.ClientServiceAccount}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// reviewed checks tok with a TokenReview for the kubeshark audience and
// returns its audience and lifetime (from its claims).
func reviewed(t *testing.T, env *kubetest.Env, tok string) (string, time.Duration) {
	t.Helper()
	tr, err := env.Client.AuthenticationV1().TokenReviews().Create(context.Background(), &authnv1.TokenReview{
		Spec: authnv1.TokenReviewSpec{Token: tok, Audiences: []string{hubauth.Audience}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Status.Authenticated {
		t.Fatalf("token not authenticated: %s", tr.Status.Error)
	}
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Aud      []string `json:"aud"`
		Iat, Exp int64
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return strings.Join(claims.Aud, ","), time.Duration(claims.Exp-claims.Iat) * time.Second
}
