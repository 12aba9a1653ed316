// Command probe is a Go program for windows/amd64 that test/winetest's
// tests run under Wine:
//
//	probe.exe rand      prints pid=<os.Getpid()> rand=<32 hex digits from crypto/rand>
//	probe.exe ack DIR ID  writes DIR\ID.ack ("ID\n"), as an ack command would
package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	switch {
	case len(os.Args) == 2 && os.Args[1] == "rand":
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			fmt.Fprintln(os.Stderr, "probe:", err)
			os.Exit(1)
		}
		fmt.Printf("pid=%d rand=%s\n", os.Getpid(), hex.EncodeToString(b))
	case len(os.Args) == 4 && os.Args[1] == "ack":
		dir, id := os.Args[2], os.Args[3]
		tmp := filepath.Join(dir, "."+id+".tmp")
		if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "probe:", err)
			os.Exit(1)
		}
		if err := os.Rename(tmp, filepath.Join(dir, id+".ack")); err != nil {
			fmt.Fprintln(os.Stderr, "probe:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: probe.exe rand | probe.exe ack DIR ID")
		os.Exit(2)
	}
}
