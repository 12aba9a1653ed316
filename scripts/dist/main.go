// Command dist makes agentspool's release artefacts (`make dist`): for
// linux/amd64, linux/arm64 and windows/amd64 an archive with the binary,
// the README, the example coords.yaml and the Prometheus rules (tar.gz for
// Linux, zip for Windows), a Debian package for each Linux architecture,
// and SHA256SUMS over them all.
//
// It is a module of its own, so that nfpm (which writes the .deb) and its
// dependencies are pinned here, by this go.mod and go.sum, and never enter
// the daemon's module graph: what the product is built from stays what its
// own go.mod says. The archives are the Go standard library's.
//
// Every file in the artefacts carries the time of the commit
// (SOURCE_DATE_EPOCH when set), and the binaries are built with -trimpath,
// so the same commit gives the same bytes and the same SHA256SUMS.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// target is one platform a release is built for.
type target struct{ goos, goarch string }

var targets = []target{{"linux", "amd64"}, {"linux", "arm64"}, {"windows", "amd64"}}

func (t target) exe() string {
	if t.goos == "windows" {
		return "agentspool.exe"
	}
	return "agentspool"
}

// doc is a file of the source tree that goes into every artefact.
type doc struct {
	src  string // in the source tree
	name string // in the archives
	deb  string // in the Debian package
	path string // its path here (run)
	data []byte
}

// The example config is renamed in the archives: a coords.yaml beside the
// binary would be the config that `agentspool run` in that folder loads by
// default, example points and all.
var docs = []doc{
	{src: "README.md", name: "README.md", deb: "/usr/share/doc/agentspool/README.md"},
	{src: "coords.yaml", name: "coords.example.yaml", deb: "/usr/share/doc/agentspool/examples/coords.yaml"},
	{src: "contrib/prometheus/agentspool-rules.yml", name: "agentspool-rules.yml", deb: "/usr/share/doc/agentspool/examples/agentspool-rules.yml"},
}

func main() {
	root := flag.String("root", "", "the agentspool source tree (required)")
	out := flag.String("out", "", "the `DIR` the artefacts are written to (default ROOT/dist)")
	version := flag.String("version", "", "the version, as git describe --tags --always --dirty prints it (required)")
	flag.StringVar(&maintainer, "maintainer", maintainer, "the Debian package's `Maintainer`: NAME <EMAIL>")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: dist -root DIR -version VERSION [-out DIR]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *root == "" || *version == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if *out == "" {
		*out = filepath.Join(*root, "dist")
	}
	if err := run(*root, *out, *version); err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(1)
	}
}

func run(root, out, version string) error {
	debv, err := debVersion(version)
	if err != nil {
		return err
	}
	mtime, err := sourceDate(root)
	if err != nil {
		return err
	}
	if err := loadDocs(root); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "agentspool-dist-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	var made []string
	for _, t := range targets {
		bin := filepath.Join(work, t.goos+"_"+t.goarch, t.exe())
		if err := build(root, t, version, bin); err != nil {
			return err
		}
		base := fmt.Sprintf("agentspool_%s_%s_%s", version, t.goos, t.goarch)
		var name string
		if t.goos == "windows" {
			name = base + ".zip"
			err = writeZip(filepath.Join(out, name), base, t.exe(), bin, mtime)
		} else {
			name = base + ".tar.gz"
			err = writeTarGz(filepath.Join(out, name), base, t.exe(), bin, mtime)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		made = append(made, name)
		if t.goos == "linux" {
			name, err := writeDeb(out, t.goarch, debv, bin, mtime)
			if err != nil {
				return fmt.Errorf("deb %s: %w", t.goarch, err)
			}
			made = append(made, name)
		}
	}
	if err := writeSums(out, made); err != nil {
		return err
	}
	for _, name := range append(made, "SHA256SUMS") {
		st, err := os.Stat(filepath.Join(out, name))
		if err != nil {
			return err
		}
		fmt.Printf("%10d  %s\n", st.Size(), filepath.Join(out, name))
	}
	return nil
}

// loadDocs reads the docs from the source tree at root.
func loadDocs(root string) error {
	for i := range docs {
		docs[i].path = filepath.Join(root, docs[i].src)
		data, err := os.ReadFile(docs[i].path)
		if err != nil {
			return err
		}
		docs[i].data = data
	}
	return nil
}

// sourceDate is the time every file in the artefacts carries:
// SOURCE_DATE_EPOCH (reproducible-builds.org) when set, else the commit's.
func sourceDate(root string) (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		b, err := exec.Command("git", "-C", root, "log", "-1", "--format=%ct").Output()
		if err != nil {
			return time.Time{}, fmt.Errorf("the commit's time (git log): %w; or set SOURCE_DATE_EPOCH", err)
		}
		s = strings.TrimSpace(string(b))
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: not seconds since 1970", s)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// build builds agentspool for t into bin: pure Go (CGO_ENABLED=0, as
// scripts/crossbuild.sh checks), the version as `make build` sets it,
// without the symbol table and DWARF (a panic's stack trace stays), and
// without the build machine's paths.
func build(root string, t target, version, bin string) error {
	goBin := os.Getenv("GO")
	if goBin == "" {
		goBin = "go"
	}
	fmt.Printf("build %s/%s\n", t.goos, t.goarch)
	cmd := exec.Command(goBin, "build", "-trimpath",
		"-ldflags", "-s -w -X main.version="+version,
		"-o", bin, "./cmd/agentspool")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+t.goos, "GOARCH="+t.goarch)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build for %s/%s: %w", t.goos, t.goarch, err)
	}
	return nil
}

// writeSums writes SHA256SUMS for names in out, in the format
// `sha256sum -c` reads.
func writeSums(out string, names []string) error {
	names = slices.Sorted(slices.Values(names))
	var b strings.Builder
	for _, name := range names {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), name)
	}
	return os.WriteFile(filepath.Join(out, "SHA256SUMS"), []byte(b.String()), 0o644)
}
