package sms

import (
	"fmt"
	"strings"
	"text/template"
	"unicode/utf8"
)

// Reply says which answer a text asks for.
type Reply string

const (
	ReplyAck     Reply = "ack"     // "reply ACK <code>"
	ReplyApprove Reply = "approve" // "reply APPROVE <code> or DENY <code>"
	ReplyNone    Reply = "none"    // information only
)

// MessageData is what a template sees.
type MessageData struct {
	IncidentID string
	Bot        string
	Step       string
	Severity   string
	// Message is what was done (the runbook's templated text).
	Message string
	Code    string
	Reply   string // ack, approve, none
	Person  string // recipient's name
	Level   int    // 0 for the first person paged, 1 for the next, …
}

// DefaultTemplate carries incident id, bot, what was done and the code.
const DefaultTemplate = `[{{upper .Severity}}] incident {{.IncidentID}}{{if .Bot}} bot {{.Bot}}{{end}}: {{.Message}}` +
	`{{if eq .Reply "approve"}} Reply APPROVE {{.Code}} to approve or DENY {{.Code}} to refuse.` +
	`{{else if eq .Reply "ack"}} Reply ACK {{.Code}} to acknowledge.{{end}}` +
	`{{if gt .Level 0}} (escalated: level {{inc .Level}}){{end}}`

// Template renders message bodies.
type Template struct{ t *template.Template }

// ParseTemplate parses text (empty: DefaultTemplate).
func ParseTemplate(text string) (*Template, error) {
	if strings.TrimSpace(text) == "" {
		text = DefaultTemplate
	}
	t, err := template.New("sms").Option("missingkey=error").Funcs(template.FuncMap{
		"upper": strings.ToUpper,
		"inc":   func(i int) int { return i + 1 },
	}).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("sms template: %w", err)
	}
	return &Template{t: t}, nil
}

// Render fills the template. A body over Twilio's 1,600 characters is cut
// in the Message part, never in the code or the reply instructions.
func (t *Template) Render(d MessageData) (string, error) {
	out, err := t.exec(d)
	if err != nil {
		return "", err
	}
	if over := utf8.RuneCountInString(out) - MaxBody; over > 0 {
		r := []rune(d.Message)
		if over+1 > len(r) {
			return "", fmt.Errorf("sms template: body is %d characters over the limit even without the message", over-len(r))
		}
		d.Message = string(r[:len(r)-over-1]) + "…"
		return t.exec(d)
	}
	return out, nil
}

func (t *Template) exec(d MessageData) (string, error) {
	var b strings.Builder
	if err := t.t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("sms template: %w", err)
	}
	return strings.TrimSpace(b.String()), nil
}
