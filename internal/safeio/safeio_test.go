//go:build unix

package safeio

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("token"), 0o600)
	os.Symlink(secret, filepath.Join(dir, "link"))
	os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "dangling"))
	syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600)
	os.Mkdir(filepath.Join(dir, "sub"), 0o700)
	os.WriteFile(filepath.Join(dir, "big"), make([]byte, 11), 0o600)
	other := filepath.Join(dir, "other")
	os.WriteFile(other, []byte("x"), 0o600)
	ownerCase := os.Getuid() == 0 && os.Chown(other, 65534, 65534) == nil
	cases := map[string]Kind{"link": KindSymlink, "dangling": KindSymlink, "fifo": KindNotRegular, "sub": KindNotRegular, "big": KindTooLarge}
	if ownerCase {
		cases["other"] = KindNotOwned
	}
	for name, want := range cases {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, err := ReadFile(filepath.Join(dir, name), OpenOptions{MaxBytes: 10, OwnerOnly: true})
			if k, ok := IsRefused(err); !ok || k != want {
				t.Errorf("%s: err %v, want kind %v", name, err, want)
			}
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Open blocked", name)
		}
	}
	if b, err := ReadFile(secret, OpenOptions{MaxBytes: 10, OwnerOnly: true}); err != nil || string(b) != "token" {
		t.Fatalf("regular file: %q, %v", b, err)
	}
}

func TestWriteFileReplacesSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("keep"), 0o600)
	p := filepath.Join(dir, "state.json")
	os.Symlink(victim, p)
	if err := WriteFile(p, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Fatalf("victim overwritten: %q", b)
	}
	if fi, _ := os.Lstat(p); !fi.Mode().IsRegular() {
		t.Fatalf("%s is %v", p, fi.Mode())
	}
	if err := WriteNoFollow(filepath.Join(dir, "side"), []byte("1"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Symlink(victim, filepath.Join(dir, "side2"))
	if err := WriteNoFollow(filepath.Join(dir, "side2"), []byte("evil"), 0o600); err == nil {
		t.Fatal("WriteNoFollow followed a symlink")
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Fatalf("victim overwritten: %q", b)
	}
}

func TestCheckPrivateDir(t *testing.T) {
	dir := t.TempDir()
	if err := MkdirPrivate(filepath.Join(dir, "ok")); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	if err := CheckPrivateDir(open); err == nil {
		t.Fatal("group/other-writable dir accepted")
	}
	if os.Getuid() == 0 {
		theirs := filepath.Join(dir, "theirs")
		os.Mkdir(theirs, 0o700)
		os.Chown(theirs, 65534, 65534)
		if err := CheckPrivateDir(theirs); err == nil {
			t.Fatal("dir of another uid accepted")
		}
	}
	os.Symlink(filepath.Join(dir, "ok"), filepath.Join(dir, "ln"))
	if err := CheckPrivateDir(filepath.Join(dir, "ln")); err == nil {
		t.Fatal("symlinked dir accepted")
	}
}

func TestNames(t *testing.T) {
	for _, n := range []string{"Agent..1", "", ".a", "a/b", "a b"} {
		if ValidAgentName(n) {
			t.Errorf("agent %q accepted", n)
		}
	}
	for _, id := range []string{"x\ny", "a]b", "a b", "", ".x"} {
		if ValidID(id) {
			t.Errorf("id %q accepted", id)
		}
	}
}
