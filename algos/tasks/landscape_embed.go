package tasks

import (
	"fmt"

	tfdata "github.com/difftune/difftune/data/tfbind8"
)

// EmbeddedLandscape parses the SIX6 landscape compiled into the binary
// (package data/tfbind8), so that the tfbind8 task needs no file on disk.
// Its Path is tfdata.Name.
func EmbeddedLandscape() (*Landscape, error) {
	r, err := tfdata.Open()
	if err != nil {
		return nil, fmt.Errorf("tfbind8 landscape %s: %w", tfdata.Name, err)
	}
	defer r.Close()
	l, err := ParseLandscape(r)
	if err != nil {
		return nil, fmt.Errorf("tfbind8 landscape %s: %w", tfdata.Name, err)
	}
	l.Path = tfdata.Name
	return l, nil
}

// OpenLandscape is the landscape a caller names: the embedded SIX6 landscape
// (EmbeddedLandscape) for the empty path, the file at path otherwise
// (LoadLandscape). Callers that default to the embedded landscape pass "".
func OpenLandscape(path string) (*Landscape, error) {
	if path == "" {
		return EmbeddedLandscape()
	}
	return LoadLandscape(path)
}
