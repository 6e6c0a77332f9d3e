package main

import (
	"context"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/lowmem/harvester-network-webhook/admission"
	"github.com/lowmem/harvester-network-webhook/detect"
)

// ruleSet is the Harvester rule set in use and how it was chosen.
type ruleSet struct {
	version admission.Version
	// source is "configured", "detected", or "fallback" when the cluster
	// could not be asked.
	source string
	// detail says what the choice rests on, for /readyz.
	detail string
}

func (r ruleSet) String() string {
	if r.detail == "" {
		return r.version.String() + " (" + r.source + ")"
	}
	return r.version.String() + " (" + r.source + ": " + r.detail + ")"
}

// versionName is --harvester-version as given: a release or "auto".
func (c *config) versionName() string {
	if c.Version == 0 {
		return autoVersion
	}
	return c.Version.String()
}

// chooseRules returns the configured rule set, or detects the release from
// the cluster (package detect). Detection asks again, backing off, while
// the API server cannot answer: a transient failure must not settle the
// rule set for the life of the process.
func chooseRules(ctx context.Context, cfg *config, restCfg *rest.Config, clients *clientSet, log *zap.Logger) (ruleSet, error) {
	if cfg.Version != 0 {
		return ruleSet{version: cfg.Version, source: "configured"}, nil
	}
	// The questions are a short burst, once: on clients of their own,
	// without client-go's rate limit (5/s, burst 10), they neither wait nor
	// spend the tokens the informers' lists need a moment later.
	unthrottled := rest.CopyConfig(restCfg)
	unthrottled.QPS = -1
	dyn, err := dynamic.NewForConfig(unthrottled)
	if err != nil {
		return ruleSet{}, err
	}
	meta, err := metadata.NewForConfig(unthrottled)
	if err != nil {
		return ruleSet{}, err
	}
	cluster := detect.APICluster{Dynamic: dyn, Metadata: meta, Secrets: clients.secrets, Namespace: cfg.Namespace}
	began := time.Now()
	choice, err := retry(ctx, log, "detect the Harvester release", func() (detect.Choice, error) {
		return detect.Detect(ctx, cluster)
	})
	if err != nil {
		return ruleSet{}, err
	}
	fields := []zap.Field{zap.Stringer("harvesterVersion", choice.Version), zap.String("releases", choice.Releases),
		zap.Strings("evidence", choice.Evidence), zap.Duration("after", time.Since(began))}
	if choice.Refused != nil {
		log.Warn("cannot ask the API server which Harvester release this is: using the oldest rule set; set HARVESTER_VERSION to choose",
			append(fields, zap.Error(choice.Refused))...)
		return ruleSet{version: choice.Version, source: "fallback", detail: "the API server refused the questions: " + choice.Refused.Error()}, nil
	}
	log.Info("Harvester release detected", fields...)
	return ruleSet{version: choice.Version, source: "detected", detail: "Harvester " + choice.Releases}, nil
}
