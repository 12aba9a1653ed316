//go:build !windows

package confirm

import "os"

// syncDir makes a rename in dir durable (the entry, not only the file).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
