package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/lowmem/harvester-network-webhook/admission"
	"github.com/lowmem/harvester-network-webhook/certs"
	"github.com/lowmem/harvester-network-webhook/informers"
)

// config is everything the process is told. Each field comes from its flag,
// else its environment variable, else the default, as upstream's CLI does.
type config struct {
	LogLevel       string
	Threadiness    int
	HTTPSPort      int
	Namespace      string
	ControllerUser string
	GCUser         string
	Kubeconfig     string
	WebhookURL     string
	// Version is the rule set; zero (auto) detects it from the cluster.
	Version    admission.Version
	HealthPort int
	LRUBytes   int64
	Profiling  bool
	// Audit is --mode audit: warn instead of denying, patch nothing.
	Audit bool
	// Service names the Service the configurations point to and the
	// certificate's Secrets.
	Service string
	// ShutdownDrain is how long the webhook keeps serving, unready, after
	// the first SIGTERM.
	ShutdownDrain time.Duration
	// WatchFailureGrace is how long a list/watch may fail before /readyz
	// says not ready.
	WatchFailureGrace time.Duration
	// CertValidity, CAValidity, CertRenewFraction and CAPropagationDelay
	// configure the certificates (certs.Options).
	CertValidity       time.Duration
	CAValidity         time.Duration
	CertRenewFraction  float64
	CAPropagationDelay time.Duration
	// ClientCAFile, when set, makes the HTTPS server require client
	// certificates signed by one of its CAs.
	ClientCAFile string
}

// autoVersion is --harvester-version's default: detect the release.
const autoVersion = "auto"

// defaultHealthPort sits next to upstream's 8443; the upstream pod uses no
// other port, so it cannot collide there.
const defaultHealthPort = 8444

// parseConfig reads args and the environment; usage and flag errors go to
// output.
func parseConfig(args []string, getenv func(string) string, output io.Writer) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("harvester-network-webhook", flag.ContinueOnError)
	fs.SetOutput(output)
	var version string
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&cfg.LogLevel, "loglevel", env("LOGLEVEL", "info"),
		"log level: debug, info, warn or error (env LOGLEVEL)")
	fs.StringVar(&cfg.Namespace, "namespace", env("NAMESPACE", "harvester-system"),
		"namespace of the webhook Service and its Secrets; also part of the webhook names (env NAMESPACE)")
	fs.StringVar(&cfg.ControllerUser, "controller-user", env("CONTROLLER_USER_NAME", "system:serviceaccount:harvester-system:harvester-network-controller"),
		"username of the network controller; from v1.9 only it may create, change or delete mgmt VlanConfigs (env CONTROLLER_USER_NAME)")
	fs.StringVar(&cfg.GCUser, "gc-user", env("GARBAGE_COLLECTION_USER_NAME", "system:serviceaccount:kube-system:generic-garbage-collector"),
		"username of the garbage collector; accepted for compatibility, no rule reads it (env GARBAGE_COLLECTION_USER_NAME)")
	fs.StringVar(&cfg.Kubeconfig, "kubeconfig", getenv("KUBECONFIG"),
		"kubeconfig file; empty means the in-cluster service account (env KUBECONFIG)")
	fs.StringVar(&cfg.WebhookURL, "webhook-url", getenv("WEBHOOK_URL"),
		"register clientConfig.url <URL>/v1/webhook/... instead of the Service, for runs outside the cluster, e.g. https://127.0.0.1:8443; "+
			"the serving certificate then also covers the URL's host (env WEBHOOK_URL)")
	fs.StringVar(&version, "harvester-version", env("HARVESTER_VERSION", autoVersion),
		"Harvester release whose webhook rules to enforce: auto (read from the cluster at start, see above), v1.4, v1.5, v1.6, v1.7, v1.8 or v1.9; "+
			"newer releases get the v1.9 rules (env HARVESTER_VERSION)")
	threadiness := fs.String("threadiness", env("THREADINESS", "5"),
		"accepted for compatibility with upstream; this webhook has no worker queues (env THREADINESS)")
	httpsPort := fs.String("https-port", env("WEBHOOK_SERVER_HTTPS_PORT", "8443"),
		"HTTPS port of the admission endpoints (env WEBHOOK_SERVER_HTTPS_PORT)")
	healthPort := fs.String("health-port", env("HEALTH_PORT", strconv.Itoa(defaultHealthPort)),
		"plain-HTTP port of /healthz, /readyz and /metrics; 0 disables it (env HEALTH_PORT)")
	lruBytes := fs.String("lru-bytes", env("LRU_BYTES", strconv.FormatInt(informers.DefaultLRUBytes, 10)),
		"byte budget of the cache of full objects fetched on demand (env LRU_BYTES)")
	profiling := fs.String("profiling", env("PROFILING", "false"),
		"serve Go's pprof profiles under /debug/pprof/ on the health port: true or false (env PROFILING)")
	mode := fs.String("mode", env("MODE", "enforce"),
		"enforce: deny and patch as upstream; audit: deny and patch nothing, return each would-be denial as a warning, log and count it, "+
			"with failure policy Ignore on both webhooks (env MODE)")
	fs.StringVar(&cfg.Service, "service-name", env("SERVICE_NAME", admission.Name),
		"Service the webhook configurations point to; it also names both configurations, their webhooks (validator.<namespace>.<name>), "+
			"the Secrets <name>-ca and <name>-tls and the certificate's DNS name. Another name, with --mode audit, runs an audit beside "+
			"upstream's webhook (env SERVICE_NAME)")
	drain := fs.String("shutdown-drain", env("SHUTDOWN_DRAIN", "10s"),
		"after the first SIGTERM, keep answering reviews this long with /readyz failing, so that the endpoints drop the pod first; a second signal exits at once (env SHUTDOWN_DRAIN)")
	certValidity := fs.String("cert-validity", env("CERT_VALIDITY", certs.DefaultLeafValidity.String()),
		"lifetime of a serving certificate this webhook issues (env CERT_VALIDITY)")
	caValidity := fs.String("ca-validity", env("CA_VALIDITY", certs.DefaultCAValidity.String()),
		"lifetime of a CA this webhook creates (env CA_VALIDITY)")
	renewFraction := fs.String("cert-renew-fraction", env("CERT_RENEW_FRACTION", strconv.FormatFloat(certs.DefaultRenewFraction, 'f', 3, 64)),
		"renew the serving certificate when less than this fraction of --cert-validity is left, and the CA when less than this fraction of --ca-validity is; checked periodically and swapped in without a restart (env CERT_RENEW_FRACTION)")
	propagation := fs.String("ca-propagation-delay", env("CA_PROPAGATION_DELAY", certs.DefaultPropagationDelay.String()),
		"after a CA rotation, how long the new CA sits in every caBundle before a certificate it signed is served; shorter than both renewal windows (env CA_PROPAGATION_DELAY)")
	grace := fs.String("watch-failure-grace", env("WATCH_FAILURE_GRACE", informers.DefaultWatchFailureGrace.String()),
		"how long a cache's list/watch may keep failing before /readyz says not ready (env WATCH_FAILURE_GRACE)")
	fs.StringVar(&cfg.ClientCAFile, "client-ca-file", getenv("CLIENT_CA_FILE"),
		"PEM file of the CAs whose client certificates the HTTPS server requires; empty (the default, as upstream) asks for none. "+
			"The API server presents one when its AdmissionConfiguration names a kubeConfigFile for the webhook (env CLIENT_CA_FILE)")
	fs.Usage = func() { usage(fs.Output(), fs) }
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if !strings.EqualFold(strings.TrimSpace(version), autoVersion) {
		if cfg.Version, err = admission.ParseVersion(version); err != nil {
			return nil, fmt.Errorf("--harvester-version: %w (or %s)", err, autoVersion)
		}
	}
	for _, p := range []struct {
		name string
		s    string
		dst  *int
		min  int
	}{{"threadiness", *threadiness, &cfg.Threadiness, 1}, {"https-port", *httpsPort, &cfg.HTTPSPort, 1}, {"health-port", *healthPort, &cfg.HealthPort, 0}} {
		v, err := strconv.Atoi(p.s)
		if err != nil || v < p.min || v > 65535 {
			return nil, fmt.Errorf("--%s: %q is not a number between %d and 65535", p.name, p.s, p.min)
		}
		*p.dst = v
	}
	if cfg.LRUBytes, err = strconv.ParseInt(*lruBytes, 10, 64); err != nil || cfg.LRUBytes <= 0 {
		return nil, fmt.Errorf("--lru-bytes: %q is not a positive number of bytes", *lruBytes)
	}
	if cfg.Profiling, err = strconv.ParseBool(*profiling); err != nil {
		return nil, fmt.Errorf("--profiling: %q is not true or false", *profiling)
	}
	switch *mode {
	case "enforce":
	case "audit":
		cfg.Audit = true
	default:
		return nil, fmt.Errorf("--mode: %q is neither enforce nor audit", *mode)
	}
	for _, d := range []struct {
		name, s string
		dst     *time.Duration
		min     time.Duration
	}{{"shutdown-drain", *drain, &cfg.ShutdownDrain, 0}, {"watch-failure-grace", *grace, &cfg.WatchFailureGrace, time.Second},
		{"cert-validity", *certValidity, &cfg.CertValidity, time.Minute}, {"ca-validity", *caValidity, &cfg.CAValidity, time.Minute},
		{"ca-propagation-delay", *propagation, &cfg.CAPropagationDelay, time.Second}} {
		v, err := time.ParseDuration(d.s)
		if err != nil || v < d.min {
			return nil, fmt.Errorf("--%s: %q is not a duration of at least %s", d.name, d.s, d.min)
		}
		*d.dst = v
	}
	if cfg.CertRenewFraction, err = strconv.ParseFloat(*renewFraction, 64); err != nil || cfg.CertRenewFraction <= 0 || cfg.CertRenewFraction >= 1 {
		return nil, fmt.Errorf("--cert-renew-fraction: %q is not a number between 0 and 1", *renewFraction)
	}
	if errs := validation.IsDNS1035Label(cfg.Service); len(errs) > 0 {
		return nil, fmt.Errorf("--service-name: %q is not a Service name: %s", cfg.Service, strings.Join(errs, "; "))
	}
	if cfg.Profiling && cfg.HealthPort == 0 {
		return nil, fmt.Errorf("--profiling needs the health port, but --health-port is 0")
	}
	if cfg.HealthPort != 0 && cfg.HealthPort == cfg.HTTPSPort {
		return nil, fmt.Errorf("--health-port and --https-port are both %d", cfg.HTTPSPort)
	}
	if cfg.Namespace == "" {
		return nil, fmt.Errorf("--namespace must not be empty")
	}
	if cfg.ClientCAFile != "" {
		if _, err := loadClientCAs(cfg.ClientCAFile); err != nil {
			return nil, err
		}
	}
	if cfg.WebhookURL != "" {
		u, err := url.Parse(cfg.WebhookURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("--webhook-url: %q is not an https://host[:port] URL", cfg.WebhookURL)
		}
		cfg.WebhookURL = strings.TrimSuffix(cfg.WebhookURL, "/")
	}
	return cfg, nil
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, `Usage: harvester-network-webhook [flags]

Validates and mutates Harvester NetworkAttachmentDefinitions, ClusterNetworks,
VlanConfigs, HostNetworkConfigs and kube-ovn Subnets exactly as the upstream
harvester-network-webhook of the selected Harvester release, serving HTTPS on
%s and %s.
It keeps its CA and serving certificate in the Secrets
<namespace>/%[3]s-ca and -tls (reusing upstream's), and registers the
ValidatingWebhookConfiguration and MutatingWebhookConfiguration %[3]s
once its caches have synced.

The rule set follows --harvester-version. With auto, the default, it is read
from the cluster once at start, before any cache is filled: the upstream chart
of each release grants its webhook a ClusterRole with the kinds that release
reads, so SelfSubjectAccessReviews and the CRDs installed give the release line

  the role may also watch                      with the CRD installed                      rules
  nothing more (v1.4), virtualmachines (v1.5)  -                                           v1.4 (= v1.5)
  virtualmachines, kube-ovn subnets and vpcs   virtualmachines.kubevirt.io                 v1.7
  all those and hostnetworkconfigs             hostnetworkconfigs.network.harvesterhci.io  v1.9

and the newest revision of the Helm release "harvester" in the namespace, if
readable, names the release within the line (v1.6 or v1.7; v1.8 or v1.9).
Never a rule set the role cannot serve: if the API server refuses the
questions, the oldest (v1.4) is used. The choice and its evidence are logged
and shown on /readyz and /metrics; set HARVESTER_VERSION to pin it.

Every flag can also be set through the environment variable named in its help;
a flag given on the command line wins.

Flags:
`, admission.ValidationPath, admission.MutationPath, admission.Name)
	fs.PrintDefaults()
}

// newLogger builds the JSON logger. An unknown level falls back to info with
// a warning rather than failing, so a typo cannot take admission down.
func newLogger(level string) (*zap.Logger, error) {
	zc := zap.NewProductionConfig()
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		lvl = zapcore.InfoLevel
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.Sampling = nil
	log, buildErr := zc.Build()
	if buildErr != nil {
		return nil, buildErr
	}
	if err != nil {
		log.Warn("unknown log level, using info", zap.String("loglevel", level))
	}
	return log, nil
}
