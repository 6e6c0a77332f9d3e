package main

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations naming the image in index.json: containerd (kind load
// image-archive, ctr import) reads the first, podman the second.
const (
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
)

// dockerManifest is one entry of manifest.json, the index of `docker save`
// archives; Docker before 25 loads only archives that have it.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// WriteArchive writes img as an OCI image layout in a tar archive, with a
// manifest.json beside it as Docker 25's `docker save` writes, so that
// every docker, podman and containerd load accepts it. Entries are in a
// fixed order with fixed times: the same image gives the same bytes. It
// returns the manifest's digest.
func WriteArchive(w io.Writer, img v1.Image, ref name.Tag) (v1.Hash, error) {
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	manifest, err := img.Manifest()
	if err != nil {
		return v1.Hash{}, err
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return v1.Hash{}, err
	}
	index, err := json.Marshal(v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType: types.OCIManifestSchema1,
			Digest:    digest,
			Size:      int64(len(rawManifest)),
			Annotations: map[string]string{
				annotationImageName: ref.Name(),
				annotationRefName:   ref.TagStr(),
			},
		}},
	})
	if err != nil {
		return v1.Hash{}, err
	}
	docker := dockerManifest{Config: blobPath(manifest.Config.Digest), RepoTags: []string{ref.Name()}}
	for _, l := range manifest.Layers {
		docker.Layers = append(docker.Layers, blobPath(l.Digest))
	}
	dockerIndex, err := json.Marshal([]dockerManifest{docker})
	if err != nil {
		return v1.Hash{}, err
	}

	tw := tar.NewWriter(w)
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
			return v1.Hash{}, err
		}
	}
	if err := writeFile(tw, blobPath(manifest.Config.Digest), rawConfig); err != nil {
		return v1.Hash{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, err
	}
	for _, l := range layers {
		if err := writeLayer(tw, l); err != nil {
			return v1.Hash{}, err
		}
	}
	for _, f := range []struct {
		name    string
		content []byte
	}{
		{blobPath(digest), rawManifest},
		{"index.json", index},
		{"manifest.json", dockerIndex},
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
	} {
		if err := writeFile(tw, f.name, f.content); err != nil {
			return v1.Hash{}, err
		}
	}
	return digest, tw.Close()
}

func blobPath(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

func writeFile(tw *tar.Writer, name string, content []byte) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	_, err := tw.Write(content)
	return err
}

func writeLayer(tw *tar.Writer, l v1.Layer) error {
	digest, err := l.Digest()
	if err != nil {
		return err
	}
	size, err := l.Size()
	if err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: blobPath(digest), Mode: 0o644, Size: size, ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, rc); err != nil {
		return fmt.Errorf("layer %s: %w", digest, err)
	}
	return nil
}

// writeArchiveFile writes the archive to path through a temporary file, so
// that a failed build leaves no half-written archive behind.
func writeArchiveFile(path string, img v1.Image, ref name.Tag) (v1.Hash, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".image-*.tar")
	if err != nil {
		return v1.Hash{}, err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	digest, err := WriteArchive(tmp, img, ref)
	if err == nil {
		err = tmp.Close()
	}
	if err != nil {
		_ = tmp.Close()
		return v1.Hash{}, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return v1.Hash{}, err
	}
	return digest, os.Rename(tmp.Name(), path)
}
