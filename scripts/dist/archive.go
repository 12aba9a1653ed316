package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"io"
	"os"
	"time"
)

// entry is one file of an archive.
type entry struct {
	name string
	mode int64
	data []byte
}

// archiveEntries is what an archive holds, all in one folder named base
// (so that unpacking it puts nothing else beside what is there): the
// binary, then the docs.
func archiveEntries(base, exe, bin string) ([]entry, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	entries := []entry{{name: base + "/" + exe, mode: 0o755, data: data}}
	for _, d := range docs {
		entries = append(entries, entry{name: base + "/" + d.name, mode: 0o644, data: d.data})
	}
	return entries, nil
}

// writeTarGz writes the Linux archive: owned by root, every time mtime.
func writeTarGz(path, base, exe, bin string, mtime time.Time) error {
	entries, err := archiveEntries(base, exe, bin)
	if err != nil {
		return err
	}
	return writeFile(path, func(w io.Writer) error {
		gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
		if err != nil {
			return err
		}
		gz.ModTime = mtime
		tw := tar.NewWriter(gz)
		hdr := func(h *tar.Header) *tar.Header {
			h.ModTime, h.Uname, h.Gname, h.Format = mtime, "root", "root", tar.FormatPAX
			return h
		}
		if err := tw.WriteHeader(hdr(&tar.Header{Typeflag: tar.TypeDir, Name: base + "/", Mode: 0o755})); err != nil {
			return err
		}
		for _, e := range entries {
			if err := tw.WriteHeader(hdr(&tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: e.mode, Size: int64(len(e.data))})); err != nil {
				return err
			}
			if _, err := tw.Write(e.data); err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return gz.Close()
	})
}

// writeZip writes the Windows archive (Explorer's "Extract All" and
// PowerShell's Expand-Archive read it).
func writeZip(path, base, exe, bin string, mtime time.Time) error {
	entries, err := archiveEntries(base, exe, bin)
	if err != nil {
		return err
	}
	return writeFile(path, func(w io.Writer) error {
		zw := zip.NewWriter(w)
		dir := &zip.FileHeader{Name: base + "/", Modified: mtime}
		dir.SetMode(os.ModeDir | 0o755)
		if _, err := zw.CreateHeader(dir); err != nil {
			return err
		}
		for _, e := range entries {
			h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mtime}
			h.SetMode(os.FileMode(e.mode))
			f, err := zw.CreateHeader(h)
			if err != nil {
				return err
			}
			if _, err := f.Write(e.data); err != nil {
				return err
			}
		}
		return zw.Close()
	})
}

// writeFile creates path and fills it with write, removing it on failure.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}
