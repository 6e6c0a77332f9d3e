// Command image packs one statically linked binary into a reproducible OCI
// image archive, without a container engine: `make image` runs it on the
// webhook. The image has one layer (the binary in /usr/bin, /etc/passwd
// and /etc/group with the user 65532, /tmp), runs as 65532:65532 with the
// binary as entrypoint, and every time stamp is SOURCE_DATE_EPOCH (default
// 0), so two builds of the same binary have one digest. It prints the
// manifest digest.
//
// It is a module of its own so that go-containerregistry never reaches the
// webhook's go.mod.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run() error {
	var opts Options
	var ref, out string
	flag.StringVar(&opts.Binary, "binary", "", "statically linked Linux executable to pack (required)")
	flag.StringVar(&opts.Name, "name", "", "its file name in /usr/bin and the entrypoint (default: the binary's file name)")
	flag.StringVar(&ref, "ref", "", "repository:tag the archive names the image by (required)")
	flag.StringVar(&out, "out", "", "OCI image archive to write (required)")
	flag.Parse()
	if opts.Binary == "" || ref == "" || out == "" || flag.NArg() > 0 {
		flag.Usage()
		return fmt.Errorf("-binary, -ref and -out are required")
	}
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return err
	}
	if opts.Created, err = sourceDateEpoch(); err != nil {
		return err
	}
	img, err := Build(opts)
	if err != nil {
		return err
	}
	digest, err := writeArchiveFile(out, img, tag)
	if err != nil {
		return err
	}
	fmt.Println(digest)
	return nil
}

// sourceDateEpoch reads SOURCE_DATE_EPOCH, the reproducible-builds
// convention for "the time every output is stamped with".
func sourceDateEpoch() (time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	s, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", v, err)
	}
	return time.Unix(s, 0).UTC(), nil
}
