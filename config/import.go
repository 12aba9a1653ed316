package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// ImportedAgent is one agent of the older cursor_agent_coords.json.
type ImportedAgent struct {
	Name   string
	X, Y   int
	Window string // "" when the old file did not say
}

// oldAgent is an entry of cursor_agent_coords.json. Only the point is
// required; the title keys are the ones the older tool's forks used.
type oldAgent struct {
	Coords      []json.Number `json:"chat_input_coordinates"`
	Window      string        `json:"window"`
	WindowTitle string        `json:"window_title"`
	Title       string        `json:"title"`
}

// ParseCursorCoords reads the older cursor_agent_coords.json:
//
//	{"agents": {"Agent-1": {"chat_input_coordinates": [-1269, 496], ...}, ...}}
//
// Agents come back in the file's order. Other keys are ignored. Every
// problem (a bad name, a point that is not two integers) is reported at
// once.
func ParseCursorCoords(data []byte) ([]ImportedAgent, error) {
	var top struct {
		Agents json.RawMessage `json:"agents"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("config: import: %w", err)
	}
	if len(top.Agents) == 0 || string(top.Agents) == "null" {
		return nil, errors.New(`config: import: no "agents" object (want {"agents": {"Agent-1": {"chat_input_coordinates": [x, y]}}})`)
	}
	dec := json.NewDecoder(bytes.NewReader(top.Agents))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New(`config: import: "agents" is not an object`)
	}
	var out []ImportedAgent
	var errs []error
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("config: import: %w", err)
		}
		name, _ := t.(string)
		var a oldAgent
		if err := dec.Decode(&a); err != nil {
			errs = append(errs, fmt.Errorf("config: import: agent %q: %w", name, err))
			continue
		}
		if !ValidName(name) {
			errs = append(errs, fmt.Errorf("config: import: bad agent name %q: want ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", name))
			continue
		}
		if seen[name] {
			errs = append(errs, fmt.Errorf("config: import: agent %q twice", name))
			continue
		}
		seen[name] = true
		if len(a.Coords) != 2 {
			errs = append(errs, fmt.Errorf("config: import: agent %q: chat_input_coordinates must be [x, y], got %d numbers", name, len(a.Coords)))
			continue
		}
		var xy [2]int
		ok := true
		for i, n := range a.Coords {
			f, err := n.Float64()
			if err != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
				errs = append(errs, fmt.Errorf("config: import: agent %q: coordinate %s is not a whole number of pixels", name, n))
				ok = false
				break
			}
			xy[i] = int(f)
		}
		if !ok {
			continue
		}
		w := a.Window
		if w == "" {
			w = a.WindowTitle
		}
		if w == "" {
			w = a.Title
		}
		out = append(out, ImportedAgent{Name: name, X: xy[0], Y: xy[1], Window: w})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("config: import: the file names no agents")
	}
	return out, nil
}
