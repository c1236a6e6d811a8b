package kubetest

import (
	"context"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestStart checks what the other packages' tests rely on: pods whose
// status a test sets, RBAC that refuses an unbound ServiceAccount, and
// TokenRequest/TokenReview round trips.
func TestStart(t *testing.T) {
	env := Start(t)
	ctx := context.Background()
	pod := env.CreatePod(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
	}, corev1.PodRunning, "10.1.2.3")
	if pod.Status.PodIP != "10.1.2.3" || pod.Status.Phase != corev1.PodRunning {
		t.Fatalf("status not set: %+v", pod.Status)
	}
	_, err := env.AsServiceAccount(t, "default", "nobody").CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("unbound ServiceAccount listed pods: err = %v", err)
	}
	if _, err := env.Client.CoreV1().ServiceAccounts("default").Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "hub"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := env.Client.CoreV1().ServiceAccounts("default").CreateToken(ctx, "hub", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{"kubeshark"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest: %v", err)
	}
	review, err := env.Client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: tr.Status.Token, Audiences: []string{"kubeshark"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenReview: %v", err)
	}
	if !review.Status.Authenticated || review.Status.User.Username != "system:serviceaccount:default:hub" {
		t.Fatalf("TokenReview: %+v", review.Status)
	}
	bad, err := env.Client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: tr.Status.Token, Audiences: []string{"someone-else"}},
	}, metav1.CreateOptions{})
	if err != nil || bad.Status.Authenticated {
		t.Fatalf("a token for another audience was accepted: %+v, %v", bad.Status, err)
	}
}
