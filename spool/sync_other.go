//go:build !windows

package spool

import "os"

// syncDir makes a rename into dir durable: without it a crash can lose the
// directory entry even though the file's data was fsynced.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
