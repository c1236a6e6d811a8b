package kubetest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Options adjusts Start.
type Options struct {
	// BindAddress is the address the API server listens on and advertises;
	// 127.0.0.1 when empty. A test that needs the API server's service
	// proxy to reach a hub in a network namespace may bind elsewhere.
	BindAddress string
	// ExtraArgs are appended to kube-apiserver's command line.
	ExtraArgs []string
}

// Env is a running API server.
type Env struct {
	// URL is the API server's https URL.
	URL string
	// AdminToken authenticates as "admin" in system:masters.
	AdminToken string
	// CAPEM is the CA that signed the serving certificate.
	CAPEM []byte
	// Config is an admin rest.Config; Client is built from it.
	Config *rest.Config
	Client kubernetes.Interface
	// Kubeconfig is the path of a kubeconfig file with one context,
	// "kubetest", for the admin user.
	Kubeconfig string
	// Dir holds the server's files and logs.
	Dir string
}

// Start builds (once per machine) and starts etcd and kube-apiserver and
// stops them when the test ends. It skips the test with the reason when the
// binaries cannot be built, unless CI is set.
func Start(t testing.TB) *Env { return StartWith(t, Options{}) }

// StartWith is Start with options.
func StartWith(t testing.TB, opts Options) *Env {
	t.Helper()
	ctx := context.Background()
	bins, err := Build(ctx)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("kubetest: %v", err)
		}
		t.Skipf("kubetest: cannot build the API server (set CI to make this fatal): %v", err)
	}
	if opts.BindAddress == "" {
		opts.BindAddress = "127.0.0.1"
	}
	dir := t.TempDir()
	etcdURL := startEtcd(t, bins.Etcd, dir)

	ip := net.ParseIP(opts.BindAddress)
	if ip == nil {
		t.Fatalf("kubetest: BindAddress %q is not an IP address", opts.BindAddress)
	}
	p, err := makePKI(dir, []net.IP{ip, net.IPv4(127, 0, 0, 1), net.ParseIP("10.96.0.1")})
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	token := randomHex(16)
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(token+`,admin,admin-uid,"system:masters"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t, opts.BindAddress)
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=" + opts.BindAddress,
		"--advertise-address=" + opts.BindAddress,
		"--secure-port=" + strconv.Itoa(port),
		"--tls-cert-file=" + p.certFile, "--tls-private-key-file=" + p.keyFile,
		"--cert-dir=" + dir,
		"--token-auth-file=" + tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + p.saPubFile,
		"--service-account-signing-key-file=" + p.saSigningFile,
		"--service-cluster-ip-range=10.96.0.0/12",
		"--disable-admission-plugins=ServiceAccount",
		"--allow-privileged=true",
		"--endpoint-reconciler-type=none",
	}
	args = append(args, opts.ExtraArgs...)
	logPath := filepath.Join(dir, "kube-apiserver.log")
	stopAPI := startProcess(t, bins.APIServer, args, logPath)

	url := "https://" + net.JoinHostPort(opts.BindAddress, strconv.Itoa(port))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(90 * time.Second)
	for {
		req, _ := http.NewRequest("GET", url+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			stopAPI()
			t.Fatalf("kubetest: kube-apiserver not ready after 90s (last: %v); log tail:\n%s", err, tail(logPath))
		}
		time.Sleep(200 * time.Millisecond)
	}
	cfg := &rest.Config{Host: url, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: p.caPEM}, QPS: 100, Burst: 200}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["kubetest"] = &clientcmdapi.Cluster{Server: url, CertificateAuthorityData: p.caPEM}
	kc.AuthInfos["kubetest"] = &clientcmdapi.AuthInfo{Token: token}
	kc.Contexts["kubetest"] = &clientcmdapi.Context{Cluster: "kubetest", AuthInfo: "kubetest", Namespace: "default"}
	kc.CurrentContext = "kubetest"
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		t.Fatal(err)
	}
	return &Env{URL: url, AdminToken: token, CAPEM: p.caPEM, Config: cfg, Client: client, Kubeconfig: kubeconfig, Dir: dir}
}

func startEtcd(t testing.TB, bin, dir string) string {
	t.Helper()
	client, peer := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.1")
	cu := fmt.Sprintf("http://127.0.0.1:%d", client)
	pu := fmt.Sprintf("http://127.0.0.1:%d", peer)
	logPath := filepath.Join(dir, "etcd.log")
	startProcess(t, bin, []string{
		"--name=kubetest", "--data-dir=" + filepath.Join(dir, "etcd"),
		"--listen-client-urls=" + cu, "--advertise-client-urls=" + cu,
		"--listen-peer-urls=" + pu, "--initial-advertise-peer-urls=" + pu,
		"--initial-cluster=kubetest=" + pu,
		"--unsafe-no-fsync", "--quota-backend-bytes=1073741824",
	}, logPath)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(cu + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cu
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubetest: etcd not healthy after 30s (last: %v); log tail:\n%s", err, tail(logPath))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startProcess runs bin until the test ends; its output goes to logPath.
func startProcess(t testing.TB, bin string, args []string, logPath string) (stop func()) {
	t.Helper()
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("kubetest: starting %s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); log.Close(); close(done) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

func freePort(t testing.TB, addr string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatalf("kubetest: no free port on %s: %v", addr, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(path string) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}
