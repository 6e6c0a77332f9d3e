package controlplane

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// tailLines is how many lines of a child's log an early-exit error carries.
const tailLines = 25

// process is one child (etcd or kube-apiserver) running in its own process
// group, so that stopping it also stops anything it spawned.
type process struct {
	name    string
	cmd     *exec.Cmd
	logFile *os.File
	tail    *tailBuffer

	done    chan struct{} // closed once the child has been reaped
	err     error         // the child's exit error; read only after done is closed
	stopped atomic.Bool   // set by stop, so its own signals do not count as failure
}

// startProcess starts bin with args. Its output goes to logPath, to stdout
// and stderr when they are not nil, and to an in-memory tail for error
// messages.
func startProcess(name, bin string, args []string, logPath string, stdout, stderr io.Writer) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	p := &process{
		name:    name,
		logFile: logFile,
		tail:    &tailBuffer{max: 16 << 10},
		done:    make(chan struct{}),
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout = sink(logFile, p.tail, stdout)
	p.cmd.Stderr = sink(logFile, p.tail, stderr)
	p.cmd.SysProcAttr = childSysProcAttr()
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		p.logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func sink(logFile *os.File, tail *tailBuffer, extra io.Writer) io.Writer {
	if extra == nil {
		return io.MultiWriter(logFile, tail)
	}
	return io.MultiWriter(logFile, tail, extra)
}

// exited reports whether the child has already ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitError describes a child that ended while it was expected to run,
// with the end of its log, which usually names the cause.
func (p *process) exitError() error {
	status := "exited"
	if p.err != nil {
		status = p.err.Error()
	}
	return fmt.Errorf("%s ended early (%s); last lines of its log:\n%s", p.name, status, p.tail.lastLines(tailLines))
}

// stop asks the child's process group to terminate, and kills the group if it
// is still there after grace. An exit caused by the signals is not an error.
func (p *process) stop(grace time.Duration) error {
	p.stopped.Store(true)
	if p.exited() {
		return nil
	}
	pgid := p.cmd.Process.Pid
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("terminate %s: %w", p.name, err)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
		return nil
	case <-timer.C:
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s: %w", p.name, err)
	}
	<-p.done
	return fmt.Errorf("%s did not stop within %s of SIGTERM and was killed", p.name, grace)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0:0], t.buf[over:]...)
	}
	return len(b), nil
}

// lastLines returns at most n complete trailing lines.
func (t *tailBuffer) lastLines(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(string(bytes.TrimRight(t.buf, "\n")), "\n")
	if len(t.buf) >= t.max && len(lines) > 1 {
		lines = lines[1:] // the first line was cut
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
