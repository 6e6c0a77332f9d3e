// Command bench measures a harvester-network-webhook binary — this one or
// any other — under a named load (design §7).
//
// It fills a cluster with a scenario (L1: the load that OOM-kills upstream;
// L10: ten times it), skipping objects that exist, then starts the webhook
// registered by URL and reports time to the first correct admission
// answer, steady-state memory (live heap, heap in use, RSS, peak RSS) after
// an idle period, and admission latency and throughput, direct to the
// webhook and through the API server. The report is a table on stdout and
// JSON in -out. Numbers are figures, not assertions. Each latency phase
// also reports the server's CPU per review and the bench's own CPU; each
// direct phase is repeated against the floor (floor.go), a bare server
// that only decodes the review, for the ratio of the two.
//
// The cluster is a local etcd and kube-apiserver from bin/ (kept in
// -workdir when given, so a second run reuses the load), or the cluster of
// E2E_KUBECONFIG.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"

	"github.com/lowmem/harvester-network-webhook/e2e/controlplane"
	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// Report is the JSON written to -out.
type Report struct {
	Scenario     Scenario `json:"scenario"`
	Binary       string   `json:"binary"`
	Args         []string `json:"args"`
	ReadySeconds float64  `json:"ready_seconds"`
	// WarmUpSeconds is how long the API server took to fill its watch
	// caches and finish its start-up work before the webhook started
	// (warmAPIServer, settle).
	WarmUpSeconds float64   `json:"apiserver_warm_up_seconds"`
	IdleSeconds   float64   `json:"idle_seconds"`
	Steady        Memory    `json:"steady"`
	AfterLoad     Memory    `json:"after_load"`
	Latency       []Latency `json:"latency"`
	Churn         *Churn    `json:"churn,omitempty"`
	Soak          *Soak     `json:"soak,omitempty"`
	ProfileDir    string    `json:"profile_dir,omitempty"`

	// With -memory-limit: the process runs in a memory cgroup of that
	// limit with GOMEMLIMIT at gomemlimit_fraction of it. With -cpu-limit:
	// it (and the floor) run under a CFS quota of that limit, and the
	// periods are its cgroup's over the run. With either, it is restarted
	// after it dies; failed_requests is the sum of the phases' conn_errors.
	// All 0 without a limit.
	MemoryLimitBytes    int64   `json:"memory_limit_bytes"`
	GOMEMLIMITBytes     int64   `json:"gomemlimit_bytes"`
	GOMEMLIMITFraction  float64 `json:"gomemlimit_fraction"`
	OOMKills            int64   `json:"oom_kills"` // -1: the kernel does not count them
	CgroupPeakBytes     int64   `json:"cgroup_peak_bytes"`
	CPULimitMillis      int64   `json:"cpu_limit_millicores"`
	CPUPeriods          int64   `json:"cpu_periods"`
	CPUThrottledPeriods int64   `json:"cpu_throttled_periods"`
	Restarts            int     `json:"restarts"`
	FailedRequests      int     `json:"failed_requests"`

	// Cores is the number of the machine's CPUs: client_cpu_share is a
	// share of all of them.
	Cores int `json:"cores"`
}

// defaultGOMEMLIMITFraction of the memory limit is the child's GOMEMLIMIT:
// the rest is headroom for memory the Go runtime does not count (stacks
// outside the heap, cgo, the binary's own pages).
const defaultGOMEMLIMITFraction = 0.9

type config struct {
	scenario, binary, args, workdir, binDir, crdDir, out string
	profileDir                                           string
	memoryLimit, cpuLimit                                int64
	gomemlimitFraction                                   float64
	idle, duration, churn, soak                          time.Duration
	clients, apiClients, workers, soakRate               int
	loadOnly, skipLoad, skipFloor, insecure, foreign     bool
	apiOnly                                              bool
}

func main() {
	var err error
	if len(os.Args) == 3 && os.Args[1] == floorCommand {
		err = serveFloor(os.Args[2])
	} else {
		err = run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func logf(f string, a ...any) { fmt.Fprintf(os.Stderr, "==> "+f+"\n", a...) }

func run() error {
	var cfg config
	flag.StringVar(&cfg.scenario, "scenario", envOr("SCENARIO", "L1"), "load: L1, L10 or smoke (env SCENARIO)")
	flag.StringVar(&cfg.binary, "webhook-bin", envOr("WEBHOOK_BIN", "bin/harvester-network-webhook"), "webhook binary to measure (env WEBHOOK_BIN)")
	flag.StringVar(&cfg.args, "webhook-args", envOr("WEBHOOK_ARGS", "--harvester-version v1.9"), "extra webhook flags, space-separated (env WEBHOOK_ARGS)")
	flag.StringVar(&cfg.workdir, "workdir", os.Getenv("BENCH_WORKDIR"), "keep the local control plane's data here and reuse it (env BENCH_WORKDIR); empty: a temporary directory")
	flag.StringVar(&cfg.binDir, "bin-dir", "bin", "directory holding etcd and kube-apiserver")
	flag.StringVar(&cfg.crdDir, "crds", "manifests/crds", "CRDs the webhook watches")
	flag.StringVar(&cfg.out, "out", os.Getenv("OUT"), "write the report as JSON to this file (env OUT)")
	flag.DurationVar(&cfg.idle, "idle", 60*time.Second, "idle period between readiness and the steady-state memory reading")
	flag.DurationVar(&cfg.duration, "duration", 20*time.Second, "length of each latency phase")
	flag.DurationVar(&cfg.churn, "churn", 0, "after the latency phases, churn the cluster this long (2m in the issue) and report peak RSS; 0 skips")
	flag.DurationVar(&cfg.soak, "soak", 0, "after the latency phases (and -churn), send -soak-rate admissions a second through the API server "+
		"for this long with the churn running, sampling requests, failures and live heap every 10 s; 0 skips")
	flag.IntVar(&cfg.soakRate, "soak-rate", 200, "admissions a second during -soak")
	flag.IntVar(&cfg.clients, "clients", 50, "concurrent HTTP/2 clients for direct admission")
	flag.IntVar(&cfg.apiClients, "api-clients", 10, "concurrent clients for admission through the API server")
	flag.IntVar(&cfg.workers, "workers", 8, "concurrent creators while loading")
	flag.BoolVar(&cfg.loadOnly, "load-only", false, "load the scenario and stop (useful with -workdir or E2E_KUBECONFIG)")
	flag.BoolVar(&cfg.skipLoad, "skip-load", false, "measure without loading")
	flag.BoolVar(&cfg.apiOnly, "api-only", false, "start no webhook: measure admission through the API server of E2E_KUBECONFIG's cluster "+
		"to the webhook registered there (the chart's), for -duration per operation; the scenario must be loaded")
	flag.BoolVar(&cfg.skipFloor, "skip-floor", false, "do not repeat each direct phase against the floor, a bare HTTPS server that only decodes the review")
	flag.BoolVar(&cfg.foreign, "foreign", false, "the binary is configured the upstream way (environment only, no health port, registered by Service): measure memory and direct latency, skip the API server phases")
	flag.BoolVar(&cfg.insecure, "insecure", false, "skip TLS verification when the webhook's CA Secret is absent")
	flag.StringVar(&cfg.profileDir, "profile-dir", "", "save the webhook's pprof profiles here (heap when steady and after the latency phases, CPU of each direct phase); "+
		"starts our binary with --profiling true; not for -foreign")
	flag.Float64Var(&cfg.gomemlimitFraction, "gomemlimit-fraction", defaultGOMEMLIMITFraction,
		"with -memory-limit, set GOMEMLIMIT to this fraction of it; 0 leaves GOMEMLIMIT unset, as upstream's chart does")
	memoryLimit := flag.String("memory-limit", os.Getenv("MEMORY_LIMIT"), "run the webhook in a memory cgroup of this limit (Kubernetes quantity, e.g. 256Mi; env MEMORY_LIMIT) and restart it when it dies; empty: no limit")
	cpuLimit := flag.String("cpu-limit", os.Getenv("CPU_LIMIT"), "run the webhook and the floor under a CPU quota of this limit as the kubelet applies it (Kubernetes quantity, e.g. 200m; env CPU_LIMIT), "+
		"restarting the webhook when it dies; empty: no limit")
	flag.Parse()
	if cfg.profileDir != "" && cfg.foreign {
		return errors.New("-profile-dir needs our binary's --profiling; a -foreign binary has no pprof endpoint")
	}
	if cfg.gomemlimitFraction < 0 || cfg.gomemlimitFraction > 1 {
		return fmt.Errorf("-gomemlimit-fraction %v: want 0 (unset) or a fraction up to 1", cfg.gomemlimitFraction)
	}
	var err error
	if cfg.memoryLimit, err = quantity("memory-limit", *memoryLimit, "256Mi", (*resource.Quantity).Value); err != nil {
		return err
	}
	if cfg.cpuLimit, err = quantity("cpu-limit", *cpuLimit, "200m", (*resource.Quantity).MilliValue); err != nil {
		return err
	}

	s, ok := scenarios[cfg.scenario]
	if !ok {
		return fmt.Errorf("unknown scenario %q (want L1, L10 or smoke)", cfg.scenario)
	}
	// client-go logs requests cut off at the end of a phase; the report
	// counts what matters.
	klog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cp, err := startCluster(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = cp.Stop() }()
	rc := *cp.Config
	// No client-side rate limit: the loader and the API phases measure the
	// server, and the limiter fails calls near a phase's end.
	rc.QPS = -1
	rc.Timeout = time.Minute
	c, err := harness.NewClient(&rc)
	if err != nil {
		return err
	}
	if cfg.apiOnly {
		return measureRegistered(ctx, cfg, s, c)
	}
	if !cfg.skipLoad {
		if err := unregister(ctx, c); err != nil {
			return err
		}
		logf("loading scenario %s", s.Name)
		if err := load(ctx, c, &rc, s, cfg.workers, logf); err != nil {
			return err
		}
	}
	if cfg.loadOnly {
		return nil
	}
	rep, err := measure(ctx, cfg, s, cp, c)
	if err != nil {
		return err
	}
	printReport(rep)
	return writeReport(cfg.out, rep)
}

// writeReport writes rep as JSON to out, unless out is empty.
func writeReport(out string, rep *Report) error {
	if out == "" {
		return nil
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

// quantity parses the value s of flag name, a positive Kubernetes quantity,
// in the units of value; 0 when s is empty.
func quantity(name, s, example string, value func(*resource.Quantity) int64) (int64, error) {
	if s == "" {
		return 0, nil
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("-%s: %w", name, err)
	}
	if v := value(&q); v > 0 {
		return v, nil
	}
	return 0, fmt.Errorf("-%s %q: want a positive quantity such as %s", name, s, example)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func startCluster(ctx context.Context, cfg config) (*controlplane.ControlPlane, error) {
	opts := controlplane.Options{BinDir: cfg.binDir, WorkDir: cfg.workdir, CRDDir: cfg.crdDir, Logf: logf,
		// A kept etcd with hundreds of large CRDs takes a while to serve.
		StartTimeout: 5 * time.Minute}
	if cfg.workdir != "" {
		if err := os.MkdirAll(cfg.workdir, 0o755); err != nil {
			return nil, err
		}
	}
	logf("starting the control plane (or using %s when set)", controlplane.EnvKubeconfig)
	return controlplane.StartOrUse(ctx, opts)
}

// unregister removes webhook configurations left by an earlier run: they
// point at a dead URL and, failing closed, would block the load.
func unregister(ctx context.Context, c *harness.Client) error {
	for _, r := range []string{"validatingwebhookconfigurations", "mutatingwebhookconfigurations"} {
		gvr := schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: r}
		err := c.Dynamic.Resource(gvr).Delete(ctx, "harvester-network-webhook", metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete the %s left by an earlier run: %w", r, err)
		}
	}
	return nil
}

func measure(ctx context.Context, cfg config, s Scenario, cp *controlplane.ControlPlane, c *harness.Client) (_ *Report, err error) {
	rep := &Report{Scenario: s, Binary: cfg.binary, Args: strings.Fields(cfg.args), IdleSeconds: cfg.idle.Seconds(), ProfileDir: cfg.profileDir,
		Cores: runtime.NumCPU()}
	if cfg.profileDir != "" {
		rep.Args = append(rep.Args, "--profiling", "true")
	}
	logPath := filepath.Join(cp.WorkDir, "webhook.log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer func() { _ = log.Close() }()
	opts := harness.WebhookOptions{
		Binary: cfg.binary, Kubeconfig: cp.Kubeconfig, Log: log,
		Args: append([]string{"--namespace", harness.WebhookNamespace}, rep.Args...),
		// gctrace cross-checks go_gc_heap_live_bytes.
		Env: append(os.Environ(), "GODEBUG=gctrace=1"),
	}
	var fopts foreignOptions
	var cg *cgroup
	if cfg.memoryLimit > 0 || cfg.cpuLimit > 0 {
		if cg, err = newCgroup(limits{memoryBytes: cfg.memoryLimit, cpuMilli: cfg.cpuLimit}); err != nil {
			return nil, err
		}
		logf("cgroup %s: memory limit %d bytes, CPU limit %d millicores (0: no limit)", strings.Join(cg.dirs, " "), cfg.memoryLimit, cfg.cpuLimit)
		// Deferred before the process's Stop, so it runs after the exit.
		defer func() { err = errors.Join(err, cg.remove()) }()
		rep.CPULimitMillis = cfg.cpuLimit
		var env []string
		if cfg.memoryLimit > 0 {
			rep.MemoryLimitBytes, rep.GOMEMLIMITFraction = cfg.memoryLimit, cfg.gomemlimitFraction
			rep.GOMEMLIMITBytes = int64(float64(cfg.memoryLimit) * cfg.gomemlimitFraction)
			// A page is charged to the cgroup that reads it first: evicted,
			// the binary's pages count in the webhook's cgroup, as in a
			// container that is first to read its image's files.
			if err := evictFromPageCache(cfg.binary); err != nil {
				logf("the binary's pages stay in the page cache (charged elsewhere): %v", err)
			}
		}
		if rep.GOMEMLIMITBytes > 0 {
			env = []string{"GOMEMLIMIT=" + strconv.FormatInt(rep.GOMEMLIMITBytes, 10)}
		}
		// A restart must keep the URL the clients and the webhook
		// configurations use.
		ports, err := controlplane.FreePorts(2)
		if err != nil {
			return nil, err
		}
		opts.Env = append(opts.Env, env...)
		opts.Wrapper, opts.HTTPSPort, opts.HealthPort = cg.wrapper(), ports[0], ports[1]
		fopts = foreignOptions{port: ports[0], env: env, wrapper: cg.wrapper()}
	}
	start := func(ctx context.Context) (process, string, error) {
		if cfg.foreign {
			f, err := startForeign(cfg.binary, cp.Kubeconfig, rep.Args, log, fopts)
			if err != nil {
				return nil, "", err
			}
			return f, f.url, nil
		}
		w, err := harness.StartWebhook(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		return w, w.URL, nil
	}
	warm, err := warmAPIServer(ctx, cp.Config)
	if err != nil {
		return nil, err
	}
	logf("API server caches warm after %.2f s; waiting for it to go quiet", warm.Seconds())
	quiet, err := settle(ctx, cp.APIServerPid())
	if err != nil {
		return nil, err
	}
	rep.WarmUpSeconds = (warm + quiet).Seconds()
	logf("API server quiet after %.2f s more", quiet.Seconds())
	logf("starting %s (log: %s)", cfg.binary, logPath)
	began := time.Now()
	var wh process
	url := ""
	var sup *supervisor
	if cg != nil {
		sup = supervise(ctx, func(ctx context.Context) (process, error) {
			p, _, err := start(ctx)
			return p, err
		})
		wh, url = sup, "https://127.0.0.1:"+strconv.Itoa(opts.HTTPSPort)
	} else if wh, url, err = start(ctx); err != nil {
		return nil, err
	}
	defer func() { _ = wh.Stop() }()
	direct, err := newDirectClient(ctx, c, url, cfg.foreign, cfg.insecure)
	// A supervised webhook starts in the background and may not have
	// created its CA Secret yet.
	for wait := time.Now().Add(5 * time.Minute); sup != nil && apierrors.IsNotFound(err) && time.Now().Before(wait); {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		direct, err = newDirectClient(ctx, c, url, cfg.foreign, cfg.insecure)
	}
	if err != nil {
		return nil, err
	}
	if err := waitDenies(ctx, direct); err != nil {
		return nil, err
	}
	rep.ReadySeconds = time.Since(began).Seconds()
	logf("first correct answer after %.2f s", rep.ReadySeconds)
	if !cfg.foreign {
		if err := harness.WaitAdmitting(ctx, c, harness.WebhookNamespace); err != nil {
			return nil, err
		}
	}
	logf("idle for %s", cfg.idle)
	select {
	case <-time.After(cfg.idle):
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-wh.Exited():
		return nil, fmt.Errorf("the webhook exited:\n%s", wh.Logs())
	}
	rep.Steady = memory(wh)
	prof, err := newProfiler(cfg.profileDir, wh)
	if err != nil {
		return nil, err
	}
	prof.heap(ctx, "steady")

	ops, err := operations(ctx, c)
	if err != nil {
		return nil, err
	}
	var floor *floorServer
	if !cfg.skipFloor {
		if floor, err = startFloor(cfg.cpuLimit); err != nil {
			return nil, err
		}
		defer func() { err = errors.Join(err, floor.stop()) }()
	}
	clock := cpuClock(cg, wh.Pid)
	for _, op := range ops {
		want, err := learn(ctx, op.direct(direct))
		if errors.Is(err, errUnreachable) {
			// Alive but not answering (thrashing at its memory limit) or
			// down: the phase is reported as failed, the run goes on.
			logf("direct %s: no answer for %s: %v", op.name, learnWindow, err)
			rep.Latency = append(rep.Latency, Latency{Op: op.name, Path: "direct", Decision: "no answer", ConnErrors: 1,
				CPUSeconds: -1, CPUMicrosPerReview: -1, ClientCPUSeconds: -1, ClientCPUShare: -1})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("direct %s: %w", op.name, err)
		}
		logf("direct %s (%s) with %d clients for %s", op.name, want, cfg.clients, cfg.duration)
		profiled := prof.cpu(ctx, "direct-"+op.name, cfg.duration)
		peak := samplePeakRSS(wh)
		l := withCPU(clock, func() Latency {
			return hammerDirect(ctx, op.name, "direct", direct, cfg.clients, cfg.duration, want, op.direct)
		})
		l.PeakRSSBytes = peak()
		profiled()
		if floor != nil {
			logf("floor %s with %d clients for %s", op.name, cfg.clients, cfg.duration)
			fl := withCPU(cpuClock(floor.cg, floor.pid), func() Latency {
				return hammerDirect(ctx, op.name, "floor", floor.client(), cfg.clients, cfg.duration, decision{allowed: true}, op.direct)
			})
			fl.PeakRSSBytes = -1
			l.Floor, l.FloorRatio = &fl, ratio(l.CPUMicrosPerReview, fl.CPUMicrosPerReview)
		}
		rep.Latency = append(rep.Latency, l)
	}
	for _, op := range ops {
		if cfg.foreign {
			break // it registers a Service the local API server cannot reach
		}
		var stopPeak func() int64
		l, err := apiPhase(ctx, cfg, c, op, clock, func() { stopPeak = samplePeakRSS(wh) })
		if err != nil {
			return nil, err
		}
		l.PeakRSSBytes = stopPeak()
		rep.Latency = append(rep.Latency, l)
	}
	rep.AfterLoad = memory(wh)
	prof.heap(ctx, "after-load")
	if cfg.churn > 0 {
		logf("churn for %s: %d VMI status updates/s, %d Secrets created and deleted/min", cfg.churn, vmiUpdatesPerSecond, secretsPerMinute)
		ch := churn(ctx, c, s, wh, cfg.churn)
		rep.Churn = &ch
		prof.heap(ctx, "after-churn")
	}
	if cfg.soak > 0 && !cfg.foreign {
		logf("soak for %s: %d admissions/s through the API server, the churn running", cfg.soak, cfg.soakRate)
		if rep.Soak, err = soak(ctx, c, s, wh, ops, cfg.soak, cfg.soakRate); err != nil {
			return nil, err
		}
		prof.heap(ctx, "after-soak")
	}
	if cg != nil {
		rep.Restarts = sup.Restarts()
		if cfg.memoryLimit > 0 {
			rep.OOMKills, rep.CgroupPeakBytes = cg.oomKills(), cg.peak()
		}
		if cfg.cpuLimit > 0 {
			rep.CPUPeriods, rep.CPUThrottledPeriods = cg.throttling()
		}
		for _, l := range rep.Latency {
			rep.FailedRequests += l.ConnErrors
		}
	}
	return rep, nil
}

// waitDenies polls the webhook directly with a NAD it must deny until it
// does: readiness as a client sees it, whatever the binary's probes say.
func waitDenies(ctx context.Context, d *directClient) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var last error
	for {
		body, err := reviewBody(nadType, "CREATE", harness.WebhookNamespace, "admission-probe", stamp(probeNAD(), "1"), nil)
		if err != nil {
			return err
		}
		allowed, msg, err := d.review(ctx, validationPath, body)
		switch {
		case err != nil:
			last = err
		case allowed:
			last = errors.New("the out-of-range NAD was allowed")
		default:
			logf("denied: %s", msg)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no correct answer from the webhook (last: %w)", last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func mib(b int64) string {
	if b < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

func printReport(r *Report) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "scenario\t%s\n", r.Scenario.Name)
	fmt.Fprintf(w, "binary\t%s %s\n", r.Binary, strings.Join(r.Args, " "))
	fmt.Fprintf(w, "ready_seconds\t%.2f (API server warmed and quiet first, in %.2f s)\n", r.ReadySeconds, r.WarmUpSeconds)
	fmt.Fprintf(w, "\tsteady (after %.0f s idle)\tafter the latency phases\n", r.IdleSeconds)
	fmt.Fprintf(w, "live_heap_bytes\t%s (%s)\t%s\n", mib(r.Steady.LiveHeapBytes), r.Steady.LiveHeapSource, mib(r.AfterLoad.LiveHeapBytes))
	fmt.Fprintf(w, "gctrace live heap\t%s\t%s\n", mib(r.Steady.GCTraceLiveByte), mib(r.AfterLoad.GCTraceLiveByte))
	fmt.Fprintf(w, "heap_inuse_bytes\t%s\t%s\n", mib(r.Steady.HeapInuseBytes), mib(r.AfterLoad.HeapInuseBytes))
	fmt.Fprintf(w, "rss_bytes\t%s\t%s\n", mib(r.Steady.RSSBytes), mib(r.AfterLoad.RSSBytes))
	fmt.Fprintf(w, "peak_rss_bytes\t%s\t%s\n", mib(r.Steady.PeakRSSBytes), mib(r.AfterLoad.PeakRSSBytes))
	if r.MemoryLimitBytes > 0 {
		gml := "unset"
		if r.GOMEMLIMITBytes > 0 {
			gml = fmt.Sprintf("%s (%.0f%%)", mib(r.GOMEMLIMITBytes), 100*r.GOMEMLIMITFraction)
		}
		fmt.Fprintf(w, "memory limit / GOMEMLIMIT\t%s / %s\n", mib(r.MemoryLimitBytes), gml)
		fmt.Fprintf(w, "cgroup peak / oom kills\t%s / %d\n", mib(r.CgroupPeakBytes), r.OOMKills)
	}
	if r.CPULimitMillis > 0 {
		fmt.Fprintf(w, "CPU limit (webhook and floor)\t%dm: CFS quota %d µs per %d µs; throttled in %d of %d periods\n",
			r.CPULimitMillis, cfsQuota(r.CPULimitMillis), cfsPeriodMicros, r.CPUThrottledPeriods, r.CPUPeriods)
	}
	if r.MemoryLimitBytes > 0 || r.CPULimitMillis > 0 {
		fmt.Fprintf(w, "restarts / failed requests\t%d / %d\n", r.Restarts, r.FailedRequests)
	}
	if ch := r.Churn; ch != nil {
		fmt.Fprintf(w, "churn\t%.0f s: %d VMI updates, %d Secrets, %d errors\n", ch.Seconds, ch.VMIUpdates, ch.SecretsCreated, ch.Errors)
		fmt.Fprintf(w, "churn peak_rss (sampled)\t%s\n", mib(ch.PeakRSSBytes))
		fmt.Fprintf(w, "after churn live_heap / rss\t%s / %s\n", mib(ch.After.LiveHeapBytes), mib(ch.After.RSSBytes))
	}
	if sk := r.Soak; sk != nil && len(sk.Samples) > 0 {
		first, last := sk.Samples[0], sk.Samples[len(sk.Samples)-1]
		fmt.Fprintf(w, "soak\t%.0f s at %d/s: %d requests, %d failures, %d not sent; churn %d VMI updates, %d Secrets, %d errors\n",
			sk.Seconds, sk.Rate, sk.Requests, sk.Failures, sk.Skipped, sk.Churn.VMIUpdates, sk.Churn.SecretsCreated, sk.Churn.Errors)
		fmt.Fprintf(w, "soak live_heap first / last sample\t%s (%.0f s) / %s (%.0f s)\n", mib(first.LiveHeapBytes), first.Seconds, mib(last.LiveHeapBytes), last.Seconds)
		if sk.FirstFailure != "" {
			fmt.Fprintf(w, "soak first failure\t%s\n", sk.FirstFailure)
		}
	}
	_ = w.Flush()
	fmt.Println()
	printLatencies(r)
}

// printLatencies prints the report's latency phases as a table.
func printLatencies(r *Report) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "path\toperation\tanswer\trequests\terrors\tunreachable\tp50 ms\tp99 ms\tp99.9 ms\treq/s\tpeak RSS\t"+
		"CPU s\tcores\tCPU µs/review\t×floor\tclient CPU s\tclient/%d cores\t\n", r.Cores)
	for _, l := range r.Latency {
		latencyRow(w, l)
		if l.Floor != nil {
			latencyRow(w, *l.Floor)
		}
	}
	_ = w.Flush()
	fmt.Println("cores: the server's CPU over the phase's wall time; ×floor: CPU µs/review over the floor's (the floor row below it)")
}

func latencyRow(w io.Writer, l Latency) {
	vsFloor := "-"
	if l.Floor != nil {
		vsFloor = figure(l.FloorRatio, 2)
	}
	fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
		l.Path, l.Op, l.Decision, l.Requests, l.Errors, l.ConnErrors, l.P50Ms, l.P99Ms, l.P999Ms, l.Throughput, mib(l.PeakRSSBytes),
		figure(l.CPUSeconds, 2), figure(cpuShare(l.CPUSeconds, l.Seconds, 1), 2), figure(l.CPUMicrosPerReview, 0), vsFloor,
		figure(l.ClientCPUSeconds, 2), percent(l.ClientCPUShare))
}

// figure prints v with prec decimals, or "-" when it is unknown (< 0).
func figure(v float64, prec int) string {
	if v < 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

func percent(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}

func decodeB64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}
