package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/lowmem/harvester-network-webhook/admission"
)

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestConfigDefaultsAreUpstreams(t *testing.T) {
	cfg, err := parseConfig(nil, envOf(map[string]string{"NAMESPACE": "harvester-system"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPSPort != 8443 || cfg.HealthPort != defaultHealthPort || cfg.Version != 0 || cfg.versionName() != "auto" ||
		cfg.ControllerUser != "system:serviceaccount:harvester-system:harvester-network-controller" || cfg.Threadiness != 5 || cfg.Profiling {
		t.Errorf("defaults %+v", cfg)
	}
}

func TestModeAndShutdownSettings(t *testing.T) {
	cfg, err := parseConfig(nil, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Audit || cfg.Service != "harvester-network-webhook" || cfg.ShutdownDrain != 10*time.Second || cfg.WatchFailureGrace != 30*time.Second {
		t.Errorf("defaults: audit %v service %q drain %v grace %v", cfg.Audit, cfg.Service, cfg.ShutdownDrain, cfg.WatchFailureGrace)
	}
	cfg, err = parseConfig([]string{"--shutdown-drain", "0s"}, envOf(map[string]string{
		"MODE": "audit", "SERVICE_NAME": "harvester-network-webhook-audit", "SHUTDOWN_DRAIN": "1m", "WATCH_FAILURE_GRACE": "2m",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Audit || cfg.Service != "harvester-network-webhook-audit" || cfg.ShutdownDrain != 0 || cfg.WatchFailureGrace != 2*time.Minute {
		t.Errorf("set: audit %v service %q drain %v grace %v", cfg.Audit, cfg.Service, cfg.ShutdownDrain, cfg.WatchFailureGrace)
	}
}

func TestFlagsWinOverEnvironment(t *testing.T) {
	env := envOf(map[string]string{"HARVESTER_VERSION": "v1.4", "WEBHOOK_SERVER_HTTPS_PORT": "9443", "NAMESPACE": "from-env"})
	cfg, err := parseConfig([]string{"--harvester-version", "v1.7", "--namespace", "from-flag"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Version != admission.V1_7 || cfg.Namespace != "from-flag" || cfg.HTTPSPort != 9443 {
		t.Errorf("got version %v namespace %q port %d", cfg.Version, cfg.Namespace, cfg.HTTPSPort)
	}
}

func TestVersionAutoDetects(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want admission.Version
	}{
		{args: []string{"--harvester-version", "auto"}, env: "v1.4", want: 0},
		{args: []string{"--harvester-version", "v1.8"}, env: "auto", want: admission.V1_8},
		{env: "AUTO", want: 0},
		{env: "v1.5.2", want: admission.V1_5},
	} {
		cfg, err := parseConfig(tc.args, envOf(map[string]string{"HARVESTER_VERSION": tc.env}), io.Discard)
		if err != nil || cfg.Version != tc.want {
			t.Errorf("%q with HARVESTER_VERSION=%s: %+v, %v; want version %d", tc.args, tc.env, cfg, err, tc.want)
		}
	}
}

func TestBadConfigurationIsAClearError(t *testing.T) {
	for args, want := range map[string]string{
		"--harvester-version v2.0":                         "accepted values are v1.4, v1.5, v1.6, v1.7, v1.8, v1.9 (or auto)",
		"--https-port 0":                                   "--https-port",
		"--health-port 8443":                               "are both 8443",
		"--lru-bytes -1":                                   "--lru-bytes",
		"--webhook-url http://127.0.0.1:8443":              "is not an https://host[:port] URL",
		"--namespace=":                                     "--namespace must not be empty",
		"--loglevel":                                       "flag needs an argument",
		"extra":                                            "unexpected arguments",
		"--threadiness many":                               "--threadiness",
		"--profiling maybe":                                "is not true or false",
		"--profiling true --health-port 0":                 "needs the health port",
		"--mode dry-run":                                   `"dry-run" is neither enforce nor audit`,
		"--shutdown-drain soon":                            "--shutdown-drain",
		"--shutdown-drain -1s":                             "at least 0s",
		"--watch-failure-grace 10ms":                       "at least 1s",
		"--service-name Bad_Name":                          "is not a Service name",
		"--client-ca-file /no/such/file":                   "--client-ca-file: open /no/such/file: no such file or directory",
		"--client-ca-file config_test.go":                  "--client-ca-file: config_test.go holds no PEM certificate",
		"--webhook-url https://127.0.0.1:8443 --no-such-x": "flag provided but not defined",
	} {
		_, err := parseConfig(strings.Fields(args), envOf(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", args, err, want)
		}
	}
}

func TestHelpExplainsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	if _, err := parseConfig([]string{"--help"}, envOf(nil), &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: error %v, want flag.ErrHelp", err)
	}
	for _, flag := range []string{"loglevel", "threadiness", "https-port", "namespace", "controller-user", "gc-user",
		"kubeconfig", "webhook-url", "harvester-version", "health-port", "lru-bytes", "profiling", "mode", "service-name", "shutdown-drain", "watch-failure-grace", "LOGLEVEL", "HARVESTER_VERSION",
		"SelfSubjectAccessReviews", "hostnetworkconfigs.network.harvesterhci.io", `Helm release "harvester"`} {
		if !strings.Contains(out.String(), flag) {
			t.Errorf("--help does not mention %s", flag)
		}
	}
}
