package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/keyresponse/runbook/runbooks"
)

// loadedRunbook is a validated runbook with the source it came from.
type loadedRunbook struct {
	Runbook *runbooks.Runbook
	File    string
	Hash    string
}

// loadRunbook finds a runbook by path (anything with a / or .yaml) or by
// name among the runbook directories and the shipped library, then validates
// it against the action catalog. Any problem is reported as file:line:col.
func (g *globals) loadRunbook(ref string) (*loadedRunbook, error) {
	file, src, err := g.findRunbook(ref)
	if err != nil {
		return nil, err
	}
	return parseRunbook(file, src)
}

// parseRunbook validates src against the action catalog and hashes it: the
// one place a runbook's content hash is computed (exec's statement, the
// trigger consumer and the worker's registered runbooks all agree on it).
func parseRunbook(file string, src []byte) (*loadedRunbook, error) {
	if probs := runbooks.Validate(file, src, catalog()); len(probs) > 0 {
		return nil, runbooks.Problems(probs)
	}
	rb, _, err := runbooks.Parse(file, src)
	if err != nil {
		return nil, err
	}
	return &loadedRunbook{Runbook: rb, File: file, Hash: runbooks.Hash(src)}, nil
}

func (g *globals) findRunbook(ref string) (string, []byte, error) {
	if strings.ContainsRune(ref, os.PathSeparator) || strings.HasSuffix(ref, ".yaml") || strings.HasSuffix(ref, ".yml") {
		src, err := runbooks.ReadFile(ref)
		if err != nil {
			return "", nil, fmt.Errorf("runbook file: %w", err)
		}
		return ref, src, nil
	}
	for _, dir := range g.runbookDirs() {
		for _, ext := range []string{".yaml", ".yml"} {
			p := filepath.Join(dir, ref+ext)
			src, err := runbooks.ReadFile(p)
			if err == nil {
				return p, src, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return "", nil, fmt.Errorf("runbook file %s: %w", p, err)
			}
		}
	}
	if s, ok := runbooks.FindShipped(ref); ok {
		return "runbooks/" + s.File, s.Src, nil
	}
	return "", nil, fmt.Errorf("no runbook named %q (shipped: %s; add directories with --runbooks)", ref, strings.Join(shippedNames(), ", "))
}

func shippedNames() []string {
	var names []string
	for _, s := range runbooks.Shipped() {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	return names
}

// allRunbooks loads every runbook the engine knows (directories first, so a
// local file of the same name overrides a shipped one).
func (g *globals) allRunbooks() ([]*loadedRunbook, error) {
	seen := map[string]bool{}
	var out []*loadedRunbook
	var refs []string
	for _, dir := range g.runbookDirs() {
		matches, _ := filepath.Glob(filepath.Join(dir, "*.y*ml"))
		refs = append(refs, matches...)
	}
	refs = append(refs, shippedNames()...)
	for _, ref := range refs {
		lr, err := g.loadRunbook(ref)
		if err != nil {
			return nil, err
		}
		if seen[lr.Runbook.Name] {
			continue
		}
		seen[lr.Runbook.Name] = true
		out = append(out, lr)
	}
	return out, nil
}
