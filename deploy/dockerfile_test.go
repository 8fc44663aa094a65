package deploy

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// dockerStage is one FROM … section of a Dockerfile.
type dockerStage struct {
	from  string
	name  string
	lines []string // instructions after FROM, continuation lines joined
}

// parseDockerfile splits a Dockerfile into stages. It understands what our
// Dockerfile uses: comments, line continuations, FROM … AS name.
func parseDockerfile(path string) ([]dockerStage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		stages []dockerStage
		cur    strings.Builder
	)
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		fields := strings.Fields(line)
		if strings.EqualFold(fields[0], "FROM") {
			st := dockerStage{}
			for i := 1; i < len(fields); i++ {
				switch {
				case strings.HasPrefix(fields[i], "--"):
				case strings.EqualFold(fields[i], "AS") && i+1 < len(fields):
					st.name = fields[i+1]
					i++
				case st.from == "":
					st.from = fields[i]
				}
			}
			stages = append(stages, st)
			return
		}
		if len(stages) > 0 {
			stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, line)
		}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		if s, ok := strings.CutSuffix(l, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(l)
		flush()
	}
	flush()
	return stages, sc.Err()
}

func instruction(line string) (string, string) {
	op, rest, _ := strings.Cut(line, " ")
	return strings.ToUpper(op), strings.TrimSpace(rest)
}

// checkDockerfile returns what is wrong with the image definition.
func checkDockerfile(path string) []string {
	stages, err := parseDockerfile(path)
	if err != nil {
		return []string{err.Error()}
	}
	var ps []string
	if len(stages) < 2 {
		return []string{"not a multi-stage build: the toolchain would ship in the image"}
	}
	final := stages[len(stages)-1]
	user := ""
	copiesBinary := false
	for _, l := range final.lines {
		op, rest := instruction(l)
		switch op {
		case "USER":
			user = rest
		case "COPY":
			if strings.Contains(rest, "--from=") && strings.Contains(rest, "runbook") {
				copiesBinary = true
			}
		case "RUN":
			// distroless has no shell; a RUN here means a base with one.
			ps = append(ps, "final stage runs a command ("+rest+"): keep it a plain copy of the binary")
		case "ADD":
			ps = append(ps, "ADD in the final stage: use COPY --from of a build stage")
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	switch uid {
	case "":
		ps = append(ps, "final stage sets no USER: the container would run as root")
	case "0", "root":
		ps = append(ps, "final stage runs as root (USER "+user+")")
	}
	if !copiesBinary {
		ps = append(ps, "final stage does not COPY --from the build stage's runbook binary")
	}
	static := false
	for _, st := range stages[:len(stages)-1] {
		for _, l := range st.lines {
			if op, rest := instruction(l); op == "RUN" && strings.Contains(rest, "CGO_ENABLED=0") && strings.Contains(rest, "go build") {
				static = true
			}
		}
	}
	if !static {
		ps = append(ps, "no `CGO_ENABLED=0 go build` in a build stage: the binary would need libc")
	}
	return ps
}

func TestDockerfile(t *testing.T) {
	for _, p := range checkDockerfile("Dockerfile") {
		t.Error("Dockerfile:", p)
	}
}

func TestDockerfile_BrokenCopyFails(t *testing.T) {
	ps := checkDockerfile("testdata/broken/Dockerfile")
	want := []string{"runs as root", "CGO_ENABLED=0"}
	for _, w := range want {
		if !anyContains(ps, w) {
			t.Errorf("broken Dockerfile: no problem mentions %q; got %q", w, ps)
		}
	}
}

func anyContains(list []string, s string) bool {
	for _, x := range list {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}
