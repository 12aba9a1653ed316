package config

import (
	"errors"
	"fmt"
	"strings"
)

var modifierKeys = map[string]bool{"ctrl": true, "shift": true, "alt": true, "super": true, "cmd": true}

var namedKeys = map[string]bool{
	"enter": true, "return": true, "tab": true, "escape": true,
	"space": true, "backspace": true, "delete": true,
	"home": true, "end": true, "left": true, "right": true, "up": true, "down": true,
	"slash": true, "backslash": true, "insert": true,
}

// ParseKeyCombo parses a key combo such as "ctrl+enter" into its parts,
// lower-cased: ["ctrl", "enter"]. Modifiers (ctrl, shift, alt, super, cmd)
// come first, each at most once, then exactly one key: enter, return, tab,
// escape, space, backspace, delete, a-z, 0-9 or f1-f12.
func ParseKeyCombo(s string) ([]string, error) {
	keys, err := parseKeyCombo(s)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return keys, nil
}

func parseKeyCombo(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty key combo")
	}
	parts := strings.Split(s, "+")
	keys := make([]string, 0, len(parts))
	seen := make(map[string]bool)
	for i, raw := range parts {
		k := strings.ToLower(strings.TrimSpace(raw))
		last := i == len(parts)-1
		switch {
		case k == "":
			return nil, fmt.Errorf("bad key combo %q: empty part (write keys joined by +, e.g. ctrl+enter)", s)
		case modifierKeys[k]:
			if last {
				return nil, fmt.Errorf("bad key combo %q: ends with modifier %q; a key must follow it", s, k)
			}
			if seen[k] {
				return nil, fmt.Errorf("bad key combo %q: modifier %q twice", s, k)
			}
			seen[k] = true
		case !isKey(k):
			return nil, fmt.Errorf("bad key combo %q: unknown key %q (modifiers: ctrl shift alt super cmd; keys: enter return tab escape space backspace delete insert home end left right up down slash backslash a-z 0-9 f1-f12)", s, k)
		case !last:
			return nil, fmt.Errorf("bad key combo %q: key %q must come last; only modifiers may precede it", s, k)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func isKey(k string) bool {
	if namedKeys[k] {
		return true
	}
	if len(k) == 1 && (k[0] >= 'a' && k[0] <= 'z' || k[0] >= '0' && k[0] <= '9') {
		return true
	}
	switch k {
	case "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f11", "f12":
		return true
	}
	return false
}
