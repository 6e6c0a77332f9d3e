// Package controlplane runs a local etcd and kube-apiserver for the
// end-to-end tests and `make run`.
//
// The binaries come from the repository's bin/ directory, built from the Go
// module proxy by `make tools` (see e2e/tools/tools.mk); there are no nodes,
// controllers or scheduler, only the API. Clients authenticate with static
// bearer tokens: an admin in system:masters, plus any Options.Users, which
// tests bind to roles to run the webhook under a restricted identity.
//
// StartOrUse points the same tests at an existing cluster instead when
// E2E_KUBECONFIG is set.
package controlplane

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// EnvKubeconfig names the environment variable that makes StartOrUse use an
// existing cluster instead of starting one.
const EnvKubeconfig = "E2E_KUBECONFIG"

const (
	rootModule          = "github.com/lowmem/harvester-network-webhook"
	defaultStartTimeout = time.Minute
	stopGrace           = 10 * time.Second
	adminName           = "admin"
	contextName         = "controlplane"
	serviceCIDR         = "10.0.0.0/24"
)

// User is an extra identity the API server accepts by bearer token.
//
// To stand in for a ServiceAccount, name it
// "system:serviceaccount:NAMESPACE:NAME" with the groups
// "system:serviceaccounts" and "system:serviceaccounts:NAMESPACE"; RBAC
// bindings whose subject is that ServiceAccount then apply to it.
type User struct {
	Name   string
	Groups []string
}

// Options configures Start and StartOrUse. The zero value is usable.
type Options struct {
	// BinDir holds the etcd and kube-apiserver binaries. Default: bin/ at the
	// root of the repository containing the working directory.
	BinDir string
	// WorkDir receives the etcd data, certificates, token file, logs and
	// kubeconfigs. Default: a new temporary directory, removed by Stop. A
	// given directory is kept, and its etcd data is reused on the next start.
	WorkDir string
	// CRDDir holds CustomResourceDefinitions to install (.yaml, .yml or
	// .json files, searched recursively; a file may hold several
	// documents). Empty means none.
	CRDDir string
	// Users are the extra identities that KubeconfigFor can return.
	Users []User
	// Logf receives progress messages. Default: discard.
	Logf func(format string, args ...any)
	// Stdout and Stderr also receive the children's output, which is always
	// written to WorkDir/etcd.log and WorkDir/kube-apiserver.log.
	Stdout, Stderr io.Writer
	// StartTimeout bounds Start from launch to CRDs established, and
	// StartOrUse's CRD installation on an existing cluster. Default: 1m.
	StartTimeout time.Duration
	// ExtraAPIServerArgs are appended to kube-apiserver's flags, e.g. an
	// audit policy and log. Ignored for an existing cluster.
	ExtraAPIServerArgs []string
}

// ControlPlane is a running etcd and kube-apiserver, or an existing cluster
// (see StartOrUse).
type ControlPlane struct {
	// Kubeconfig is the path of an admin kubeconfig file.
	Kubeconfig string
	// Config is the admin client configuration.
	Config *rest.Config
	// WorkDir is where files and logs are kept.
	WorkDir string

	logf        func(string, ...any)
	ownsWorkDir bool
	external    bool
	users       map[string]User
	tokens      map[string]string    // by user name; empty for an existing cluster
	base        *clientcmdapi.Config // admin kubeconfig, one context, credentials inline
	etcd        *process             // nil for an existing cluster
	apiserver   *process             // nil for an existing cluster
	done        chan struct{}        // closed when a child ends
	kubeconfigs sync.Mutex           // serialises writes in KubeconfigFor
	stopOnce    sync.Once
	stopErr     error
}

// StartOrUse returns a control plane for the end-to-end tests: the cluster of
// the kubeconfig named by E2E_KUBECONFIG when that is set, otherwise a new
// local one from Start.
//
// With an existing cluster nothing is started: the CRDs of opts.CRDDir that
// are absent are installed (present ones are left alone), KubeconfigFor
// impersonates the requested user with the admin credentials, and Stop only
// removes files this package wrote.
func StartOrUse(ctx context.Context, opts Options) (*ControlPlane, error) {
	path := os.Getenv(EnvKubeconfig)
	if path == "" {
		return Start(ctx, opts)
	}
	return use(ctx, path, opts)
}

// Start launches etcd and kube-apiserver on free loopback ports, waits until
// the API server is ready, writes an admin kubeconfig and installs the CRDs of
// opts.CRDDir. The children run until Stop; ctx bounds only the start-up.
//
// On error nothing is left running.
func Start(ctx context.Context, opts Options) (_ *ControlPlane, err error) {
	opts.setDefaults()
	etcdBin, apiserverBin, err := findBinaries(opts.BinDir)
	if err != nil {
		return nil, err
	}
	crds, err := loadCRDDir(opts.CRDDir)
	if err != nil {
		return nil, err
	}

	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	cp, err := newControlPlane(opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if stopErr := cp.shutdown(); stopErr != nil {
				cp.logf("cleanup after failed start: %v", stopErr)
			}
		}
	}()
	if err := cp.setUsers(opts.Users, true); err != nil {
		return nil, err
	}

	ports, err := FreePorts(3)
	if err != nil {
		return nil, err
	}
	etcdClient, etcdPeer, securePort := ports[0], ports[1], ports[2]

	if cp.etcd, err = cp.startEtcd(etcdBin, etcdClient, etcdPeer, opts); err != nil {
		return nil, err
	}
	if cp.apiserver, err = cp.startAPIServer(apiserverBin, etcdClient, securePort, opts); err != nil {
		return nil, err
	}
	go cp.watchChildren()

	if err := cp.waitReady(ctx); err != nil {
		return nil, err
	}
	cp.logf("kube-apiserver ready at %s after %s", cp.Config.Host, time.Since(began).Round(time.Millisecond))
	if err := installCRDs(ctx, cp.Config, crds, cp.logf); err != nil {
		return nil, err
	}
	cp.logf("control plane ready after %s; kubeconfig %s", time.Since(began).Round(time.Millisecond), cp.Kubeconfig)
	return cp, nil
}

func (o *Options) setDefaults() {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = defaultStartTimeout
	}
}

// use adopts the cluster of an existing kubeconfig.
func use(ctx context.Context, path string, opts Options) (_ *ControlPlane, err error) {
	opts.setDefaults()
	crds, err := loadCRDDir(opts.CRDDir)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	cp, err := newControlPlane(opts)
	if err != nil {
		return nil, err
	}
	cp.external = true
	defer func() {
		if err != nil {
			if stopErr := cp.shutdown(); stopErr != nil {
				cp.logf("cleanup after failed start: %v", stopErr)
			}
		}
	}()
	if err := cp.setUsers(opts.Users, false); err != nil {
		return nil, err
	}

	kc, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s=%s: %w", EnvKubeconfig, path, err)
	}
	// Inline referenced files and keep only the current context, so derived
	// kubeconfigs written to WorkDir stand on their own.
	if err := clientcmdapi.FlattenConfig(kc); err != nil {
		return nil, fmt.Errorf("flatten %s: %w", path, err)
	}
	if err := clientcmdapi.MinifyConfig(kc); err != nil {
		return nil, fmt.Errorf("minify %s: %w", path, err)
	}
	cp.base = kc
	if cp.Config, err = restConfig(kc); err != nil {
		return nil, fmt.Errorf("client config from %s: %w", path, err)
	}
	cp.Kubeconfig = path
	cp.logf("using the existing cluster at %s (%s)", cp.Config.Host, EnvKubeconfig)
	if err := installCRDs(ctx, cp.Config, crds, cp.logf); err != nil {
		return nil, err
	}
	return cp, nil
}

func newControlPlane(opts Options) (*ControlPlane, error) {
	cp := &ControlPlane{logf: opts.Logf, WorkDir: opts.WorkDir, done: make(chan struct{})}
	if cp.WorkDir == "" {
		dir, err := os.MkdirTemp("", "controlplane-")
		if err != nil {
			return nil, fmt.Errorf("create work dir: %w", err)
		}
		cp.WorkDir, cp.ownsWorkDir = dir, true
	} else if err := os.MkdirAll(cp.WorkDir, 0o700); err != nil {
		return nil, fmt.Errorf("create work dir: %w", err)
	}
	return cp, nil
}

// setUsers validates the extra identities and, for a local control plane,
// gives each (and the admin) a random bearer token.
func (cp *ControlPlane) setUsers(users []User, withTokens bool) error {
	cp.users = make(map[string]User, len(users))
	files := make(map[string]string, len(users))
	for _, u := range users {
		if err := validateUser(u); err != nil {
			return err
		}
		if _, dup := cp.users[u.Name]; dup || u.Name == adminName {
			return fmt.Errorf("user %q: name used twice (%q is the admin's)", u.Name, adminName)
		}
		file := kubeconfigFileName(u.Name)
		if other, dup := files[file]; dup {
			return fmt.Errorf("users %q and %q would share the kubeconfig file %s", other, u.Name, file)
		}
		cp.users[u.Name], files[file] = u, u.Name
	}
	if !withTokens {
		return nil
	}
	cp.tokens = map[string]string{adminName: rand.Text()}
	for name := range cp.users {
		cp.tokens[name] = rand.Text()
	}
	return nil
}

func validateUser(u User) error {
	if u.Name == "" {
		return errors.New("user with an empty name")
	}
	if strings.ContainsAny(u.Name, "\r\n") {
		return fmt.Errorf("user %q: name has a line break", u.Name)
	}
	for _, g := range u.Groups {
		// The token file joins groups with commas in one field.
		if g == "" || strings.ContainsAny(g, ",\r\n") {
			return fmt.Errorf("user %q: invalid group %q", u.Name, g)
		}
	}
	return nil
}

// writeTokenFile writes kube-apiserver's --token-auth-file: CSV lines of
// token, user name, uid, "group1,group2".
func (cp *ControlPlane) writeTokenFile(path string) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	records := [][]string{{cp.tokens[adminName], adminName, adminName, "system:masters"}}
	for name, u := range cp.users {
		records = append(records, []string{cp.tokens[name], name, name, strings.Join(u.Groups, ",")})
	}
	if err := w.WriteAll(records); err != nil {
		return fmt.Errorf("encode token file: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	return nil
}

func (cp *ControlPlane) startEtcd(bin string, clientPort, peerPort int, opts Options) (*process, error) {
	clientURL := "http://127.0.0.1:" + strconv.Itoa(clientPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	args := []string{
		"--name=controlplane",
		"--data-dir=" + filepath.Join(cp.WorkDir, "etcd"),
		"--listen-client-urls=" + clientURL,
		"--advertise-client-urls=" + clientURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=controlplane=" + peerURL,
		// Throwaway data: skipping fsync makes writes fast on any disk.
		"--unsafe-no-fsync=true",
		// The L10 benchmark's Secrets, CRDs and churn revisions approach the
		// 2 GiB default; running out would turn writes read-only mid-run.
		"--quota-backend-bytes=8589934592",
		"--log-level=warn",
	}
	p, err := startProcess("etcd", bin, args, filepath.Join(cp.WorkDir, "etcd.log"), opts.Stdout, opts.Stderr)
	if err != nil {
		return nil, err
	}
	cp.logf("started etcd (pid %d) on %s", p.cmd.Process.Pid, clientURL)
	return p, nil
}

func (cp *ControlPlane) startAPIServer(bin string, etcdPort, securePort int, opts Options) (*process, error) {
	pki, caPEM, err := writePKI(filepath.Join(cp.WorkDir, "pki"))
	if err != nil {
		return nil, err
	}
	tokenFile := filepath.Join(cp.WorkDir, "tokens.csv")
	if err := cp.writeTokenFile(tokenFile); err != nil {
		return nil, err
	}
	host := "https://127.0.0.1:" + strconv.Itoa(securePort)
	cp.base = localKubeconfig(host, caPEM, cp.tokens[adminName])
	if cp.Config, err = restConfig(cp.base); err != nil {
		return nil, err
	}
	cp.Kubeconfig = filepath.Join(cp.WorkDir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cp.base, cp.Kubeconfig); err != nil {
		return nil, fmt.Errorf("write kubeconfig: %w", err)
	}

	args := []string{
		"--etcd-servers=http://127.0.0.1:" + strconv.Itoa(etcdPort),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(securePort),
		"--tls-cert-file=" + pki.servingCert,
		"--tls-private-key-file=" + pki.servingKey,
		"--service-account-issuer=" + host,
		"--service-account-key-file=" + pki.saPub,
		"--service-account-signing-key-file=" + pki.saKey,
		"--token-auth-file=" + tokenFile,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=" + serviceCIDR,
		// No controller-manager creates ServiceAccounts, so pods would be
		// rejected for lacking one.
		"--disable-admission-plugins=ServiceAccount",
		"--allow-privileged=true",
		// Nothing routes to the loopback address it would publish in the
		// "kubernetes" Service's endpoints.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}
	args = append(args, opts.ExtraAPIServerArgs...)
	p, err := startProcess("kube-apiserver", bin, args, filepath.Join(cp.WorkDir, "kube-apiserver.log"), opts.Stdout, opts.Stderr)
	if err != nil {
		return nil, err
	}
	cp.logf("started kube-apiserver (pid %d) on %s", p.cmd.Process.Pid, host)
	return p, nil
}

// localKubeconfig is a one-context kubeconfig with inline credentials.
func localKubeconfig(host string, caPEM []byte, token string) *clientcmdapi.Config {
	kc := clientcmdapi.NewConfig()
	kc.Clusters[contextName] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: caPEM}
	kc.AuthInfos[adminName] = &clientcmdapi.AuthInfo{Token: token}
	kc.Contexts[contextName] = &clientcmdapi.Context{Cluster: contextName, AuthInfo: adminName}
	kc.CurrentContext = contextName
	return kc
}

func restConfig(kc *clientcmdapi.Config) (*rest.Config, error) {
	cfg, err := clientcmd.NewDefaultClientConfig(*kc, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("build client config: %w", err)
	}
	// client-go's default of 5 QPS would make tests that create many
	// objects slow for no benefit on a private API server.
	cfg.QPS, cfg.Burst = 100, 200
	return cfg, nil
}

// KubeconfigFor returns a kubeconfig file and client configuration that act
// as the named user, which must be one of Options.Users. On a local control
// plane it authenticates with the user's token; on an existing cluster it
// impersonates the user with the admin credentials.
func (cp *ControlPlane) KubeconfigFor(name string) (string, *rest.Config, error) {
	u, ok := cp.users[name]
	if !ok {
		return "", nil, fmt.Errorf("unknown user %q: declare it in Options.Users", name)
	}
	kc := cp.base.DeepCopy()
	kctx := kc.Contexts[kc.CurrentContext]
	auth := &clientcmdapi.AuthInfo{Token: cp.tokens[name]}
	if cp.external {
		auth = kc.AuthInfos[kctx.AuthInfo].DeepCopy()
		auth.Impersonate, auth.ImpersonateGroups = u.Name, u.Groups
	}
	kc.AuthInfos = map[string]*clientcmdapi.AuthInfo{name: auth}
	kctx.AuthInfo = name

	cfg, err := restConfig(kc)
	if err != nil {
		return "", nil, fmt.Errorf("user %q: %w", name, err)
	}
	path := filepath.Join(cp.WorkDir, kubeconfigFileName(name))
	cp.kubeconfigs.Lock()
	defer cp.kubeconfigs.Unlock()
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return "", nil, fmt.Errorf("write kubeconfig for %q: %w", name, err)
	}
	return path, cfg, nil
}

// kubeconfigFileName keeps user names such as
// "system:serviceaccount:ns:name" portable as file names.
func kubeconfigFileName(user string) string {
	return "kubeconfig-" + strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, user)
}

// Done is closed when etcd or kube-apiserver has ended, whether by Stop or
// not; Err then tells which. It is never closed for an existing cluster.
func (cp *ControlPlane) Done() <-chan struct{} { return cp.done }

// APIServerPid is the kube-apiserver's process id; 0 for an existing cluster.
func (cp *ControlPlane) APIServerPid() int {
	if cp.apiserver == nil {
		return 0
	}
	return cp.apiserver.cmd.Process.Pid
}

// Err reports a child that ended on its own, with the end of its log; nil
// while both run, after Stop, and for an existing cluster.
func (cp *ControlPlane) Err() error {
	for _, p := range []*process{cp.etcd, cp.apiserver} {
		if p != nil && p.exited() && !p.stopped.Load() {
			return p.exitError()
		}
	}
	return nil
}

func (cp *ControlPlane) watchChildren() {
	select {
	case <-cp.etcd.done:
	case <-cp.apiserver.done:
	}
	close(cp.done)
}

// Stop terminates kube-apiserver and then etcd (SIGTERM to each process
// group, SIGKILL after 10 s) and removes WorkDir if Start created it. It
// reports a child that had ended on its own. It is safe to call more than
// once; for an existing cluster it only removes files.
func (cp *ControlPlane) Stop() error {
	return errors.Join(cp.Err(), cp.shutdown())
}

// shutdown is Stop without reporting a child's own exit, for cleaning up
// after a failed start that has reported it already.
func (cp *ControlPlane) shutdown() error {
	cp.stopOnce.Do(func() {
		var errs []error
		for _, p := range []*process{cp.apiserver, cp.etcd} {
			if p != nil {
				errs = append(errs, p.stop(stopGrace))
			}
		}
		if cp.ownsWorkDir {
			if err := os.RemoveAll(cp.WorkDir); err != nil {
				errs = append(errs, fmt.Errorf("remove work dir: %w", err))
			}
		}
		cp.stopErr = errors.Join(errs...)
	})
	return cp.stopErr
}

// findBinaries locates etcd and kube-apiserver in binDir, or in the
// repository's bin/ when binDir is empty.
func findBinaries(binDir string) (etcd, apiserver string, err error) {
	if binDir == "" {
		root, err := repoRoot()
		if err != nil {
			return "", "", fmt.Errorf("find default bin dir: %w (set Options.BinDir)", err)
		}
		binDir = filepath.Join(root, "bin")
	}
	var paths [2]string
	for i, name := range []string{"etcd", "kube-apiserver"} {
		path := filepath.Join(binDir, name)
		info, err := os.Stat(path)
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			return "", "", fmt.Errorf("%s is missing or not executable: build it with `make bin/%s` (or `make tools`) at the repository root", path, name)
		}
		paths[i] = path
	}
	return paths[0], paths[1], nil
}

// repoRoot is the nearest directory at or above the working directory whose
// go.mod declares this repository's root module.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if modulePath(filepath.Join(dir, "go.mod")) == rootModule {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod of %s at or above %s", rootModule, wd)
		}
	}
}

// modulePath returns the module path declared in a go.mod file, or "".
func modulePath(gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// FreePorts returns n distinct free TCP ports on 127.0.0.1. They are held
// open together so the kernel cannot hand out the same port twice.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitReady polls kube-apiserver's /readyz, which also covers its etcd
// connection, until it answers 200, a child ends, or ctx is done.
func (cp *ControlPlane) waitReady(ctx context.Context) error {
	client, err := rest.HTTPClientFor(cp.Config)
	if err != nil {
		return fmt.Errorf("create HTTP client: %w", err)
	}
	ticker := time.NewTicker(200 * time.Millisecond)
	defer ticker.Stop()
	for {
		last := probe(ctx, client, cp.Config.Host+"/readyz")
		if last == nil {
			return nil
		}
		select {
		case <-cp.done:
			return cp.Err()
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready (last probe: %w): %w; last lines of its log:\n%s",
				last, context.Cause(ctx), cp.apiserver.tail.lastLines(tailLines))
		case <-ticker.C:
		}
	}
}

func probe(ctx context.Context, client *http.Client, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	return nil
}
