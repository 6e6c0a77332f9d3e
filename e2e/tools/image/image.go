package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's user: distroless's "nonroot", so that runAsNonRoot needs no
// runAsUser and files written by other images of that kind stay readable.
const (
	uid  = 65532
	user = "65532:65532"
)

// binDir is on the image's PATH, where upstream's image keeps its binary:
// the upstream chart starts it by name (command: [harvester-network-webhook]).
const binDir = "/usr/bin"

const pathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

var (
	passwd = fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/nonexistent:/sbin/nologin\n", uid, uid)
	group  = fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", uid)
)

// Options says what goes into the image.
type Options struct {
	// Binary is the path of a statically linked Linux executable.
	Binary string
	// Name is its file name in /usr/bin and the entrypoint; empty: the
	// base name of Binary.
	Name string
	// Created stamps the config, the history and every file, so that the
	// same binary always gives the same digest.
	Created time.Time
}

// Build returns a single-layer OCI image holding the binary, /etc/passwd,
// /etc/group and /tmp, running as 65532:65532 with the binary as
// entrypoint. The platform is read from the binary's ELF header.
func Build(opts Options) (v1.Image, error) {
	bin, err := os.ReadFile(opts.Binary)
	if err != nil {
		return nil, err
	}
	arch, err := staticArch(opts.Binary)
	if err != nil {
		return nil, err
	}
	name := opts.Name
	if name == "" {
		name = path.Base(opts.Binary)
	}
	if name == "." || name == ".." || strings.Contains(name, "/") {
		return nil, fmt.Errorf("image: %q is not a file name", name)
	}
	entrypoint := path.Join(binDir, name)
	rootfs, err := rootFS(name, bin, opts.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(rootfs)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: opts.Created.UTC()}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		Created:   created,
		CreatedBy: "e2e/tools/image: " + entrypoint + ", /etc/passwd, /etc/group, /tmp",
	}})
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", arch
	cfg.Created = created
	cfg.Config = v1.Config{
		User:       user,
		Entrypoint: []string{entrypoint},
		Env:        []string{pathEnv},
		WorkingDir: "/",
	}
	return mutate.ConfigFile(img, cfg)
}

// staticArch returns the GOARCH name of a statically linked Linux ELF
// executable: the image has no dynamic loader or libc.
func staticArch(file string) (string, error) {
	f, err := elf.Open(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	defer func() { _ = f.Close() }()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "", fmt.Errorf("%s is dynamically linked; build it with CGO_ENABLED=0", file)
		}
	}
	arch, ok := map[elf.Machine]string{
		elf.EM_X86_64:  "amd64",
		elf.EM_AARCH64: "arm64",
		elf.EM_386:     "386",
		elf.EM_ARM:     "arm",
		elf.EM_PPC64:   "ppc64le",
		elf.EM_S390:    "s390x",
		elf.EM_RISCV:   "riscv64",
	}[f.Machine]
	if !ok {
		return "", fmt.Errorf("%s: unsupported machine %s", file, f.Machine)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return "", fmt.Errorf("%s is not an executable (%s)", file, f.Type)
	}
	return arch, nil
}

// rootFS returns the layer's uncompressed tar: parents before children,
// owned by root, every time stamp mtime, the binary as /usr/bin/name.
func rootFS(name string, bin []byte, mtime time.Time) ([]byte, error) {
	entries := []struct {
		name    string
		mode    int64
		content []byte // nil: a directory
	}{
		{"etc/", 0o755, nil},
		{"etc/group", 0o644, []byte(group)},
		{"etc/passwd", 0o644, []byte(passwd)},
		{"tmp/", 0o1777, nil},
		{"usr/", 0o755, nil},
		{binDir[1:] + "/", 0o755, nil},
		{path.Join(binDir[1:], name), 0o755, bin},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Typeflag: tar.TypeDir, Name: e.name, Mode: e.mode, ModTime: mtime}
		if e.content != nil {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.content))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.content); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
