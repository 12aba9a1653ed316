package config

import "testing"

// The table's invariants: settings.written has a bit per row, and a name
// is one key wherever it may be written.
func TestSchemaTable(t *testing.T) {
	if len(directives) > 64 {
		t.Fatalf("%d directives: settings.written holds 64", len(directives))
	}
	for i, a := range directives {
		for _, b := range directives[:i] {
			if a.name == b.name && a.in&b.in != 0 {
				t.Errorf("key %s twice in one place", a.name)
			}
		}
		if a.read == nil && !a.section {
			t.Errorf("key %s: no read", a.name)
		}
	}
}
