// Command harvester-network-webhook is a drop-in, low-memory replacement for
// Harvester's network admission webhook: the same decisions, paths, Secrets
// and webhook configurations, from metadata-only caches.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "harvester-network-webhook:", err)
		os.Exit(2)
	}
	log, err := newLogger(cfg.LogLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "harvester-network-webhook:", err)
		os.Exit(2)
	}
	defer func() { _ = log.Sync() }()

	// The first SIGINT/SIGTERM starts a graceful shutdown. Handling stops
	// then, so a second one takes the default action: exit at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("webhook stopped", zap.Error(err))
		stop()
		os.Exit(1)
	}
}
