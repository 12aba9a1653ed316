package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestArtefacts packages a stand-in binary (the cross builds are what make
// dist adds) and checks what each artefact holds, and that packaging again
// gives the same bytes.
func TestArtefacts(t *testing.T) {
	if err := loadDocs(filepath.Join("..", "..")); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "agentspool")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho agentspool v1.2.3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	mtime := time.Unix(1700000000, 0).UTC()
	pack := func() (string, map[string][]byte) {
		out := t.TempDir()
		base := "agentspool_v1.2.3_linux_amd64"
		if err := writeTarGz(filepath.Join(out, base+".tar.gz"), base, "agentspool", bin, mtime); err != nil {
			t.Fatal(err)
		}
		wbase := "agentspool_v1.2.3_windows_amd64"
		if err := writeZip(filepath.Join(out, wbase+".zip"), wbase, "agentspool.exe", bin, mtime); err != nil {
			t.Fatal(err)
		}
		deb, err := writeDeb(out, "amd64", "1.2.3", bin, mtime)
		if err != nil {
			t.Fatal(err)
		}
		if deb != "agentspool_1.2.3_amd64.deb" {
			t.Errorf("deb named %s, want agentspool_1.2.3_amd64.deb", deb)
		}
		if err := writeSums(out, []string{base + ".tar.gz", wbase + ".zip", deb}); err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		for _, name := range []string{base + ".tar.gz", wbase + ".zip", deb, "SHA256SUMS"} {
			b, err := os.ReadFile(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			files[name] = b
		}
		return out, files
	}
	out, first := pack()
	_, again := pack()
	for name, b := range first {
		if !bytes.Equal(b, again[name]) {
			t.Errorf("%s: not the same bytes when packaged again", name)
		}
	}

	want := func(base, exe string) []string {
		return []string{base + "/", base + "/" + exe, base + "/README.md", base + "/coords.example.yaml", base + "/agentspool-rules.yml"}
	}
	if got := tarNames(t, first["agentspool_v1.2.3_linux_amd64.tar.gz"]); !slices.Equal(got, want("agentspool_v1.2.3_linux_amd64", "agentspool")) {
		t.Errorf("tar.gz holds %q", got)
	}
	if got := zipNames(t, first["agentspool_v1.2.3_windows_amd64.zip"]); !slices.Equal(got, want("agentspool_v1.2.3_windows_amd64", "agentspool.exe")) {
		t.Errorf("zip holds %q", got)
	}
	if !bytes.Contains(first["SHA256SUMS"], []byte("  agentspool_1.2.3_amd64.deb\n")) {
		t.Errorf("SHA256SUMS:\n%s", first["SHA256SUMS"])
	}

	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("no dpkg-deb to read the .deb")
	}
	deb := filepath.Join(out, "agentspool_1.2.3_amd64.deb")
	b, err := exec.Command("dpkg-deb", "-c", deb).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb -c: %v\n%s", err, b)
	}
	for _, f := range []string{
		`-rwxr-xr-x root/root .* \./usr/bin/agentspool`,
		`-rw-r--r-- root/root .* \./usr/share/doc/agentspool/README\.md`,
		`-rw-r--r-- root/root .* \./usr/share/doc/agentspool/examples/coords\.yaml`,
		`-rw-r--r-- root/root .* \./usr/share/doc/agentspool/examples/agentspool-rules\.yml`,
	} {
		if !regexp.MustCompile(`(?m)^` + f + `$`).Match(b) {
			t.Errorf("the .deb has no line like %s:\n%s", f, b)
		}
	}
	if strings.Contains(string(b), "systemd") {
		t.Errorf("the .deb has a systemd file (service install writes each user's own):\n%s", b)
	}
	b, err = exec.Command("dpkg-deb", "-f", deb, "Package", "Version", "Architecture", "Depends", "Suggests").CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb -f: %v\n%s", err, b)
	}
	if got, want := string(b), "Package: agentspool\nVersion: 1.2.3\nArchitecture: amd64\nSuggests: prometheus\n"; got != want {
		t.Errorf("control fields:\n%s\nwant:\n%s", got, want)
	}
}

func tarNames(t *testing.T, b []byte) []string {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

func zipNames(t *testing.T, b []byte) []string {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	return names
}
