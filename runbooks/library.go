package runbooks

import (
	"embed"
	"path"
	"sort"
	"strings"
)

// library holds the shipped runbooks. Each file is named after the runbook
// it defines (name: demo-approval lives in demo-approval.yaml).
//
//go:embed library/*.yaml
var library embed.FS

// ShippedRunbook is one runbook that ships inside the binary. (Go does not
// allow a type and a function both named Shipped; the function kept the name.)
type ShippedRunbook struct {
	Name string // runbook name (the file name without .yaml)
	File string // path inside the package, e.g. library/demo-approval.yaml
	Src  []byte
}

// Shipped returns every shipped runbook, sorted by name.
func Shipped() []ShippedRunbook {
	entries, err := library.ReadDir("library")
	if err != nil {
		return nil // cannot happen: the directory is embedded
	}
	var out []ShippedRunbook
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		file := path.Join("library", e.Name())
		src, err := library.ReadFile(file)
		if err != nil {
			continue
		}
		out = append(out, ShippedRunbook{Name: strings.TrimSuffix(e.Name(), ".yaml"), File: file, Src: src})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// FindShipped returns the shipped runbook with the given name.
func FindShipped(name string) (ShippedRunbook, bool) {
	for _, s := range Shipped() {
		if s.Name == name {
			return s, true
		}
	}
	return ShippedRunbook{}, false
}
