// Package image checks the image archive that `make image` writes, without
// a container engine: it packs the webhook twice with e2e/tools/image, then
// reads the archive as docker, podman and containerd would (index.json,
// manifest.json, content-addressed blobs), checks the config and the
// layer's files, and runs the binary unpacked from the layer.
package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	ref        = "ghcr.io/lowmem/harvester-network-webhook:test"
	entrypoint = "/usr/bin/harvester-network-webhook"
)

var (
	binary   string            // the webhook, as packed
	archives [2]string         // two archives built from it
	digests  [2]string         // the digests the tool printed for them
	files    map[string][]byte // the first archive's files by name
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "e2e-image-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	if err := setUp(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "e2e/image setup:", err)
		return 1
	}
	return m.Run()
}

// setUp builds the webhook and the image tool, and packs the webhook twice.
func setUp(tmp string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	// Static and stripped, as `make image` builds it: the image has no libc.
	binary = filepath.Join(tmp, "harvester-network-webhook")
	if err := goBuild(ctx, root, "-trimpath", "-ldflags=-s -w", "-o", binary, "."); err != nil {
		return err
	}
	tool := filepath.Join(tmp, "image-tool")
	if err := goBuild(ctx, filepath.Join(root, "e2e", "tools", "image"), "-o", tool, "."); err != nil {
		return err
	}
	for n := range archives {
		archives[n] = filepath.Join(tmp, fmt.Sprintf("image-%d.tar", n))
		// SOURCE_DATE_EPOCH unset, as `make image` runs by default: every
		// time stamp is the epoch.
		cmd := exec.CommandContext(ctx, tool, "-binary", binary, "-ref", ref, "-out", archives[n])
		cmd.Env = slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "SOURCE_DATE_EPOCH=") })
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", tool, err, stderr.String())
		}
		digests[n] = strings.TrimSpace(string(out))
	}
	files, err = readTar(archives[0])
	return err
}

func goBuild(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", append([]string{"build"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %w\n%s", dir, err, out)
	}
	return nil
}

// readTar returns the regular files of a tar archive by name, and fails on
// a name that appears twice.
func readTar(path string) (map[string][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if _, dup := out[h.Name]; dup {
			return nil, fmt.Errorf("%s: %s twice", path, h.Name)
		}
		if out[h.Name], err = io.ReadAll(tr); err != nil {
			return nil, err
		}
	}
}

// descriptor is an OCI content descriptor.
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
}

// blob returns the blob a descriptor points at, checking its size and
// digest.
func blob(t *testing.T, d descriptor) []byte {
	t.Helper()
	b, ok := files["blobs/"+strings.Replace(d.Digest, ":", "/", 1)]
	if !ok {
		t.Fatalf("no blob %s in the archive", d.Digest)
	}
	if int64(len(b)) != d.Size {
		t.Fatalf("blob %s: %d bytes, descriptor says %d", d.Digest, len(b), d.Size)
	}
	return b
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func decode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
}

// image is what the archive's index, manifest and config say.
type image struct {
	index    descriptor // the one manifest of index.json
	manifest struct {
		MediaType string       `json:"mediaType"`
		Config    descriptor   `json:"config"`
		Layers    []descriptor `json:"layers"`
	}
	config struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Config       struct {
			User       string   `json:"User"`
			Entrypoint []string `json:"Entrypoint"`
			Cmd        []string `json:"Cmd"`
			Env        []string `json:"Env"`
		} `json:"config"`
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
}

func readImage(t *testing.T) image {
	t.Helper()
	var img image
	var index struct {
		Manifests []descriptor `json:"manifests"`
	}
	decode(t, files["index.json"], &index)
	if len(index.Manifests) != 1 {
		t.Fatalf("index.json has %d manifests, want 1", len(index.Manifests))
	}
	img.index = index.Manifests[0]
	decode(t, blob(t, img.index), &img.manifest)
	decode(t, blob(t, img.manifest.Config), &img.config)
	return img
}

// TestReproducible: two builds of one binary are the same bytes, and the
// printed digest is the manifest's.
func TestReproducible(t *testing.T) {
	second, err := os.ReadFile(archives[1])
	if err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(archives[0])
	if err != nil {
		t.Fatal(err)
	}
	if digests[0] != digests[1] || !bytes.Equal(first, second) {
		t.Errorf("two builds differ: %s (%d bytes) and %s (%d bytes)", digests[0], len(first), digests[1], len(second))
	}
	img := readImage(t)
	if !strings.HasPrefix(digests[0], "sha256:") || digests[0] != img.index.Digest {
		t.Errorf("printed %q, index.json names manifest %s", digests[0], img.index.Digest)
	}
	t.Logf("image %s: archive %d bytes", digests[0], len(first))
}

// TestLoadable checks the entries each loader reads: oci-layout and
// index.json (podman, containerd; the name from io.containerd.image.name),
// and manifest.json (docker before 25, which ignores the OCI index), every
// blob under its own digest.
func TestLoadable(t *testing.T) {
	if got := string(files["oci-layout"]); got != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q", got)
	}
	img := readImage(t)
	if img.index.MediaType != "application/vnd.oci.image.manifest.v1+json" || img.manifest.MediaType != img.index.MediaType {
		t.Errorf("manifest media type %q (index says %q)", img.manifest.MediaType, img.index.MediaType)
	}
	wantNames := map[string]string{"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": "test"}
	for k, v := range wantNames {
		if img.index.Annotations[k] != v {
			t.Errorf("index.json annotation %s = %q, want %q", k, img.index.Annotations[k], v)
		}
	}
	for name, b := range files {
		if hexDigest, ok := strings.CutPrefix(name, "blobs/sha256/"); ok && sha(b) != "sha256:"+hexDigest {
			t.Errorf("%s holds content of digest %s", name, sha(b))
		}
	}
	var docker []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	decode(t, files["manifest.json"], &docker)
	if len(docker) != 1 {
		t.Fatalf("manifest.json has %d images, want 1", len(docker))
	}
	var layers []string
	for _, l := range img.manifest.Layers {
		layers = append(layers, "blobs/"+strings.Replace(l.Digest, ":", "/", 1))
	}
	wantConfig := "blobs/" + strings.Replace(img.manifest.Config.Digest, ":", "/", 1)
	if d := docker[0]; d.Config != wantConfig || !slices.Equal(d.RepoTags, []string{ref}) || !slices.Equal(d.Layers, layers) {
		t.Errorf("manifest.json = %+v, want config %s, tags [%s], layers %v", d, wantConfig, ref, layers)
	}
}

// TestConfig: the platform of the binary, user 65532, the binary as
// entrypoint and /usr/bin on PATH (the upstream chart runs it by name).
func TestConfig(t *testing.T) {
	img := readImage(t)
	c := img.config
	if c.OS != "linux" || c.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s, want linux/%s", c.OS, c.Architecture, runtime.GOARCH)
	}
	if c.Config.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", c.Config.User)
	}
	if !slices.Equal(c.Config.Entrypoint, []string{entrypoint}) || len(c.Config.Cmd) != 0 {
		t.Errorf("entrypoint %q cmd %q, want [%s] and none", c.Config.Entrypoint, c.Config.Cmd, entrypoint)
	}
	var path string
	for _, e := range c.Config.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	if !slices.Contains(strings.Split(path, ":"), "/usr/bin") {
		t.Errorf("env %q: /usr/bin is not on PATH", c.Config.Env)
	}
	if len(img.manifest.Layers) != 1 || img.manifest.Layers[0].MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
		t.Fatalf("layers %+v, want one gzipped OCI layer", img.manifest.Layers)
	}
	if len(c.RootFS.DiffIDs) != 1 || c.RootFS.DiffIDs[0] != sha(layerTar(t, img)) {
		t.Errorf("diff_ids %v, want the uncompressed layer's digest %s", c.RootFS.DiffIDs, sha(layerTar(t, img)))
	}
}

func layerTar(t *testing.T, img image) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(blob(t, img.manifest.Layers[0])))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// entry is a file of the layer and its mode.
type entry struct {
	name string
	mode int64
}

func (e entry) String() string { return fmt.Sprintf("%s %#o", e.name, e.mode) }

// layerEntries returns the layer's files in order and their contents,
// checking that each is owned by root and stamped with the epoch.
func layerEntries(t *testing.T, img image) ([]entry, map[string][]byte) {
	t.Helper()
	var got []entry
	contents := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(layerTar(t, img)))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return got, contents
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, entry{h.Name, h.Mode})
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: owner %d:%d, time %s; want 0:0 at the epoch", h.Name, h.Uid, h.Gid, h.ModTime.UTC())
		}
		if contents[h.Name], err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
	}
}

func layerFiles(t *testing.T, img image) map[string][]byte {
	t.Helper()
	_, contents := layerEntries(t, img)
	return contents
}

// TestLayer: exactly the binary, /etc/passwd and /etc/group naming the
// user 65532, and a world-writable sticky /tmp, owned by root, stamped with
// the epoch.
func TestLayer(t *testing.T) {
	img := readImage(t)
	got, contents := layerEntries(t, img)
	want := []entry{
		{"etc/", 0o755}, {"etc/group", 0o644}, {"etc/passwd", 0o644}, {"tmp/", 0o1777},
		{"usr/", 0o755}, {"usr/bin/", 0o755}, {"usr/bin/harvester-network-webhook", 0o755},
	}
	if !slices.Equal(got, want) {
		t.Errorf("layer files\n got %v\nwant %v", got, want)
	}
	if !strings.Contains(string(contents["etc/passwd"]), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd has no user 65532:\n%s", contents["etc/passwd"])
	}
	if !strings.Contains(string(contents["etc/group"]), "nonroot:x:65532:") {
		t.Errorf("/etc/group has no group 65532:\n%s", contents["etc/group"])
	}

	// The binary runs from the layer: unpacked, it prints its usage.
	bin, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	packed := contents["usr/bin/harvester-network-webhook"]
	if !bytes.Equal(packed, bin) {
		t.Fatalf("the packed binary (%d bytes) is not the one built (%d bytes)", len(packed), len(bin))
	}
	unpacked := filepath.Join(t.TempDir(), "harvester-network-webhook")
	if err := os.WriteFile(unpacked, packed, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), unpacked, "--help").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "Usage: harvester-network-webhook") {
		t.Errorf("--help: %v\n%s", err, out)
	}
}

// TestDockerfileSameLayout: the Dockerfile, which CI cannot build (no
// engine, no base image), states the same user, entrypoint, PATH and
// /etc/passwd and /etc/group as the image.
func TestDockerfileSameLayout(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	dockerfile := string(b)
	img := readImage(t)
	entry, err := json.Marshal(img.config.Config.Entrypoint)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"\nFROM scratch\n",
		"\nUSER " + img.config.Config.User + "\n",
		"\nENTRYPOINT " + string(entry) + "\n",
		"\nENV " + strings.Join(img.config.Config.Env, " ") + "\n",
		"-o /rootfs" + entrypoint + " ",
		"chmod 1777 /rootfs/tmp",
	}
	contents := layerFiles(t, img)
	for _, f := range []string{"etc/passwd", "etc/group"} {
		want = append(want, fmt.Sprintf("printf '%s' >/rootfs/%s", strings.ReplaceAll(string(contents[f]), "\n", `\n`), f))
	}
	for _, w := range want {
		if !strings.Contains(dockerfile, w) {
			t.Errorf("the Dockerfile has no %q", w)
		}
	}
}
