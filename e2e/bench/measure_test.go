package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
)

func TestConnErrorsAreToldFromAnswers(t *testing.T) {
	for err, want := range map[error]bool{
		&url.Error{Op: "Post", URL: "https://127.0.0.1:1", Err: syscall.ECONNREFUSED}:                                  true,
		&url.Error{Op: "Post", URL: "https://127.0.0.1:1", Err: &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}}: true,
		fmt.Errorf("read body: %w", syscall.ECONNRESET):                                                                true,
		errors.New("http2: client connection lost"):                                                                    true,
		errors.New("HTTP 500: encode admission review"):                                                                false,
		errDenied: false,
	} {
		if got := isConnError(err); got != want {
			t.Errorf("isConnError(%v) = %v, want %v", err, got, want)
		}
	}
}
