package deploy

import (
	"context"
	"fmt"
	"sync"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The names the chart, the hub (--auth kubernetes) and the clients agree on.
const (
	// ClientServiceAccount is the chart's ServiceAccount whose tokens
	// clients request (values: client.serviceAccount).
	ClientServiceAccount = "kubeshark-mcp-client"
	// TokenAudience is the audience of those tokens: worth nothing to the
	// API server, and the hub refuses any other.
	TokenAudience = "kubeshark"
	// tokenLifetime is what is asked for; the API server may shorten it.
	tokenLifetime = 10 * time.Minute
)

// tokenSource hands out a short-lived token of the client ServiceAccount
// from the TokenRequest API, asking for a new one once two thirds of the
// old one's life have passed.
type tokenSource struct {
	client    kubernetes.Interface
	namespace string
	account   string
	mu        sync.Mutex
	token     string
	renew     time.Time
}

func (s *tokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.token != "" && now.Before(s.renew) {
		return s.token, nil
	}
	secs := int64(tokenLifetime / time.Second)
	tr, err := s.client.CoreV1().ServiceAccounts(s.namespace).CreateToken(ctx, s.account, &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{Audiences: []string{TokenAudience}, ExpirationSeconds: &secs},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting a token of ServiceAccount %s/%s: %w", s.namespace, s.account, err)
	}
	life := tr.Status.ExpirationTimestamp.Sub(now)
	if life <= 0 {
		life = tokenLifetime
	}
	s.token, s.renew = tr.Status.Token, now.Add(life*2/3)
	return s.token, nil
}
